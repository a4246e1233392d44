package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/udskit/uds"
)

var activateCmd = &command{
	name:    "activate",
	summary: "open sockets and run a command with them, by systemd's protocol",
	usage: `Usage: uds activate -l ADDR [--fdname NAME] [--type TYPE] [-l ADDR ...]
                    [--mode MODE] [--owner USER] [--group GROUP] [--keep]
                    [--] CMD [ARGS...]

Open the sockets ADDR with the uds library's rules (a stale socket file is
replaced, a live socket or anything that is not a socket is never
touched), then run CMD with them as systemd's socket activation passes
them, like 'systemd-socket-activate': descriptors 3, 4, ... in the order
of the -l options, LISTEN_FDS=n, LISTEN_PID=CMD's own PID and, if any
socket is named, LISTEN_FDNAMES=name:name:... ("unknown" for a socket
without --fdname, what sd_listen_fds_with_names reports when no name is
passed; with no --fdname at all LISTEN_FDNAMES is not set, as
systemd-socket-activate does). Inherited LISTEN_* variables are replaced.
CMD reads them with sd_listen_fds(3), the Go package
github.com/udskit/uds/activation (activation.Get), or by hand.

Unlike systemd-socket-activate, CMD starts at once, not on the first
connection; clients that connect before it accepts wait in the backlog.
uds stays CMD's parent: SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are
passed on to CMD, uds exits with CMD's exit status (128+N if signal N
killed it), and then removes the socket files it created, unless --keep.

Options (those about one socket apply to the -l before them; given
before the first -l, --type, --mode, --owner and --group apply to every
-l that does not set its own):
  -l, --listen ADDR  open a socket on ADDR; repeat for more sockets
  --fdname NAME      the name of the socket of the -l before it, for
                     LISTEN_FDNAMES: printable ASCII without ":", at most
                     255 bytes
  --type TYPE        stream (the default: a listening socket), seqpacket
                     (a listening socket) or datagram (a bound socket)
  --mode MODE        permissions of a socket file, in octal (0660)
  --owner USER       owner of a socket file: a name or a numeric ID
  --group GROUP      group of a socket file: a name or a numeric ID
  --keep             leave the socket files in place when CMD exits
  Options come before CMD; use "--" before CMD if it starts with "-" or
  has a -h or --help of its own (without "--", that shows this help).

Exit status:
  CMD's exit status, once it ran (128+N if signal N killed it)
  64   usage error
  69   a socket could not be opened (permission denied, ...)
  73   an address is in use (the message names the process holding it),
       or a path is not a socket
  126  CMD could not be executed; 127 CMD was not found
  130  SIGINT, 143 SIGTERM before CMD started
`,
	examples: []string{
		"uds activate -l /run/app.sock -- ./server     # LISTEN_FDS=1, descriptor 3",
		"uds activate -l @app --fdname api -l /tmp/m.sock --fdname metrics -- ./server",
		"uds activate --type datagram -l /run/log.sock --mode 0622 -- ./logd",
	},
	run: runActivate,
}

// activateExecArg is the hidden first argument with which uds runs as the
// trampoline between fork and CMD: os/exec cannot put the child's own PID in
// its environment, so uds starts itself with this argument, and the child
// sets LISTEN_PID to its PID and executes CMD in its place (the sockets, not
// close-on-exec, stay open). systemd-socket-activate does the same between
// fork and execve.
const activateExecArg = "__uds-activate-exec"

func init() {
	// In init, not main, so that a test binary that runs main only when
	// told to becomes the trampoline all the same.
	if len(os.Args) > 1 && os.Args[1] == activateExecArg {
		os.Exit(activateExec(os.Args[2:], os.Stderr))
	}
}

// activateExec is the trampoline: args are CMD's resolved path and its
// argv. It returns only if CMD cannot be executed.
func activateExec(args []string, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "uds: "+activateExecArg+" is uds activate's own")
		return exitUsage
	}
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	err := syscall.Exec(args[0], args[1:], os.Environ())
	fmt.Fprintf(stderr, "uds activate: %s: %v\n", args[1], err)
	if errors.Is(err, syscall.ENOENT) {
		return exitCmdNotFound
	}
	return exitCannotExec
}

