//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// pyMessages is a python3 program that connects a socket of type
// (SEQPACKET or DGRAM) to the address argv[2] ("@name" for an abstract
// one), sends every message of the JSON list on its stdin, shuts its writing
// side (seqpacket) or waits for argv[3] replies (dgram), and prints as
// JSON the messages it received and, for dgram, their senders.
const pyMessages = `
import json, socket, sys
typ = {"seqpacket": socket.SOCK_SEQPACKET, "dgram": socket.SOCK_DGRAM}[sys.argv[1]]
addr = sys.argv[2]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, typ)
s.settimeout(10)
want = 0
if typ == socket.SOCK_DGRAM:
    s.bind("")  # autobind: an abstract name the kernel chooses
    want = int(sys.argv[3])
s.connect(addr)
for m in json.load(sys.stdin):
    s.send(m.encode("latin-1"))
got, senders = [], []
if typ == socket.SOCK_SEQPACKET:
    s.shutdown(socket.SHUT_WR)
    while True:
        m = s.recv(1 << 20)
        if not m:
            break
        got.append(m.decode("latin-1"))
else:
    for _ in range(want):
        m, frm = s.recvfrom(1 << 20)
        got.append(m.decode("latin-1"))
        senders.append(frm if isinstance(frm, str) else "@" + frm[1:].decode("latin-1"))
name = s.getsockname()
print(json.dumps({"got": got, "senders": senders,
    "me": name if isinstance(name, str) else "@" + name[1:].decode("latin-1")}))
`

type pyResult struct {
	Got     []string `json:"got"`
	Senders []string `json:"senders"`
	Me      string   `json:"me"`
}

func runPy(t *testing.T, typ, addr string, send []string, replies int) pyResult {
	t.Helper()
	js, err := json.Marshal(send)
	require.NoError(t, err)
	cmd := toolCommand(t, "python3", "-c", pyMessages, typ, addr, strconv.Itoa(replies))
	cmd.Stdin = strings.NewReader(string(js))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python3: %s", stderr.String())
	var r pyResult
	require.NoError(t, json.Unmarshal(out, &r), string(out))
	return r
}

// TestListenSeqPacketBoundaries: lines of stdin are messages to a python3
// client, and its messages (a long one, one with "\n" inside) come out
// whole, one per line.
func TestListenSeqPacketBoundaries(t *testing.T) {
	requireTool(t, "python3")
	for _, addr := range []string{filepath.Join(socketDir(t), "sp.sock"), "@" + abstractName(t)} {
		t.Run(addr, func(t *testing.T) {
			s := startCLI(t, strings.NewReader("one\ntwo words\nlast, no newline"), "listen", "--type", "seqpacket", addr)
			s.waitListening(t)
			long := strings.Repeat("x", 200000) // more than any default buffer
			r := runPy(t, "seqpacket", addr, []string{"a", "b\nc\n", long}, 0)
			assert.Equal(t, []string{"one", "two words", "last, no newline"}, r.Got)
			assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
			assert.Equal(t, "a\nb\nc\n"+long+"\n", s.stdout.String())
		})
	}
}

// TestSeqPacketEmptyMessage: an empty line is an empty message, which uds
// tells apart from the end (python's recv could not), both ways.
func TestSeqPacketEmptyMessage(t *testing.T) {
	name := "@" + abstractName(t)
	s := startCLI(t, strings.NewReader("x\n\ny\n"), "listen", "--type", "seqpacket", name)
	s.waitListening(t)
	code, out, errOut := runCLI(t, "\nz\n", "dial", "--type", "seqpacket", name)
	assert.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "x\n\ny\n", out)
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.Equal(t, "\nz\n", s.stdout.String())
}

// TestListenSeqPacketSocat: socat connects with type=5 (SOCK_SEQPACKET).
func TestListenSeqPacketSocat(t *testing.T) {
	requireTool(t, "socat")
	path := filepath.Join(socketDir(t), "sp.sock")
	s := startCLI(t, strings.NewReader("hello socat\n"), "listen", "--type", "seqpacket", path)
	s.waitListening(t)
	client := toolCommand(t, "socat", "-t", "5", "-", "UNIX-CONNECT:"+path+",type=5")
	client.Stdin = strings.NewReader("hello uds")
	out, err := client.Output()
	require.NoError(t, err)
	assert.Equal(t, "hello socat", string(out), "one message, its \"\\n\" taken off")
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.Equal(t, "hello uds\n", s.stdout.String())
}

