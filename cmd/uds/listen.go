package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/udskit/uds"
)

var listenCmd = &command{
	name:    "listen",
	summary: "listen on ADDR; connections to stdin/stdout or to CMD (like nc -lU)",
	usage: `Usage: uds listen [--type stream|seqpacket|datagram] [--split MODE]
                  [--mode MODE] [--owner USER] [--group GROUP] [--keep]
                  [--once | --keep-open | --fork] [--exec CMD]
                  [--idle-timeout DURATION] ADDR

Listen on ADDR, accept one connection at a time and bridge it to stdin
and stdout, like 'nc -lU': what the peer sends goes to stdout, stdin goes
to the peer, and at the end of stdin the connection's writing side is
shut down (the peer reads EOF). A connection ends when the peer closes its
side (stdin is still sent for up to half a second after that, as socat
does). Every connection counts, including the short one that 'uds probe'
makes.

With --type seqpacket the same is done with messages (see Messages
below); the peer reads EOF at the end of stdin, and the end of the peer's
side ends the connection.

With --type datagram, ADDR is bound and every datagram received is printed
(see Messages); the messages of stdin are sent as replies to the most
recent sender that has an address: a client bound to a path or an
abstract name, or autobound, as 'uds dial --type datagram' is. A datagram
from an unbound socket is printed but cannot be replied to (a warning
says so once); messages of stdin wait for the first sender that can be
replied to, and a reply that cannot be sent (that sender has gone) is
reported and the next one goes on. uds listen --type datagram runs until a
signal or --idle-timeout; the end of stdin does not end it.

--exec CMD serves each connection with 'sh -c CMD' instead of stdin and
stdout: the connection itself is CMD's standard input and output (as with
inetd, systemd's Accept=yes, or socat's EXEC), and CMD inherits no other
descriptor of uds, not even those uds inherited above 2; its standard
error is uds's. CMD's environment has the connection's addresses and the
peer's credentials, as read from the socket (SO_PEERCRED):
  UDS_PEER_ADDR    the peer's address, usually (unnamed)
  UDS_LOCAL_ADDR   ADDR
  UDS_PEER_PID, UDS_PEER_UID, UDS_PEER_GID   the peer's process and IDs
Without --fork, one CMD runs at a time. With --fork every connection gets
its own CMD at once, without waiting for the others, until a signal or
--idle-timeout. Every CMD is waited for (no zombies); one that exits with
a status other than 0 is reported on stderr.

A stale socket file left at the path by a dead server is replaced; a live
socket, or anything that is not a socket, is never touched. ADDR.lock is
held beside a pathname socket while listening. "listening on ADDR" is
printed to stderr once connections are accepted. On exit, including on
SIGINT and SIGTERM, the socket file and its lock file are removed. On
SIGINT or SIGTERM, uds stops accepting at once, removes the socket file,
passes the signal on to the running CMDs, waits up to 5s for them to exit,
kills (SIGKILL) those left, and exits 128+signal.

Options:
` + typeHelp + `  --mode MODE      permissions of the socket file, in octal (0660); the
                   file never exists with other permissions
  --owner USER     owner of the socket file: a name or a numeric ID
                   (needs privilege)
  --group GROUP    group of the socket file: a name or a numeric ID
  --keep           leave the socket file in place on exit
  --once           exit when the first connection ends (the default)
  -k, --keep-open  keep accepting connections, one at a time, until a
                   signal; stdin goes only to the first connection, later
                   connections only send (they get no input, and their
                   writing side is left open)
  --fork           serve every connection at once, each by its own
                   --exec CMD (--fork needs --exec), until a signal
  --exec CMD       serve each connection by running 'sh -c CMD' with the
                   connection as its stdin and stdout (see above)
  --idle-timeout DURATION
                   close a connection bridged to stdin and stdout when
                   nothing has passed either way for DURATION (1m, 30s),
                   and exit with status 0 once no connection has been open
                   for DURATION, counted from the start and from the end
                   of the last one; with --type datagram, exit once no
                   datagram has been received or sent for DURATION. The
                   connection of an --exec CMD is CMD's: uds does not see
                   its traffic, so only the exit applies there.
  --mode, --owner, --group and --keep apply to pathname sockets only;
  --once, --keep-open, --fork and --exec to stream and seqpacket only.

` + msgHelp + `
Exit status:
  0    the connection ended, or the idle timeout passed
  64   usage error
  69   failure: permission denied, an error on the connection, ...
  73   the address is in use (the message names the process holding it),
       or the path is not a socket
  130  SIGINT, 143 SIGTERM (the socket file is removed all the same)
  With --exec and neither --keep-open nor --fork: CMD's exit status
  (128+N if signal N killed it; 127 if the shell did not find it).
`,
	examples: []string{
		"uds listen /tmp/app.sock           # then: uds dial /tmp/app.sock",
		"uds listen --mode 0660 --group docker /run/app.sock",
		"uds listen -k @logsink > log.txt   # collect what every client sends",
		"echo hello | uds listen @greeter",
		"uds listen --type seqpacket @ctl   # one line of stdin = one message",
		"uds listen --type datagram /tmp/log.sock  # stdin replies to the last sender",
		"uds listen --fork --exec 'cat' @echo       # an echo server, a cat per client",
		"uds listen --fork --exec 'echo hi $UDS_PEER_UID' --idle-timeout 10m @hi",
	},
	run: runListen,
}