// activateSocket is one -l option with the options that apply to it.
type activateSocket struct {
	addr  uds.Addr
	text  string // as given
	name  string // --fdname, "" if none
	typ   *uds.SocketType
	mode  *modeFlag
	owner *string
	group *string
}

// activateOptions is the parsed command line of activate.
type activateOptions struct {
	socks []*activateSocket
	// Defaults from options given before the first -l.
	typ          uds.SocketType
	mode         modeFlag
	owner, group string
	keep         bool
}

func runActivate(ctx context.Context, c *command, st *stdio, args []string) int {
	// --help anywhere before "--" asks for help (so "uds activate ./srv
	// --help" does): CMD's own --help goes after "--".
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			printUsage(st.out, c)
			return exitOK
		}
	}
	var o activateOptions
	last := func() *activateSocket {
		if len(o.socks) == 0 {
			return nil
		}
		return o.socks[len(o.socks)-1]
	}
	fs := newFlagSet(c.name)
	listen := func(s string) error {
		a, err := uds.ParseAddr(s)
		if scheme, ok := urlScheme(s); ok {
			err = fmt.Errorf("%s is a %s URL, not a Unix socket address (a relative path is written ./%s)", s, scheme, s)
		} else if err == nil && (a.Kind() == uds.KindUnnamed || a.Kind() == uds.KindAutobind) {
			err = fmt.Errorf("%s names no socket to listen on", s)
		}
		if err != nil {
			return err
		}
		o.socks = append(o.socks, &activateSocket{addr: a, text: s})
		return nil
	}
	fs.Func("l", "", listen)
	fs.Func("listen", "", listen)
	fs.Func("fdname", "", func(s string) error {
		l := last()
		switch {
		case l == nil:
			return errors.New("goes after the -l ADDR it names")
		case l.name != "":
			return fmt.Errorf("%s is already named %q", l.text, l.name)
		}
		if err := checkFDName(s); err != nil {
			return err
		}
		l.name = s
		return nil
	})
	fs.Func("type", "", func(s string) error {
		t, ok := parseSocketType(s)
		if !ok || s == "" {
			return fmt.Errorf("%q: want stream, seqpacket or datagram", s)
		}
		if l := last(); l != nil {
			l.typ = &t
		} else {
			o.typ = t
		}
		return nil
	})
	fs.Func("mode", "", func(s string) error {
		var m modeFlag
		if err := m.Set(s); err != nil {
			return err
		}
		if l := last(); l != nil {
			l.mode = &m
		} else {
			o.mode = m
		}
		return nil
	})
	fs.Func("owner", "", func(s string) error {
		if l := last(); l != nil {
			l.owner = &s
		} else {
			o.owner = s
		}
		return nil
	})
	fs.Func("group", "", func(s string) error {
		if l := last(); l != nil {
			l.group = &s
		} else {
			o.group = s
		}
		return nil
	})
	fs.BoolVar(&o.keep, "keep", false, "")
	argv, code, ok := parseLeading(st, c, fs, args)
	if !ok {
		return code
	}
	if len(o.socks) == 0 {
		return usageError(st, c, "missing -l ADDR: uds activate -l ADDR -- CMD [ARGS...]")
	}
	if len(argv) == 0 {
		return usageError(st, c, "missing CMD: uds activate -l ADDR -- CMD [ARGS...]")
	}
	for _, s := range o.socks {
		if s.addr.Kind() != uds.KindPath && (s.mode != nil || s.owner != nil || s.group != nil) {
			return usageError(st, c, "--mode, --owner and --group are for pathname sockets, and %s is %s", s.text, kindName(s.addr))
		}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(st.err, "uds activate: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitCmdNotFound
		}
		return exitCannotExec
	}

	var closers []io.Closer
	defer func() {
		for _, cl := range closers {
			if err := cl.Close(); err != nil {
				fmt.Fprintf(st.err, "uds: %s\n", describe(err))
			}
		}
	}()
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	named := false
	names := make([]string, len(o.socks))
	for i, s := range o.socks {
		cl, f, err := openActivated(ctx, &o, s)
		if err != nil {
			if ctx.Err() != nil {
				return signalExit(ctx)
			}
			if errors.Is(err, uds.ErrInUse) || errors.Is(err, uds.ErrNotSocket) {
				return fail(st, err, exitCantCreate)
			}
			return fail(st, err, exitUnavailable)
		}
		closers = append(closers, cl)
		files = append(files, f)
		names[i] = s.name
		if s.name == "" {
			names[i] = "unknown"
		} else {
			named = true
		}
		fmt.Fprintf(st.err, "uds activate: listening on %s (%s) as descriptor %d, name %s\n", s.addr, s.addr.Type(), 3+i, names[i])
	}
	if ctx.Err() != nil {
		return signalExit(ctx)
	}

	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LISTEN_FDS="+strconv.Itoa(len(files)))
	if named {
		env = append(env, "LISTEN_FDNAMES="+strings.Join(names, ":"))
	}
	exe, err := selfExecutable()
	if err != nil {
		return fail(st, err, exitUnavailable)
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       append([]string{"uds", activateExecArg, path}, argv...),
		Env:        env,
		Stdin:      st.in,
		Stdout:     st.out,
		Stderr:     st.err,
		ExtraFiles: files,
	}
	return runActivated(ctx, st, cmd, func() {
		for _, f := range files {
			f.Close()
		}
		files = nil
	})
}