// pySeqPacketServer accepts one seqpacket connection at argv[1], sends the
// messages of the JSON list argv[2], and prints as JSON what it receives
// until the end.
const pySeqPacketServer = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(10)
for m in json.loads(sys.argv[2]):
    c.send(m.encode())
got = []
while True:
    m = c.recv(1 << 20)
    if not m:
        break
    got.append(m.decode())
c.close()
print(json.dumps(got))
`

// TestDialSeqPacketBoundaries: uds dial --type seqpacket against a python3
// server, both ways, with each --split mode.
func TestDialSeqPacketBoundaries(t *testing.T) {
	requireTool(t, "python3")
	for _, tc := range []struct {
		split string
		in    string
		want  []string
	}{
		{"line", "one\ntwo\nthree", []string{"one", "two", "three"}},
		{"none", "all\nof it\n", []string{"all\nof it\n"}},
		{"read", "in one read\n", []string{"in one read\n"}},
	} {
		t.Run(tc.split, func(t *testing.T) {
			path := filepath.Join(socketDir(t), "sp.sock")
			server := toolCommand(t, "python3", "-c", pySeqPacketServer, path, `["m1", "m2 with\nnewline\n", "m3"]`)
			sout, err := server.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, server.Start())
			br := bufio.NewReader(sout)
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "ready\n", line)

			code, out, errOut := runCLI(t, tc.in, "dial", "--type", "seqpacket", "--split", tc.split, path)
			assert.Equal(t, exitOK, code, errOut)
			assert.Equal(t, "m1\nm2 with\nnewline\nm3\n", out)
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			require.NoError(t, server.Wait())
			var got []string
			require.NoError(t, json.Unmarshal(rest, &got), string(rest))
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestListenDatagramReplies: datagram listen prints what every sender sends
// and replies to the exact address of the most recent one: a python3 client
// autobound to an abstract name, another one, and nc -uU bound to a path.
func TestListenDatagramReplies(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "nc")
	path := filepath.Join(socketDir(t), "dg.sock")
	stdin, feed := io.Pipe()
	defer feed.Close()
	s := startCLI(t, stdin, "listen", "--type", "datagram", path)
	s.waitListening(t)
	// A line written before anyone sent waits for a sender.
	go io.WriteString(feed, "first reply\n")

	for i, who := range []string{"py1", "py2"} {
		done := make(chan pyResult, 1)
		go func() { done <- runPy(t, "dgram", path, []string{"from " + who}, 1) }()
		require.Eventually(t, func() bool { return strings.Contains(s.stdout.String(), "from "+who+"\n") }, 10*time.Second, 5*time.Millisecond)
		if i > 0 {
			_, err := io.WriteString(feed, "reply to "+who+"\n")
			require.NoError(t, err)
		}
		r := <-done
		want := "reply to " + who
		if i == 0 {
			want = "first reply"
		}
		assert.Equal(t, []string{want}, r.Got)
		assert.Equal(t, []string{path}, r.Senders, "the reply comes from the listener's address")
		assert.Regexp(t, `^@[0-9a-f]{5}$`, r.Me, "python3 was autobound")
	}

	// nc -uU binds its client socket to a path of its own.
	nc := toolCommand(t, "nc", "-uU", "-W", "1", path)
	ncIn, err := nc.StdinPipe()
	require.NoError(t, err)
	var ncOut syncBuffer
	nc.Stdout = &ncOut
	require.NoError(t, nc.Start())
	_, err = io.WriteString(ncIn, "from nc\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(s.stdout.String(), "from nc\n") }, 10*time.Second, 5*time.Millisecond)
	_, err = io.WriteString(feed, "reply to nc\n")
	require.NoError(t, err)
	require.NoError(t, nc.Wait(), "nc exits after one datagram (-W 1)")
	ncIn.Close()
	assert.Equal(t, "reply to nc", ncOut.String())

	assert.Equal(t, "from py1\nfrom py2\nfrom nc\n", s.stdout.String())
	assert.False(t, s.exited(), "the end of no stdin ends datagram listen")
	s.signal(syscall.SIGTERM)
	assert.Equal(t, 143, s.wait(t))
	assert.NoFileExists(t, path)
}

// TestListenDatagramUnboundSender: a datagram from an unbound socket
// (socat UNIX-SENDTO does not bind) is printed, with a warning that it
// cannot be replied to.
func TestListenDatagramUnboundSender(t *testing.T) {
	requireTool(t, "socat")
	name := abstractName(t)
	stdin, feed := io.Pipe()
	defer feed.Close()
	s := startCLI(t, stdin, "listen", "--type", "dgram", "@"+name)
	s.waitListening(t)
	client := toolCommand(t, "socat", "-u", "-", "ABSTRACT-SENDTO:"+name)
	client.Stdin = strings.NewReader("unbound\n")
	require.NoError(t, client.Run())
	require.Eventually(t, func() bool { return s.stdout.String() == "unbound\n" }, 10*time.Second, 5*time.Millisecond)
	assert.Contains(t, s.stderr.String(), "cannot be replied to")
}

// pyDatagramEcho binds a datagram socket at argv[1] and answers each of
// argv[2] datagrams with "echo:" and the datagram, to its sender.
const pyDatagramEcho = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
print("ready", flush=True)
for _ in range(int(sys.argv[2])):
    m, frm = s.recvfrom(1 << 20)
    s.sendto(b"echo:" + m, frm)
`