func runListen(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	var mode modeFlag
	fs.Var(&mode, "mode", "")
	owner := fs.String("owner", "", "")
	group := fs.String("group", "", "")
	keep := fs.Bool("keep", false, "")
	once := fs.Bool("once", false, "")
	var keepOpen bool
	fs.BoolVar(&keepOpen, "keep-open", false, "")
	fs.BoolVar(&keepOpen, "k", false, "")
	typeName := fs.String("type", "stream", "")
	splitName := fs.String("split", "line", "")
	fork := fs.Bool("fork", false, "")
	script := fs.String("exec", "", "")
	idle := fs.Duration("idle-timeout", 0, "")
	operands, code, ok := parseArgs(st, c, fs, args, 1, 1)
	if !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	typ, split, code, ok := parseMessageFlags(st, c, *typeName, *splitName)
	if !ok {
		return code
	}
	switch {
	case *once && keepOpen:
		return usageError(st, c, "--once and --keep-open contradict each other")
	case *fork && (*once || keepOpen):
		return usageError(st, c, "--fork keeps accepting, each connection at once: it contradicts --once and --keep-open")
	case *fork && *script == "":
		return usageError(st, c, "--fork needs --exec CMD: the connections served at once cannot share stdin and stdout")
	case set["exec"] && *script == "":
		return usageError(st, c, "--exec: empty CMD")
	case *idle < 0:
		return usageError(st, c, "--idle-timeout %v: must not be negative", *idle)
	case set["split"] && typ == uds.Stream:
		return usageError(st, c, "--split: only for --type seqpacket and datagram (a stream has no messages)")
	case set["split"] && *script != "":
		return usageError(st, c, "--split: stdin is not used with --exec")
	}
	if typ == uds.Datagram {
		var bad []string
		for _, n := range []string{"once", "keep-open", "k", "fork", "exec"} {
			if set[n] {
				bad = append(bad, "--"+n)
			}
		}
		if len(bad) > 0 {
			return usageError(st, c, "%s: only for stream and seqpacket sockets (a datagram socket has no connections)", strings.Join(bad, ", "))
		}
	}
	a, code, ok := parseAddr(st, c, "ADDR", operands[0])
	if !ok {
		return code
	}
	if a.Kind() != uds.KindPath {
		var pathOnly []string
		for _, n := range []string{"group", "keep", "mode", "owner"} {
			if set[n] {
				pathOnly = append(pathOnly, "--"+n)
			}
		}
		if len(pathOnly) > 0 {
			return usageError(st, c, "%s: only for pathname sockets, and %s is %s", strings.Join(pathOnly, ", "), operands[0], kindName(a))
		}
	}

	if *script != "" {
		if err := closeInheritedOnExec(); err != nil {
			return fail(st, fmt.Errorf("--exec: keeping inherited descriptors from CMD: %w", err), exitUnavailable)
		}
	}
	lc := uds.ListenConfig{
		Mode:  mode.mode,
		Owner: *owner,
		Group: *group,
	}
	if typ == uds.Datagram {
		return listenDatagram(ctx, st, &lc, a, split, *idle, *keep)
	}
	l, err := lc.Listen(ctx, a.WithType(typ))
	if err != nil {
		return listenFailed(ctx, st, err)
	}
	l.SetUnlinkOnClose(!*keep)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	fmt.Fprintf(st.err, "listening on %s\n", l.Addr())

	// Idleness of the listener: no connection open for *idle.
	var (
		mu        sync.Mutex
		open      int
		idleFired bool
	)
	it := newIdleTimer(*idle, func() {
		mu.Lock()
		defer mu.Unlock()
		if open == 0 {
			idleFired = true
			l.Close()
		}
	})
	defer it.stop()
	connStart := func() {
		mu.Lock()
		open++
		mu.Unlock()
	}
	connEnd := func() {
		mu.Lock()
		defer mu.Unlock()
		if open--; open == 0 {
			it.touch()
			it.set(*idle)
		}
	}
	kids := &children{onChange: func(delta int) {
		if delta > 0 {
			connStart()
		} else {
			connEnd()
		}
	}}

	code = exitOK
	in := st.in
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			mu.Lock()
			fired := idleFired
			mu.Unlock()
			if fired {
				fmt.Fprintf(st.err, "uds: no connection for %v, exiting\n", *idle)
				break
			}
			fmt.Fprintf(st.err, "uds: accept on %s: %s\n", l.Addr(), describe(err))
			code = exitUnavailable
			break
		}
		if *script != "" {
			ch, err := startChild(st, conn.(fileConn), *script)
			if err != nil {
				fmt.Fprintf(st.err, "uds: --exec for a connection on %s: %v\n", l.Addr(), err)
				if *fork || keepOpen {
					continue
				}
				code = exitUnavailable
				break
			}
			kids.watch(st, ch)
			if *fork {
				continue
			}
			select {
			case <-ch.done:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break // the signal is passed on below
			}
			if !keepOpen {
				code = ch.code
				break
			}
			continue
		}
		connStart()
		err = serveConn(ctx, conn, in, split, st.out, *idle)
		conn.Close()
		connEnd()
		in = nil // stdin goes to the first connection only
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errIdle) {
			fmt.Fprintf(st.err, "uds: connection on %s: nothing passed for %v, closed\n", l.Addr(), *idle)
			err = nil
		}
		if err != nil {
			fmt.Fprintf(st.err, "uds: connection on %s: %v\n", l.Addr(), err)
			if !keepOpen {
				code = exitUnavailable
			}
		}
		if !keepOpen {
			break
		}
	}
	// Stop accepting (and remove the socket file) before waiting for the
	// children.
	if err := l.Close(); err != nil {
		fmt.Fprintf(st.err, "uds: %s\n", describe(err))
		if code == exitOK {
			code = exitUnavailable
		}
	}
	if ctx.Err() != nil {
		kids.stop(st, signalOf(ctx))
		return signalExit(ctx)
	}
	kids.wait()
	return code
}

