// Command uds inspects and uses Unix domain sockets with the uds library's
// rules: exact abstract names, stale socket files told apart from live ones,
// a live socket never removed, and the processes behind every socket shown.
//
// Usage:
//
//	uds ls [-l] [--path PATH] [--name ADDR] [--pid PID] [--state STATE] [--type TYPE] [--json]
//	uds who [--json] ADDR
//	uds lock [--file] [--wait DURATION] NAME [--] CMD [ARGS...]
//	uds probe [--json] [--type stream|seqpacket|datagram] ADDR
//	uds activate -l ADDR [--fdname NAME] [--type TYPE] [-l ADDR ...] [--keep] [--] CMD [ARGS...]
//	uds listen [--type TYPE] [--split line|read|none] [--mode MODE] [--owner USER] [--group GROUP]
//	           [--keep] [--once|--keep-open] [--exec CMD [--fork]] [--idle-timeout DURATION] ADDR
//	uds dial [--type TYPE] [--split line|read|none] [--timeout DURATION] [--wait] [--bind ADDR]
//	         [--idle-timeout DURATION] ADDR
//	uds help [COMMAND]
//	uds --version
//
// The subcommands:
//
//	ls      list the Unix sockets of the network namespace with the
//	        processes holding them, like "ss -xp", with filters.
//	who     show the processes serving ADDR (PID, command, descriptor,
//	        socket inode), found by the socket file's inode for a path;
//	        sockets shadowed by a later listener on the same path are marked.
//	lock    run a command while holding a single-instance lock on an
//	        abstract name (or a file, with --file), like flock(1).
//	probe   tell whether a process serves ADDR: live (with its PID), stale,
//	        missing or not a socket. Changes nothing. An abstract name is
//	        looked for with every socket type.
//	activate open sockets (reclaiming stale socket files) and run a command
//	        with them by systemd's socket activation protocol, like
//	        systemd-socket-activate; the socket files are removed when it
//	        exits.
//	listen  listen on ADDR (reclaiming a stale socket file, refusing a live
//	        one) and bridge connections to stdin and stdout, like "nc -lU".
//	dial    connect to ADDR, optionally waiting for the listener to appear,
//	        and bridge the connection to stdin and stdout, like "nc -U".
//
// Addresses are written in the uds text form, read by uds.ParseAddr:
// "/path" or "./rel/path" for a socket file, "@name" for a Linux abstract name
// (other bytes written \xNN, as in "@app\x00"), and gRPC's "unix:PATH",
// "unix:///PATH" and "unix-abstract:NAME".
//
// Exit status:
//
//	0    success; for probe: the address is live; for who: a socket
//	     serves ADDR
//	1    probe: a stale socket file (no process holds it); who: nothing
//	     serves ADDR
//	2    probe: nothing at the address
//	3    probe: the path is not a socket
//	64   usage error: unknown command or option, invalid address
//	69   the operation failed: connection refused, permission denied,
//	     an I/O error on the connection, no sock_diag (not Linux), ...
//	73   listen, activate: the address is in use (the message names the
//	     process holding it), or the path is not a socket
//	75   lock: the lock is held by another process (the message names it)
//	126  lock, activate: the command could not be executed
//	127  lock, activate: the command was not found
//	130  listen, dial, lock, activate: ended by SIGINT (128+2)
//	143  listen, dial, lock, activate: ended by SIGTERM (128+15)
//
// Once its command ran, lock, activate and listen --exec (one command, with
// --once) exit with the command's exit status (128+N if signal N killed
// it).
//
// "uds help COMMAND" and "uds COMMAND --help" describe each command with
// examples.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/udskit/uds"
)

// Exit codes shared by the subcommands (sysexits.h names). probe's own codes
// 0-3 are in probe.go.
const (
	exitOK          = 0
	exitUsage       = 64 // EX_USAGE
	exitUnavailable = 69 // EX_UNAVAILABLE
	exitCantCreate  = 73 // EX_CANTCREAT
)

// stdio is where a command reads its input and writes its output.
type stdio struct {
	in  io.Reader // nil means no input
	out io.Writer
	err io.Writer
}