// TestDialDatagramReplies: uds dial --type datagram is autobound, so a
// python3 server can reply, and socat UNIX-RECVFROM too.
func TestDialDatagramReplies(t *testing.T) {
	requireTool(t, "python3")
	path := filepath.Join(socketDir(t), "echo.sock")
	server := toolCommand(t, "python3", "-c", pyDatagramEcho, path, "3")
	sout, err := server.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, server.Start())
	line, err := bufio.NewReader(sout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	start := time.Now()
	code, out, errOut := runCLI(t, "a\n\nb\n", "dial", "--type", "datagram", path)
	assert.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut)
	assert.Equal(t, "echo:a\necho:\necho:b\n", out, "an empty line is an empty datagram")
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, server.Wait())

	requireTool(t, "socat")
	path2 := filepath.Join(socketDir(t), "recvfrom.sock")
	sc := toolCommand(t, "socat", "-t", "1", "UNIX-RECVFROM:"+path2, "-")
	sc.Stdin = strings.NewReader("pong\n")
	var scOut syncBuffer
	sc.Stdout = &scOut
	require.NoError(t, sc.Start())
	code, out, errOut = runCLI(t, "ping\n", "dial", "--type", "datagram", "--wait", path2)
	assert.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "pong\n", out)
	require.NoError(t, sc.Wait())
	assert.Equal(t, "ping", scOut.String())
}

