package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/udskit/uds"
)

var dialCmd = &command{
	name:    "dial",
	summary: "connect to ADDR and bridge it to stdin/stdout (like nc -U)",
	usage: `Usage: uds dial [--type stream|seqpacket|datagram] [--split MODE]
                [--timeout DURATION] [--wait] [--bind ADDR]
                [--idle-timeout DURATION] ADDR

Connect to the socket ADDR and bridge the connection to stdin and stdout,
like 'nc -U': stdin goes to the server, and at the end of stdin the
connection's writing side is shut down (the server reads EOF); what the
server sends goes to stdout. uds dial exits when the server closes its
side (stdin is still sent for up to half a second after that, as socat
does).

With --type seqpacket the same is done with messages (see Messages
below).

With --type datagram the socket is connected to ADDR: the messages of
stdin are sent to it and the datagrams it sends back are printed. The
socket is autobound (it has an abstract name the kernel chose, unless
--bind gives it another), so the server can reply. Datagrams have no end:
uds dial --type datagram exits once stdin has ended and no reply has come
for half a second (for --idle-timeout, if given), or when the server's
socket is closed. A server that is not there (or gone) makes sending fail
(exit 69).

A server with a full backlog is retried until the timeout.

Options:
` + typeHelp + `  --timeout DURATION  give up connecting after DURATION (default 5s; 0 for
                      no limit); it bounds connecting only, not the session
  --wait              wait for the server: retry while the socket does not
                      exist or nothing listens on it, until the timeout
  --bind ADDR         bind the client socket to ADDR first: a path (removed
                      again on exit), an abstract name, or (autobind) for a
                      name the kernel chooses; the server sees it as the
                      peer's address
  --idle-timeout DURATION
                      close the connection and exit (status 0) when nothing
                      has passed either way for DURATION (1m, 30s)

` + msgHelp + `
Exit status:
  0    the server closed the connection, or the idle timeout passed
  64   usage error
  69   connecting failed (the message names the error: no such file,
       connection refused, timeout, ...) or the connection failed
  130  SIGINT, 143 SIGTERM
`,
	examples: []string{
		"echo ping | uds dial /tmp/app.sock",
		"uds dial --wait --timeout 30s @app  # start before the server",
		"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | uds dial /var/run/docker.sock",
		"printf 'one\\ntwo\\n' | uds dial --type seqpacket @ctl  # two messages",
		"echo ping | uds dial --type datagram /tmp/log.sock  # prints the replies",
		"uds dial --type datagram --split none @blob < msg.bin",
	},
	run: runDial,
}

func runDial(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	timeout := fs.Duration("timeout", 5*time.Second, "")
	wait := fs.Bool("wait", false, "")
	bind := fs.String("bind", "", "")
	typeName := fs.String("type", "stream", "")
	splitName := fs.String("split", "line", "")
	idle := fs.Duration("idle-timeout", 0, "")
	operands, code, ok := parseArgs(st, c, fs, args, 1, 1)
	if !ok {
		return code
	}
	if *timeout < 0 {
		return usageError(st, c, "--timeout %v: must not be negative", *timeout)
	}
	if *idle < 0 {
		return usageError(st, c, "--idle-timeout %v: must not be negative", *idle)
	}
	typ, split, code, ok := parseMessageFlags(st, c, *typeName, *splitName)
	if !ok {
		return code
	}
	splitSet := false
	fs.Visit(func(f *flag.Flag) { splitSet = splitSet || f.Name == "split" })
	if splitSet && typ == uds.Stream {
		return usageError(st, c, "--split: only for --type seqpacket and datagram (a stream has no messages)")
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

	switch typ {
	case uds.SeqPacket:
		conn, err := d.Dial(ctx, a.WithType(uds.SeqPacket))
		if err != nil {
			return dialFailed(ctx, st, err)
		}
		err = bridgeSeqPacket(ctx, conn, st.in, split, st.out, *idle)
		return dialEnd(ctx, st, a, conn, err, *bind != "")
	case uds.Datagram:
		conn, err := d.DialDatagram(ctx, a)
		if err != nil {
			return dialFailed(ctx, st, err)
		}
		err = dialDatagram(ctx, conn, st.in, split, st.out, *idle)
		return dialEnd(ctx, st, a, conn, err, *bind != "")
	}
	conn, err := d.Dial(ctx, a)
	if err != nil {
		return dialFailed(ctx, st, err)
	}
	err = bridge(ctx, conn, st.in, st.out, *idle)
	return dialEnd(ctx, st, a, conn, err, *bind != "")
}

func dialFailed(ctx context.Context, st *stdio, err error) int {
	if ctx.Err() != nil {
		return signalExit(ctx)
	}
	return fail(st, err, exitUnavailable)
}

// dialEnd closes conn after the session ended with err and returns the exit
// code. bound says whether --bind was given: closing then removes its
// path, and a failure to do so is reported.
func dialEnd(ctx context.Context, st *stdio, a uds.Addr, conn io.Closer, err error, bound bool) int {
	cerr := conn.Close()
	if ctx.Err() != nil {
		return signalExit(ctx)
	}
	code := exitOK
	if errors.Is(err, errIdle) {
		err = nil
	}
	if err != nil {
		fmt.Fprintf(st.err, "uds: connection to %s: %v\n", a, err)
		code = exitUnavailable
	}
	if cerr != nil && bound && !errors.Is(cerr, net.ErrClosed) {
		// Closing reports failing to remove the --bind path.
		fmt.Fprintf(st.err, "uds: %s\n", describe(cerr))
		if code == exitOK {
			code = exitUnavailable
		}
	}
	return code
}