// openActivated opens the socket s and returns it (its Close removes the
// socket file unless --keep) and a duplicate of its descriptor for CMD.
func openActivated(ctx context.Context, o *activateOptions, s *activateSocket) (io.Closer, *os.File, error) {
	lc := uds.ListenConfig{Mode: o.mode.mode, Owner: o.owner, Group: o.group}
	typ := o.typ
	if s.typ != nil {
		typ = *s.typ
	}
	if s.mode != nil {
		lc.Mode = s.mode.mode
	}
	if s.owner != nil {
		lc.Owner = *s.owner
	}
	if s.group != nil {
		lc.Group = *s.group
	}
	if s.addr.Kind() != uds.KindPath {
		lc.Mode, lc.Owner, lc.Group = 0, "", ""
	}
	s.addr = s.addr.WithType(typ)
	var sock interface {
		io.Closer
		syscall.Conn
	}
	var err error
	switch typ {
	case uds.Datagram:
		var c *uds.DatagramConn
		if c, err = lc.ListenDatagram(ctx, s.addr); err == nil {
			c.SetUnlinkOnClose(!o.keep)
			sock = c
		}
	default:
		var l *uds.Listener
		if l, err = lc.Listen(ctx, s.addr); err == nil {
			l.SetUnlinkOnClose(!o.keep)
			sock = l
		}
	}
	if err != nil {
		return nil, nil, err
	}
	f, err := dupSocket(sock)
	if err != nil {
		sock.Close()
		return nil, nil, &os.SyscallError{Syscall: "dup " + s.addr.String(), Err: err}
	}
	return sock, f, nil
}

// selfExecutable is the path that runs this program again.
func selfExecutable() (string, error) {
	if runtime.GOOS == "linux" {
		// The running file itself, even if it was replaced on disk since.
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	return os.Executable()
}

// checkFDName checks a LISTEN_FDNAMES name as systemd does
// (fdname_is_valid): 1 to 255 printable ASCII characters, no ":".
func checkFDName(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("%q: want 1 to 255 characters", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == ':' {
			return fmt.Errorf("%q: want printable ASCII without \":\"", s)
		}
	}
	return nil
}

// runActivated starts cmd, calls started once it runs (to close the
// parent's copies of the descriptors), passes signals on and returns CMD's
// exit status.
func runActivated(ctx context.Context, st *stdio, cmd *exec.Cmd, started func()) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(st.err, "uds activate: %v\n", err)
		return exitCannotExec
	}
	started()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	cancelled := ctx.Done()
wait:
	for {
		select {
		case err = <-done:
			break wait
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case <-cancelled:
			sig := os.Signal(syscall.SIGTERM)
			var se signalError
			if errors.As(context.Cause(ctx), &se) {
				sig = se.sig
			}
			_ = cmd.Process.Signal(sig)
			cancelled = nil
		}
	}
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ps.ExitCode()
	}
	fmt.Fprintf(st.err, "uds activate: %v\n", err)
	return exitUnavailable
}