// TestListenForkExec runs uds listen --fork --exec as a process and three
// clients at once, each served by its own CMD: distinct PIDs, no
// descriptor but the connection (0, 1) and stderr (2), the peer's
// credentials in the environment, no zombie left, and SIGTERM passed on to
// a CMD still running.
func TestListenForkExec(t *testing.T) {
	requireTool(t, "nc")
	for _, typ := range []string{"stream", "seqpacket"} {
		t.Run(typ, func(t *testing.T) {
			addr := "@" + abstractName(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// sh's own descriptors are listed while it waits for ls.
			script := `echo "pid=$$ peer=$UDS_PEER_PID uid=$UDS_PEER_UID addr=$UDS_PEER_ADDR local=$UDS_LOCAL_ADDR"; ls /proc/$$/fd; echo end; exec cat`
			cmd := udsCommand(t, ctx, "listen", "--type", typ, "--fork", "--exec", script, addr)
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			errLines := bufio.NewReader(stderr)
			line, err := errLines.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "listening on "+addr+"\n", line)
			a, err := uds.ParseAddr(addr)
			require.NoError(t, err)

			// Three clients connected at once: each is greeted before any
			// has closed, so the CMDs run side by side.
			type client interface {
				io.ReadWriteCloser
				CloseWrite() error
			}
			var clients []client
			pids := map[string]bool{}
			for range 3 {
				var c client
				if typ == "stream" {
					c, err = uds.Dial(ctx, a)
				} else {
					c, err = uds.Dial(ctx, a.WithType(uds.SeqPacket))
				}
				require.NoError(t, err)
				defer c.Close()
				clients = append(clients, c)
				hello := readUntil(t, c, "end\n")
				assert.Regexp(t, fmt.Sprintf(`^pid=\d+ peer=%d uid=%d addr=\(unnamed\) local=%s\n0\n1\n2\nend\n$`, os.Getpid(), os.Geteuid(), addr), hello)
				pids[strings.Fields(hello)[0]] = true
			}
			assert.Len(t, pids, 3, "a CMD of its own for each client")
			for i, c := range clients[:2] {
				msg := fmt.Sprintf("echo %d\n", i)
				_, err := io.WriteString(c, msg)
				require.NoError(t, err)
				assert.Equal(t, msg, readUntil(t, c, "\n"))
				require.NoError(t, c.CloseWrite())
				rest, err := io.ReadAll(c)
				require.NoError(t, err)
				assert.Empty(t, rest, "cat ends at EOF")
			}
			// A client of nc, served while the third CMD still runs.
			if typ == "stream" {
				nc := toolCommand(t, "nc", "-N", "-U", addr)
				nc.Stdin = strings.NewReader("from nc\n")
				out, err := nc.Output()
				require.NoError(t, err)
				assert.Regexp(t, `^pid=\d+ .*\n0\n1\n2\nend\nfrom nc\n$`, string(out))
			}
			// Every finished CMD was reaped: the only child left is the
			// third client's.
			require.Eventually(t, func() bool { return len(childrenOf(t, cmd.Process.Pid)) == 1 }, 10*time.Second, 10*time.Millisecond)
			for _, st := range childrenOf(t, cmd.Process.Pid) {
				assert.NotEqual(t, "Z", st, "no zombie")
			}

			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			rest, err := io.ReadAll(clients[2]) // the CMD got SIGTERM
			require.NoError(t, err)
			assert.Empty(t, rest)
			tail, err := io.ReadAll(errLines) // until uds and its CMDs have exited
			require.NoError(t, err)
			err = cmd.Wait()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit: %v", err)
			assert.Equal(t, 143, ee.ExitCode())
			assert.Contains(t, string(tail), "exited with status 143", "the CMD killed by the signal is reported")
			r, err := diag.Probe(ctx, a)
			require.NoError(t, err)
			assert.Equal(t, diag.ProbeMissing, r.State)
		})
	}
}

// readUntil reads from r until what it read ends in suffix.
func readUntil(t *testing.T, r io.Reader, suffix string) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for !strings.HasSuffix(b.String(), suffix) {
		k, err := r.Read(buf)
		b.Write(buf[:k])
		require.NoError(t, err, "after %q", b.String())
	}
	return b.String()
}

// childrenOf returns the process states of pid's children.
func childrenOf(t *testing.T, pid int) []string {
	t.Helper()
	out, err := exec.Command("ps", "-o", "stat=", "--ppid", strconv.Itoa(pid)).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil // none
	}
	require.NoError(t, err)
	var states []string
	for _, f := range strings.Fields(string(out)) {
		states = append(states, f[:1])
	}
	sort.Strings(states)
	return states
}

// TestListenExecOnce: without --fork or --keep-open, one connection is
// served by CMD, and uds listen exits with CMD's exit status.
func TestListenExecOnce(t *testing.T) {
	requireTool(t, "socat")
	path := filepath.Join(socketDir(t), "once.sock")
	s := startCLI(t, nil, "listen", "--exec", `read line; echo "got $line"; exit 7`, path)
	s.waitListening(t)
	client := toolCommand(t, "socat", "-t", "5", "-", "UNIX-CONNECT:"+path)
	client.Stdin = strings.NewReader("hi\n")
	out, err := client.Output()
	require.NoError(t, err)
	assert.Equal(t, "got hi\n", string(out))
	assert.Equal(t, 7, s.wait(t), s.stderr.String())
	assert.NoFileExists(t, path)
}

