package main

import (
	"context"
	"fmt"
	"time"

	"github.com/udskit/uds"
)

var dialCmd = &command{
	name:    "dial",
	summary: "connect to ADDR and bridge it to stdin/stdout (like nc -U)",
	usage: `Usage: uds dial [--timeout DURATION] [--wait] [--bind ADDR] ADDR

Connect to the stream socket ADDR and bridge the connection to stdin and
stdout, like 'nc -U': stdin goes to the server, and at the end of stdin
the connection's writing side is shut down (the server reads EOF); what
the server sends goes to stdout. uds dial exits when the server closes
its side (stdin is still sent for up to half a second after that, as
socat does).

A server with a full backlog is retried until the timeout.

Options:
  --timeout DURATION  give up connecting after DURATION (default 5s; 0 for
                      no limit); it bounds connecting only, not the session
  --wait              wait for the server: retry while the socket does not
                      exist or nothing listens on it, until the timeout
  --bind ADDR         bind the client socket to ADDR first: a path (removed
                      again on exit), an abstract name, or (autobind) for a
                      name the kernel chooses; the server sees it as the
                      peer's address

Exit status:
  0    the server closed the connection
  64   usage error
  69   connecting failed (the message names the error: no such file,
       connection refused, timeout, ...) or the connection failed
  130  SIGINT, 143 SIGTERM
`,
	examples: []string{
		"echo ping | uds dial /tmp/app.sock",
		"uds dial --wait --timeout 30s @app  # start before the server",
		"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | uds dial /var/run/docker.sock",
	},
	run: runDial,
}

func runDial(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	timeout := fs.Duration("timeout", 5*time.Second, "")
	wait := fs.Bool("wait", false, "")
	bind := fs.String("bind", "", "")
	operands, code, ok := parseArgs(st, c, fs, args, 1, 1)
	if !ok {
		return code
	}
	if *timeout < 0 {
		return usageError(st, c, "--timeout %v: must not be negative", *timeout)
	}
	a, code, ok := parseTarget(st, c, operands[0], " to connect to")
	if !ok {
		return code
	}
	d := uds.Dialer{Timeout: *timeout, WaitForListener: *wait}
	if *bind != "" {
		if d.LocalAddr, code, ok = parseAddr(st, c, "--bind", *bind); !ok {
			return code
		}
	}

	conn, err := d.Dial(ctx, a)
	if err != nil {
		if ctx.Err() != nil {
			return signalExit(ctx)
		}
		return fail(st, err, exitUnavailable)
	}
	err = bridge(ctx, conn, st.in, st.out)
	cerr := conn.Close()
	if ctx.Err() != nil {
		return signalExit(ctx)
	}
	code = exitOK
	if err != nil {
		fmt.Fprintf(st.err, "uds: connection to %s: %v\n", a, err)
		code = exitUnavailable
	}
	if cerr != nil && *bind != "" {
		// Closing reports failing to remove the --bind path.
		fmt.Fprintf(st.err, "uds: %s\n", describe(cerr))
		if code == exitOK {
			code = exitUnavailable
		}
	}
	return code
}
