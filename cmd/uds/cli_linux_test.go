package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// socketDir returns a new short directory for sockets (t.TempDir's paths
// can pass sun_path's 108 bytes).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var abstractSeq atomic.Int64

// abstractName returns an abstract name no other test uses.
func abstractName(t *testing.T) string {
	return fmt.Sprintf("uds-cli-test-%d-%d", os.Getpid(), abstractSeq.Add(1))
}

// requireTool returns the path of an external program the test needs. It
// skips the test if the program is missing, recorded for TestMain's
// summary, unless CI is set (to anything): then the test fails.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}

// toolCommand runs an external program with a time limit.
func toolCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	p := requireTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func listenTest(t *testing.T, a uds.Addr) *uds.Listener {
	t.Helper()
	l, err := uds.Listen(context.Background(), a)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// staleSocket leaves a socket file that no process holds at path.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	l.SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
}

type probeJSON struct {
	Addr   string `json:"addr"`
	State  string `json:"state"`
	PID    int    `json:"pid"`
	Comm   string `json:"comm"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
}

func probeAsJSON(t *testing.T, addr string) (int, probeJSON) {
	t.Helper()
	code, out, errOut := runCLI(t, "", "probe", "--json", addr)
	require.Empty(t, errOut)
	require.True(t, strings.HasSuffix(out, "}\n"), out)
	var r probeJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r), out)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	for _, k := range []string{"addr", "state", "pid", "detail"} {
		assert.Contains(t, raw, k, out)
	}
	return code, r
}

func TestProbeLive(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "live.sock")
	listenTest(t, uds.Path(path))
	name := abstractName(t)
	listenTest(t, uds.Abstract(name))
	pid := strconv.Itoa(os.Getpid())

	for _, addr := range []string{path, "@" + name, "unix:" + path, "unix-abstract:" + name} {
		code, out, errOut := runCLI(t, "", "probe", addr)
		assert.Equal(t, exitLive, code, addr)
		assert.Empty(t, errOut)
		assert.Regexp(t, `^live pid=`+pid+` \(.+\) accepting connections\n$`, out, addr)

		code, r := probeAsJSON(t, addr)
		assert.Equal(t, exitLive, code)
		assert.Equal(t, "live", r.State)
		assert.Equal(t, os.Getpid(), r.PID)
		assert.Equal(t, processName(os.Getpid()), r.Comm)
		assert.Equal(t, "accepting connections", r.Detail)
	}
	_, r := probeAsJSON(t, "unix-abstract:"+name)
	assert.Equal(t, "@"+name, r.Addr, "addr is the canonical form")
	_, r = probeAsJSON(t, path)
	assert.Equal(t, path, r.Addr)

	// A probe of another type finds the stream socket all the same.
	code, out, _ := runCLI(t, "", "probe", "--type", "seqpacket", path)
	assert.Equal(t, exitLive, code)
	assert.Contains(t, out, "socket of another type")
	code, out, _ = runCLI(t, "", "probe", "--type=dgram", path)
	assert.Equal(t, exitLive, code)
	assert.Contains(t, out, "socket of another type")
}

func TestProbeStale(t *testing.T) {
	path := filepath.Join(socketDir(t), "stale.sock")
	staleSocket(t, path)
	code, out, errOut := runCLI(t, "", "probe", path)
	assert.Equal(t, exitStale, code)
	assert.Equal(t, "stale\n", out)
	assert.Empty(t, errOut)

	code, r := probeAsJSON(t, path)
	assert.Equal(t, exitStale, code)
	assert.Equal(t, probeJSON{Addr: path, State: "stale"}, r)

	_, err := os.Lstat(path)
	assert.NoError(t, err, "probe removes nothing")
}

func TestProbeMissing(t *testing.T) {
	dir := socketDir(t)
	for _, addr := range []string{filepath.Join(dir, "none.sock"), "@" + abstractName(t), filepath.Join(dir, "nodir", "x.sock")} {
		code, out, errOut := runCLI(t, "", "probe", addr)
		assert.Equal(t, exitMissing, code, addr)
		assert.True(t, strings.HasPrefix(out, "missing"), out)
		assert.Empty(t, errOut)
		code, r := probeAsJSON(t, addr)
		assert.Equal(t, exitMissing, code)
		assert.Equal(t, "missing", r.State)
		assert.Zero(t, r.PID)
	}
}

func TestProbeNotSocket(t *testing.T) {
	dir := socketDir(t)
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))

	code, out, errOut := runCLI(t, "", "probe", dir)
	assert.Equal(t, exitNotSocket, code)
	assert.True(t, strings.HasPrefix(out, "not a socket: a directory"), out)
	assert.Empty(t, errOut)

	code, out, _ = runCLI(t, "", "probe", file)
	assert.Equal(t, exitNotSocket, code)
	assert.Equal(t, "not a socket: a regular file\n", out)

	code, out, _ = runCLI(t, "", "probe", link)
	assert.Equal(t, exitNotSocket, code)
	assert.Contains(t, out, "symbolic link")

	code, r := probeAsJSON(t, dir)
	assert.Equal(t, exitNotSocket, code)
	assert.Equal(t, "not a socket", r.State)
	assert.Contains(t, r.Detail, "a directory")
}

func TestProbeError(t *testing.T) {
	file := filepath.Join(socketDir(t), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	code, out, errOut := runCLI(t, "", "probe", filepath.Join(file, "x.sock"))
	assert.Equal(t, exitUnavailable, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "uds: probe "+filepath.Join(file, "x.sock")+": ")
	assert.Contains(t, errOut, "not a directory")
}

// TestListenSocat exchanges data both ways between uds listen and socat,
// with the socket's mode set, and checks that the files go on exit.
func TestListenSocat(t *testing.T) {
	requireTool(t, "socat")
	path := filepath.Join(socketDir(t), "srv.sock")
	staleSocket(t, path) // reclaimed
	s := startCLI(t, strings.NewReader("from server\n"), "listen", "--mode", "0600", path)
	s.waitListening(t)
	assert.Equal(t, "listening on "+path+"\n", s.stderr.String())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o600, fi.Mode())
	assert.FileExists(t, path+".lock")

	client := toolCommand(t, "socat", "-", "UNIX-CONNECT:"+path)
	cin, err := client.StdinPipe()
	require.NoError(t, err)
	cout, err := client.StdoutPipe()
	require.NoError(t, err)
	var cerr syncBuffer
	client.Stderr = &cerr
	require.NoError(t, client.Start())
	_, err = io.WriteString(cin, "from client\n")
	require.NoError(t, err)
	got, err := io.ReadAll(cout) // until uds listen shuts down its side
	require.NoError(t, err)
	assert.Equal(t, "from server\n", string(got))
	require.NoError(t, cin.Close())
	require.NoError(t, client.Wait(), cerr.String())

	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.Equal(t, "from client\n", s.stdout.String())
	assert.NoFileExists(t, path)
	assert.NoFileExists(t, path+".lock")
}

func TestListenNetcat(t *testing.T) {
	requireTool(t, "nc")
	dir := socketDir(t)
	for _, addr := range []string{filepath.Join(dir, "nc.sock"), "@" + abstractName(t)} {
		t.Run(addr, func(t *testing.T) {
			s := startCLI(t, strings.NewReader("hello from uds\n"), "listen", addr)
			s.waitListening(t)
			client := toolCommand(t, "nc", "-N", "-U", addr)
			client.Stdin = strings.NewReader("hello from nc\n")
			out, err := client.Output()
			require.NoError(t, err)
			assert.Equal(t, "hello from uds\n", string(out))
			assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
			assert.Equal(t, "hello from nc\n", s.stdout.String())
		})
	}
}

func TestListenAbstractSocat(t *testing.T) {
	requireTool(t, "socat")
	name := abstractName(t) + "-x"
	s := startCLI(t, strings.NewReader("from server\n"), "listen", "@"+name)
	s.waitListening(t)
	assert.Equal(t, "listening on @"+name+"\n", s.stderr.String())
	client := toolCommand(t, "socat", "-t", "5", "-", "ABSTRACT-CONNECT:"+name)
	client.Stdin = strings.NewReader("from client\n")
	out, err := client.Output()
	require.NoError(t, err)
	assert.Equal(t, "from server\n", string(out))
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.Equal(t, "from client\n", s.stdout.String())
}

// TestListenKeepOpen accepts several connections in turn; stdin goes to
// the first only.
func TestListenKeepOpen(t *testing.T) {
	path := filepath.Join(socketDir(t), "k.sock")
	s := startCLI(t, strings.NewReader("to the first\n"), "listen", path, "-k")
	s.waitListening(t)
	for i, msg := range []string{"one\n", "two\n", "three\n"} {
		c, err := uds.Dial(context.Background(), uds.Path(path))
		require.NoError(t, err)
		_, err = io.WriteString(c, msg)
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		if i == 0 {
			assert.Equal(t, "to the first\n", string(got))
		} else {
			assert.Empty(t, string(got))
		}
		c.Close()
	}
	require.Eventually(t, func() bool { return s.stdout.String() == "one\ntwo\nthree\n" }, 5*time.Second, 5*time.Millisecond)
	assert.False(t, s.exited())
	s.signal(syscall.SIGTERM)
	assert.Equal(t, 143, s.wait(t))
	assert.NoFileExists(t, path)
	assert.NoFileExists(t, path+".lock")
}

func TestListenInUse(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "busy.sock")
	listenTest(t, uds.Path(path))
	name := abstractName(t)
	listenTest(t, uds.Abstract(name))
	for _, addr := range []string{path, "@" + name} {
		code, out, errOut := runCLI(t, "", "listen", addr)
		assert.Equal(t, exitCantCreate, code, addr)
		assert.Empty(t, out)
		assert.Regexp(t, `^uds: listen `+regexp.QuoteMeta(addr)+`: address in use \(.+\) by process `+strconv.Itoa(os.Getpid())+` \(.+\)\n$`, errOut)
	}
	_, err := os.Lstat(path)
	assert.NoError(t, err, "the live socket stays")

	code, _, errOut := runCLI(t, "", "listen", dir)
	assert.Equal(t, exitCantCreate, code)
	assert.Contains(t, errOut, "not a socket")

	code, _, errOut = runCLI(t, "", "listen", filepath.Join(dir, "nodir", "x.sock"))
	assert.Equal(t, exitUnavailable, code)
	assert.Contains(t, errOut, "no such file or directory")
}

// TestListenSignal runs uds listen as a process and stops it with a signal:
// it exits 128+signal and removes its socket file and lock file, also in the
// middle of a connection.
func TestListenSignal(t *testing.T) {
	for _, tc := range []struct {
		sig      syscall.Signal
		code     int
		abstract bool
		connect  bool
	}{
		{syscall.SIGTERM, 143, false, false},
		{syscall.SIGINT, 130, false, true},
		{syscall.SIGTERM, 143, true, true},
	} {
		t.Run(fmt.Sprintf("%v/abstract=%v/connected=%v", tc.sig, tc.abstract, tc.connect), func(t *testing.T) {
			path := filepath.Join(socketDir(t), "sig.sock")
			addr := path
			if tc.abstract {
				addr = "@" + abstractName(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := udsCommand(t, ctx, "listen", addr)
			stdin, err := cmd.StdinPipe() // kept open
			require.NoError(t, err)
			defer stdin.Close()
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			line, err := bufio.NewReader(stderr).ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "listening on "+addr+"\n", line)
			if !tc.abstract {
				assert.FileExists(t, path+".lock")
				fi, err := os.Lstat(path)
				require.NoError(t, err)
				assert.Equal(t, os.ModeSocket, fi.Mode().Type())
			}
			a, err := uds.ParseAddr(addr)
			require.NoError(t, err)
			if tc.connect {
				c, err := uds.Dial(ctx, a)
				require.NoError(t, err)
				defer c.Close()
				_, err = io.WriteString(stdin, "ping\n")
				require.NoError(t, err)
				buf := make([]byte, 5)
				_, err = io.ReadFull(c, buf)
				require.NoError(t, err)
				assert.Equal(t, "ping\n", string(buf))
			}

			require.NoError(t, cmd.Process.Signal(tc.sig))
			err = cmd.Wait()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit: %v", err)
			assert.Equal(t, tc.code, ee.ExitCode())
			if !tc.abstract {
				assert.NoFileExists(t, path)
				assert.NoFileExists(t, path+".lock")
			}
			r, err := diag.Probe(ctx, a)
			require.NoError(t, err)
			assert.Equal(t, diag.ProbeMissing, r.State)
		})
	}
}

// TestDialSocat bridges uds dial to a socat server both ways.
func TestDialSocat(t *testing.T) {
	requireTool(t, "socat")
	path := filepath.Join(socketDir(t), "socat.sock")
	server := toolCommand(t, "socat", "-t", "5", "UNIX-LISTEN:"+path, "-")
	server.Stdin = strings.NewReader("from socat\n")
	var sout, serr syncBuffer
	server.Stdout, server.Stderr = &sout, &serr
	require.NoError(t, server.Start())
	defer server.Process.Kill()

	// socat binds before it listens: --wait rides out the refusals.
	code, out, errOut := runCLI(t, "from uds\n", "dial", "--wait", "--timeout", "10s", path)
	assert.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "from socat\n", out)
	assert.Empty(t, errOut)
	require.NoError(t, server.Wait(), serr.String())
	assert.Equal(t, "from uds\n", sout.String())
}

// TestDialWait starts uds dial --wait before its server exists.
func TestDialWait(t *testing.T) {
	dir := socketDir(t)
	for _, addr := range []uds.Addr{uds.Path(filepath.Join(dir, "later.sock")), uds.Abstract(abstractName(t))} {
		t.Run(addr.String(), func(t *testing.T) {
			s := startCLI(t, strings.NewReader("ping\n"), "dial", "--wait", "--timeout", "20s", addr.String())
			time.Sleep(150 * time.Millisecond)
			require.False(t, s.exited(), "dial gave up: %s", s.stderr.String())

			l := listenTest(t, addr)
			c, err := l.Accept()
			require.NoError(t, err)
			defer c.Close()
			got, err := io.ReadAll(c) // uds dial shuts down its side at stdin's end
			require.NoError(t, err)
			assert.Equal(t, "ping\n", string(got))
			_, err = io.WriteString(c, "pong\n")
			require.NoError(t, err)
			require.NoError(t, c.Close())

			assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
			assert.Equal(t, "pong\n", s.stdout.String())
		})
	}
}

func TestDialBind(t *testing.T) {
	dir := socketDir(t)
	srv := uds.Path(filepath.Join(dir, "srv.sock"))
	l := listenTest(t, srv)
	local := filepath.Join(dir, "client.sock")
	s := startCLI(t, strings.NewReader(""), "dial", "--bind", local, srv.String())
	c, err := l.Accept()
	require.NoError(t, err)
	assert.Equal(t, local, c.RemoteAddr().String())
	require.NoError(t, c.Close())
	assert.Equal(t, exitOK, s.wait(t), s.stderr.String())
	assert.NoFileExists(t, local, "the --bind path is removed on exit")
	assert.NoFileExists(t, local+".lock")
}

func TestDialFailure(t *testing.T) {
	dir := socketDir(t)
	missing := filepath.Join(dir, "missing.sock")
	code, out, errOut := runCLI(t, "", "dial", missing)
	assert.Equal(t, exitUnavailable, code)
	assert.Empty(t, out)
	assert.Equal(t, "uds: dial "+missing+": connect: no such file or directory\n", errOut)

	stale := filepath.Join(dir, "stale.sock")
	staleSocket(t, stale)
	code, _, errOut = runCLI(t, "", "dial", stale)
	assert.Equal(t, exitUnavailable, code)
	assert.Contains(t, errOut, "connection refused")

	start := time.Now()
	code, _, errOut = runCLI(t, "", "dial", "--wait", "--timeout", "200ms", missing)
	assert.Equal(t, exitUnavailable, code)
	assert.Contains(t, errOut, "deadline exceeded")
	assert.Less(t, time.Since(start), 5*time.Second)
}

// TestDialSignal stops a waiting uds dial as SIGINT would.
func TestDialSignal(t *testing.T) {
	s := startCLI(t, strings.NewReader(""), "dial", "--wait", "--timeout", "0", "@"+abstractName(t))
	time.Sleep(50 * time.Millisecond)
	require.False(t, s.exited(), s.stderr.String())
	s.signal(syscall.SIGINT)
	assert.Equal(t, 130, s.wait(t))
}

// TestProcessExitCode runs the real process for probe's exit codes.
func TestProcessExitCode(t *testing.T) {
	dir := socketDir(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"probe", filepath.Join(dir, "none")}, exitMissing},
		{[]string{"probe", dir}, exitNotSocket},
		{[]string{"bogus"}, exitUsage},
		{[]string{"--help"}, exitOK},
	} {
		err := udsCommand(t, context.Background(), tc.args...).Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, tc.code, code, tc.args)
	}
}