// TestListenIdleTimeout: a listener with no connection exits 0 after the
// idle time; a bridged connection that stays silent is closed, and the
// listener exits once it has had no connection for that long; a datagram
// listener exits once nothing has come.
func TestListenIdleTimeout(t *testing.T) {
	start := time.Now()
	code, _, errOut := runCLI(t, "", "listen", "--idle-timeout", "200ms", "@"+abstractName(t))
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "no connection for 200ms, exiting")
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	name := abstractName(t)
	stdin, feed := io.Pipe() // stays open: only the idle time ends things
	defer feed.Close()
	s := startCLI(t, stdin, "listen", "-k", "--idle-timeout", "300ms", "@"+name)
	s.waitListening(t)
	c, err := uds.Dial(context.Background(), uds.Abstract(name))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "hello\n")
	require.NoError(t, err)
	connected := time.Now()
	rest, err := io.ReadAll(c) // the server closes the silent connection
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.GreaterOrEqual(t, time.Since(connected), 300*time.Millisecond)
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.Equal(t, "hello\n", s.stdout.String())
	assert.Contains(t, s.stderr.String(), "nothing passed for 300ms, closed")
	assert.Contains(t, s.stderr.String(), "no connection for 300ms, exiting")

	path := filepath.Join(socketDir(t), "dg.sock")
	code, _, errOut = runCLI(t, "", "listen", "--type", "datagram", "--idle-timeout", "200ms", path)
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "nothing received or sent for 200ms, exiting")
	assert.NoFileExists(t, path)
}

// TestListenForkIdleTimeout: with --fork, the listener's idle time counts
// only while no CMD runs.
func TestListenForkIdleTimeout(t *testing.T) {
	name := abstractName(t)
	s := startCLI(t, nil, "listen", "--fork", "--exec", "sleep 0.6", "--idle-timeout", "200ms", "@"+name)
	s.waitListening(t)
	c, err := uds.Dial(context.Background(), uds.Abstract(name))
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.GreaterOrEqual(t, time.Since(start), 700*time.Millisecond, "the running CMD kept the listener")
}

// TestDialIdleTimeout: dial exits 0 once nothing passed for the idle time.
func TestDialIdleTimeout(t *testing.T) {
	name := abstractName(t)
	l := listenTest(t, uds.Abstract(name))
	stdin, feed := io.Pipe()
	defer feed.Close()
	s := startCLI(t, stdin, "dial", "--idle-timeout", "200ms", "@"+name)
	c, err := l.Accept()
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Empty(t, rest)
}

func TestMessageUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"listen", "--type", "raw", "@a"}, `--type "raw": want stream, seqpacket or datagram`},
		{[]string{"listen", "--split", "word", "--type", "dgram", "@a"}, `--split "word"`},
		{[]string{"listen", "--split", "read", "@a"}, "--split: only for --type seqpacket and datagram"},
		{[]string{"listen", "--fork", "@a"}, "--fork needs --exec"},
		{[]string{"listen", "--fork", "-k", "--exec", "cat", "@a"}, "contradicts --once and --keep-open"},
		{[]string{"listen", "--exec", "", "@a"}, "--exec: empty CMD"},
		{[]string{"listen", "--type", "datagram", "--exec", "cat", "@a"}, "--exec: only for stream and seqpacket"},
		{[]string{"listen", "--type", "datagram", "-k", "@a"}, "--k: only for stream and seqpacket"},
		{[]string{"listen", "--idle-timeout", "-1s", "@a"}, "must not be negative"},
		{[]string{"listen", "--type", "seqpacket", "--split", "line", "--exec", "cat", "@a"}, "stdin is not used with --exec"},
		{[]string{"dial", "--type", "bogus", "@a"}, `--type "bogus"`},
		{[]string{"dial", "--split", "line", "@a"}, "--split: only for --type seqpacket and datagram"},
		{[]string{"dial", "--idle-timeout", "x", "@a"}, "--idle-timeout"},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
	}
}

// TestMessageHelp: the help says how stdin is cut into messages, how they
// are printed, and the exit codes of --exec.
func TestMessageHelp(t *testing.T) {
	for _, name := range []string{"listen", "dial"} {
		code, out, _ := runCLI(t, "", name, "--help")
		require.Equal(t, exitOK, code)
		for _, want := range []string{"--type TYPE", "stream (the default), seqpacket or\n                   datagram", "--split MODE", "line (the default)", "an empty line is an empty\n                   message", `followed by a "\n"`, "binary data", "--idle-timeout DURATION", "nothing is cut silently"} {
			assert.Contains(t, out, want, name)
		}
	}
	_, out, _ := runCLI(t, "", "listen", "--help")
	for _, want := range []string{"--fork", "--exec CMD", "UDS_PEER_PID", "most\nrecent sender", "CMD's exit status", "waits up to 5s", "no zombies"} {
		assert.Contains(t, out, want)
	}
}