// serveConn bridges an accepted connection to in and out.
func serveConn(ctx context.Context, conn net.Conn, in io.Reader, split splitMode, out io.Writer, idle time.Duration) error {
	if c, ok := conn.(*uds.Conn); ok {
		if c.LocalAddr().(uds.Addr).Type() == uds.SeqPacket {
			return bridgeSeqPacket(ctx, c, in, split, out, idle)
		}
		return bridge(ctx, c, in, out, idle)
	}
	return fmt.Errorf("unexpected connection type %T", conn)
}

// listenFailed reports a failed listen and returns its exit code.
func listenFailed(ctx context.Context, st *stdio, err error) int {
	if ctx.Err() != nil {
		return signalExit(ctx)
	}
	if errors.Is(err, uds.ErrInUse) || errors.Is(err, uds.ErrNotSocket) {
		return fail(st, err, exitCantCreate)
	}
	return fail(st, err, exitUnavailable)
}

// listenDatagram runs listen --type datagram.
func listenDatagram(ctx context.Context, st *stdio, lc *uds.ListenConfig, a uds.Addr, split splitMode, idle time.Duration, keep bool) int {
	dc, err := lc.ListenDatagram(ctx, a)
	if err != nil {
		return listenFailed(ctx, st, err)
	}
	dc.SetUnlinkOnClose(!keep)
	fmt.Fprintf(st.err, "listening on %s\n", dc.LocalAddr())
	err = serveDatagram(ctx, st, dc, st.in, split, idle)
	code := exitOK
	switch {
	case ctx.Err() != nil:
	case err == nil:
		fmt.Fprintf(st.err, "uds: nothing received or sent for %v, exiting\n", idle)
	default:
		fmt.Fprintf(st.err, "uds: %s: %v\n", dc.LocalAddr(), err)
		code = exitUnavailable
	}
	if err := dc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(st.err, "uds: %s\n", describe(err))
		if code == exitOK {
			code = exitUnavailable
		}
	}
	if ctx.Err() != nil {
		return signalExit(ctx)
	}
	return code
}

func kindName(a uds.Addr) string {
	switch a.Kind() {
	case uds.KindAbstract:
		return "an abstract name"
	case uds.KindAutobind:
		return "an autobind request"
	}
	return "not a path"
}

// modeFlag is the --mode option: permission bits in octal.
type modeFlag struct{ mode os.FileMode }

func (m *modeFlag) String() string {
	if m == nil || m.mode == 0 {
		return ""
	}
	return fmt.Sprintf("%#o", uint32(m.mode))
}

func (m *modeFlag) Set(s string) error {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || t == "" {
		return fmt.Errorf("%q is not an octal mode like 0660", s)
	}
	if n == 0 || n > 0o777 {
		return fmt.Errorf("mode %s: want permission bits from 0001 to 0777", s)
	}
	m.mode = os.FileMode(n)
	return nil
}