// command is one subcommand. To add a subcommand, write a *command in its own
// file and add it to commands.
type command struct {
	name    string
	summary string // one line for the overview
	usage   string // the full help text (synopsis, description, options, exit status)
	// examples are shown in the command's help and in the overview, one
	// command line (optionally followed by "  # comment") each.
	examples []string
	run      func(ctx context.Context, c *command, st *stdio, args []string) int
}

// commands is the dispatch table, in the order the overview lists them.
var commands = []*command{
	lsCmd,
	whoCmd,
	lockCmd,
	probeCmd,
	activateCmd,
	listenCmd,
	dialCmd,
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		// A second signal gets the default action: a stuck shutdown can
		// still be interrupted.
		signal.Stop(sigs)
		cancel(signalError{s})
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// signalError is the cause of the context's cancellation when a signal
// arrives.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "received " + e.sig.String() }

// signalExit returns the exit code for a command ended because ctx was
// cancelled: 128 plus the signal's number, as a shell reports it.
func signalExit(ctx context.Context) int {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		if s, ok := se.sig.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 128 + int(syscall.SIGTERM)
}

// run runs the command line args (without the program name) and returns the
// exit code. Cancelling ctx (main does on SIGINT and SIGTERM) stops a running
// listen or dial.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	st := &stdio{in: stdin, out: stdout, err: stderr}
	if len(args) == 0 {
		printOverview(stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help":
		printOverview(stdout)
		return exitOK
	case "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "help":
		if len(args) == 1 {
			printOverview(stdout)
			return exitOK
		}
		c := lookup(args[1])
		if c == nil || len(args) > 2 {
			fmt.Fprintf(stderr, "uds help: unknown command %q\n\n", strings.Join(args[1:], " "))
			printOverview(stderr)
			return exitUsage
		}
		printUsage(stdout, c)
		return exitOK
	default:
		c := lookup(name)
		if c == nil {
			if strings.HasPrefix(name, "-") {
				fmt.Fprintf(stderr, "uds: unknown option %s (options go after the command)\n\n", name)
			} else {
				fmt.Fprintf(stderr, "uds: unknown command %q\n\n", name)
			}
			printOverview(stderr)
			return exitUsage
		}
		return c.run(ctx, c, st, args[1:])
	}
}

func versionLine() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("uds version %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

const addrHelp = `Addresses:
  /run/app.sock, ./app.sock   a socket file (a relative path that starts
                              with "@" is written ./@name)
  @name                       a Linux abstract name; bytes that are not
                              printable, and "\", are written \xNN (@app\x00)
  unix:PATH, unix:///PATH     gRPC's form of a path
  unix-abstract:NAME          gRPC's form of an abstract name (raw bytes)
  (other URLs, such as tcp://host:1, are refused; a relative path that
  looks like one is written ./tcp://host:1)
`

const exitHelp = `Exit status:
  0    success (probe: live; who: a socket serves ADDR)
  1    probe: a stale socket file; who: nothing serves ADDR
  2    probe: nothing at the address
  3    probe: not a socket
  64   usage error
  69   failure: connection refused, permission denied, I/O error, ...
  73   listen, activate: address in use (the message names the holder),
       not a socket
  75   lock: held by another process (the message names the holder)
  126  lock, activate: CMD cannot be executed; 127: CMD not found
  130  ended by SIGINT; 143 ended by SIGTERM
  lock, activate and listen --exec (without --fork, with --once) exit with
  CMD's exit status once CMD ran
`

func printOverview(w io.Writer) {
	fmt.Fprint(w, "Usage: uds COMMAND [OPTIONS] [ADDR]\n\n")
	fmt.Fprint(w, "Unix domain socket tool: list sockets and the processes serving them, hold\nsingle-instance locks, probe, serve and connect to sockets by path or\nabstract name.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n\n", "help", "show a command's options and examples: uds help COMMAND")
	fmt.Fprint(w, addrHelp, "\n", exitHelp, "\nExamples:\n")
	for _, c := range commands {
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprint(w, "\nRun 'uds COMMAND --help' for a command's options; 'uds --version' for the version.\n")
}

func printUsage(w io.Writer, c *command) {
	fmt.Fprint(w, c.usage)
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprint(w, "\n", addrHelp)
}

// newFlagSet returns a FlagSet that reports errors to the caller instead of
// printing them or exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("uds "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses args with fs, allowing options after the operands (so
// "uds listen /tmp/s --keep-open" works); "--" ends the options. It checks
// that there are between min and max operands. If it returns ok false, the
// command must return code: 0 after --help, 64 after a usage error (both
// already reported).
func parseArgs(st *stdio, c *command, fs *flag.FlagSet, args []string, min, max int) (operands []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(st.out, c)
				return nil, exitOK, false
			}
			return nil, usageError(st, c, "%s", flagMessage(err)), false
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			operands = append(operands, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
	switch {
	case len(operands) < min:
		return nil, usageError(st, c, "missing ADDR"), false
	case len(operands) > max:
		return nil, usageError(st, c, "too many arguments: %s", strings.Join(operands[max:], " ")), false
	}
	return operands, exitOK, true
}

// flagMessage rewords the flag package's errors for the "--name" spelling
// the help uses (the package accepts both -name and --name).
func flagMessage(err error) string {
	return strings.NewReplacer(
		"flag provided but not defined: -", "unknown option --",
		"for flag -", "for option --",
		"flag needs an argument: -", "option needs an argument: --",
	).Replace(err.Error())
}

// usageError reports a usage error for c and returns 64.
func usageError(st *stdio, c *command, format string, args ...any) int {
	fmt.Fprintf(st.err, "uds %s: %s\n", c.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(st.err, "Run 'uds %s --help' for usage.\n", c.name)
	return exitUsage
}

// parseAddr parses an address operand or option; what names it in errors.
// A URL of another scheme ("tcp://host:1") is refused rather than read as a
// relative path; such a path is written "./tcp://host:1".
func parseAddr(st *stdio, c *command, what, s string) (uds.Addr, int, bool) {
	if scheme, ok := urlScheme(s); ok {
		return uds.Addr{}, usageError(st, c, "%s: %s is a %s URL, not a Unix socket address (a relative path is written ./%s)", what, s, scheme, s), false
	}
	a, err := uds.ParseAddr(s)
	if err != nil {
		return uds.Addr{}, usageError(st, c, "%s: %v", what, err), false
	}
	if a.Kind() == uds.KindUnnamed {
		return uds.Addr{}, usageError(st, c, "%s: %s names no socket", what, s), false
	}
	return a, exitOK, true
}

// urlScheme returns the scheme of s if s starts like a URL ("scheme://")
// whose scheme is not one of the uds text forms (unix:, unix-abstract:).
func urlScheme(s string) (string, bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return "", false
	}
	scheme := s[:i]
	for j, r := range scheme {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !letter && (j == 0 || !('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", false
		}
	}
	switch strings.ToLower(scheme) {
	case "unix", "unix-abstract":
		return "", false
	}
	return scheme, true
}

// parseTarget parses the ADDR operand of a command that needs a socket to
// act on: an autobind address names none, and purpose (" to probe", or "")
// says what it was wanted for.
func parseTarget(st *stdio, c *command, s, purpose string) (uds.Addr, int, bool) {
	a, code, ok := parseAddr(st, c, "ADDR", s)
	if !ok {
		return uds.Addr{}, code, false
	}
	if a.Kind() == uds.KindAutobind {
		return uds.Addr{}, usageError(st, c, "ADDR: %s names no socket%s", s, purpose), false
	}
	return a, exitOK, true
}

// describe writes err for a person: a *net.OpError from the library as
// "op ADDR: cause" (without the "unix" network name), anything else as is.
func describe(err error) string {
	if oe, ok := err.(*net.OpError); ok {
		s := oe.Op
		if oe.Addr != nil {
			s += " " + oe.Addr.String()
		}
		if oe.Source != nil {
			s += " from " + oe.Source.String()
		}
		if oe.Err != nil {
			s += ": " + oe.Err.Error()
		}
		return s
	}
	return err.Error()
}

// fail reports err and returns code; ErrInvalidAddr is a usage error
// whatever code says.
func fail(st *stdio, err error, code int) int {
	fmt.Fprintf(st.err, "uds: %s\n", describe(err))
	if errors.Is(err, uds.ErrInvalidAddr) {
		return exitUsage
	}
	return code
}
