package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/udskit/uds"
)

var listenCmd = &command{
	name:    "listen",
	summary: "listen on ADDR and bridge connections to stdin/stdout (like nc -lU)",
	usage: `Usage: uds listen [--mode MODE] [--owner USER] [--group GROUP] [--keep]
                  [--once | --keep-open] ADDR

Listen on the stream socket ADDR, accept one connection at a time and
bridge it to stdin and stdout, like 'nc -lU': what the peer sends goes to
stdout, stdin goes to the peer, and at the end of stdin the connection's
writing side is shut down (the peer reads EOF). A connection ends when
the peer closes its side (stdin is still sent for up to half a second
after that, as socat does). Every connection counts, including the
short one that 'uds probe' makes.

A stale socket file left at the path by a dead server is replaced; a live
socket, or anything that is not a socket, is never touched. ADDR.lock is
held beside a pathname socket while listening. "listening on ADDR" is
printed to stderr once connections are accepted. On exit, including on
SIGINT and SIGTERM, the socket file and its lock file are removed.

Options:
  --mode MODE      permissions of the socket file, in octal (0660); the
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
  --mode, --owner, --group and --keep apply to pathname sockets only.

Exit status:
  0    the connection ended
  64   usage error
  69   failure: permission denied, an error on the connection, ...
  73   the address is in use (the message names the process holding it),
       or the path is not a socket
  130  SIGINT, 143 SIGTERM (the socket file is removed all the same)
`,
	examples: []string{
		"uds listen /tmp/app.sock           # then: uds dial /tmp/app.sock",
		"uds listen --mode 0660 --group docker /run/app.sock",
		"uds listen -k @logsink > log.txt   # collect what every client sends",
		"echo hello | uds listen @greeter",
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
	operands, code, ok := parseArgs(st, c, fs, args, 1, 1)
	if !ok {
		return code
	}
	if *once && keepOpen {
		return usageError(st, c, "--once and --keep-open contradict each other")
	}
	a, code, ok := parseAddr(st, c, "ADDR", operands[0])
	if !ok {
		return code
	}
	if a.Kind() != uds.KindPath {
		var set []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "mode", "owner", "group", "keep":
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return usageError(st, c, "%s: only for pathname sockets, and %s is %s", strings.Join(set, ", "), operands[0], kindName(a))
		}
	}

	lc := uds.ListenConfig{
		Mode:     mode.mode,
		Owner:    *owner,
		Group:    *group,
		KeepPath: *keep,
	}
	l, err := lc.Listen(ctx, a)
	if err != nil {
		if ctx.Err() != nil {
			return signalExit(ctx)
		}
		if errors.Is(err, uds.ErrInUse) || errors.Is(err, uds.ErrNotSocket) {
			return fail(st, err, exitCantCreate)
		}
		return fail(st, err, exitUnavailable)
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	fmt.Fprintf(st.err, "listening on %s\n", l.Addr())

	code = exitOK
	in := st.in
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(st.err, "uds: accept on %s: %s\n", l.Addr(), describe(err))
			code = exitUnavailable
			break
		}
		err = bridge(ctx, conn, in, st.out)
		conn.Close()
		in = nil // stdin goes to the first connection only
		if ctx.Err() != nil {
			break
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
	if err := l.Close(); err != nil {
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
