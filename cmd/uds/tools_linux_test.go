package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
)

// TestAddrForms checks the addresses every command refuses: an empty one
// (lock included) and URLs of schemes other than unix: and unix-abstract:.
func TestAddrForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lock", "", "--", "true"}, "NAME: empty name"},
		{[]string{"lock", "", "true"}, "NAME: empty name"},
		{[]string{"lock", "tcp://x", "--", "true"}, "tcp URL"},
		{[]string{"probe", ""}, "empty path"},
		{[]string{"probe", "tcp://x"}, "tcp URL, not a Unix socket address"},
		{[]string{"probe", "http://localhost:80/x"}, "http URL"},
		{[]string{"who", "grpc+unix://x"}, "grpc+unix URL"},
		{[]string{"ls", "--name", "tcp://x"}, "tcp URL"},
		{[]string{"probe", "--type", "raw", "@x"}, "want stream, seqpacket or datagram"},
		{[]string{"ls", "--type", "raw"}, "want stream, seqpacket or datagram"},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
	}
	// The uds forms with "://" and a relative path written with ./ still
	// parse.
	dir := socketDir(t)
	for _, addr := range []string{"unix://" + dir + "/none.sock", "./tcp://x", "unix-abstract:a://b"} {
		code, out, errOut := runCLI(t, "", "probe", addr)
		assert.Equal(t, exitMissing, code, "%s: %s%s", addr, out, errOut)
	}
}

// TestTypeWords checks that the TYPE column, the JSON and the --type values
// are SocketType's words.
func TestTypeWords(t *testing.T) {
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		got, ok := parseSocketType(typ.String())
		assert.True(t, ok, typ.String())
		assert.Equal(t, typ, got)
	}
	path := filepath.Join(socketDir(t), "d.sock")
	c, err := uds.ListenDatagram(context.Background(), uds.Path(path))
	require.NoError(t, err)
	defer c.Close()
	for _, word := range []string{"datagram", "dgram"} {
		code, out, errOut := runCLI(t, "", "ls", "--path", path, "--type", word)
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, `(?m)^path +datagram +unconnected .*`+regexpQuote(path), out)
	}
}

func regexpQuote(s string) string { return strings.NewReplacer(".", `\.`).Replace(s) }

// TestOwnerLookupSaysItOnce checks that an unknown group or user is named
// once, without os/user's prefix repeated.
func TestOwnerLookupSaysItOnce(t *testing.T) {
	dir := socketDir(t)
	for _, lc := range []uds.ListenConfig{{Group: "no-such-group-uds"}, {Owner: "no-such-user-uds"}} {
		_, err := lc.Listen(context.Background(), uds.Path(filepath.Join(dir, "o.sock")))
		require.Error(t, err)
		msg := describe(err)
		if lc.Group != "" {
			assert.Contains(t, msg, "socket group: unknown group no-such-group-uds")
			assert.Equal(t, 1, strings.Count(msg, "group:"), msg)
			assert.Equal(t, 1, strings.Count(msg, "unknown group"), msg)
		} else {
			assert.Contains(t, msg, "socket owner: unknown user no-such-user-uds")
			assert.Equal(t, 1, strings.Count(msg, "unknown user"), msg)
			assert.NotContains(t, msg, "user: ")
		}
	}
}

// TestProbeAbstractAnyType checks that probe finds an abstract name bound by
// a socket of any type (each type has its own abstract names), that --type
// looks at that type only, and that a datagram socket is not connected to.
func TestProbeAbstractAnyType(t *testing.T) {
	requireTool(t, "ss")
	seq := abstractName(t)
	startListenerTool(t, "socat", "ABSTRACT-LISTEN:"+seq+",type=5,fork", "EXEC:true")
	dg := abstractName(t)
	py := startListenerTool(t, "python3", "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0`+dg+`")
print("bound", flush=True)
sys.stdin.read()
`)
	var seqAddr = "@" + seq
	require.Eventually(t, func() bool {
		code, _, _ := runCLI(t, "", "who", seqAddr)
		code2, _, _ := runCLI(t, "", "who", "@"+dg)
		return code == exitServed && code2 == exitServed
	}, 10*time.Second, 10*time.Millisecond)

	code, out, errOut := runCLI(t, "", "probe", seqAddr)
	assert.Equal(t, exitLive, code, errOut)
	assert.Regexp(t, `^live pid=\d+ \(socat\) accepting connections \(seqpacket\)\n$`, out)
	code, r := probeAsJSON(t, "@"+dg)
	assert.Equal(t, exitLive, code)
	assert.Equal(t, "live", r.State)
	assert.Equal(t, "datagram", r.Type)
	assert.Equal(t, py.Process.Pid, r.PID)
	assert.Equal(t, "python3", r.Comm)

	for _, tc := range []struct {
		typ, addr string
		want      int
	}{
		{"stream", seqAddr, exitMissing},
		{"datagram", seqAddr, exitMissing},
		{"seqpacket", seqAddr, exitLive},
		{"stream", "@" + dg, exitMissing},
		{"seqpacket", "@" + dg, exitMissing},
		{"datagram", "@" + dg, exitLive},
		{"dgram", "@" + dg, exitLive},
	} {
		code, out, errOut := runCLI(t, "", "probe", "--type", tc.typ, tc.addr)
		assert.Equal(t, tc.want, code, "probe --type %s %s: %s%s", tc.typ, tc.addr, out, errOut)
	}
	code, _, _ = runCLI(t, "", "probe", "@"+abstractName(t))
	assert.Equal(t, exitMissing, code)

	// The datagram socket is still unconnected: no probe connected to it.
	socks := lsJSON(t, 0, "ls", "--json", "--name", "@"+dg)
	require.Len(t, socks, 1)
	assert.Equal(t, "unconnected", socks[0].State)
	assert.Contains(t, ssSocketLine(t, "l", socks[0].Inode), "UNCONN", "still listed by ss -xl")
}

// TestProbeStaleAsNobody checks that a user who may not connect to a stale
// root-owned socket file in a sticky directory is told "stale", not an
// error.
func TestProbeStaleAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the probe as uid 65534")
	}
	sticky, err := os.MkdirTemp("", "udssticky")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(sticky) })
	require.NoError(t, os.Chmod(sticky, 0o1777))
	exe := nobodyExecutable(t)
	for _, mode := range []os.FileMode{0o755, 0o600} {
		path := filepath.Join(sticky, "stale.sock")
		os.Remove(path)
		staleSocket(t, path)
		require.NoError(t, os.Chmod(path, mode))
		for _, typ := range []string{"stream", "datagram"} {
			cmd := exec.Command(exe, "probe", "--type", typ, path)
			cmd.Env = append(os.Environ(), envRunMain+"=1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%s", out)
			assert.Equal(t, exitStale, ee.ExitCode(), "mode %v, --type %s: %s", mode, typ, out)
			assert.Equal(t, "stale\n", string(out), "mode %v", mode)
		}
	}
}

// nobodyExecutable copies the test binary where uid 65534 can run it.
func nobodyExecutable(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "udsexe")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	exe := filepath.Join(dir, "uds.test")
	require.NoError(t, os.WriteFile(exe, data, 0o755))
	return exe
}

// TestLsListeningDatagram checks that ls -l lists a bound datagram server
// (socat), as ss -xl does, and leaves unbound sockets out.
func TestLsListeningDatagram(t *testing.T) {
	path := filepath.Join(socketDir(t), "dg.sock")
	socat := startListenerTool(t, "socat", "-u", "UNIX-RECVFROM:"+path+",fork", "-")
	require.Eventually(t, func() bool { _, err := os.Lstat(path); return err == nil }, 10*time.Second, 5*time.Millisecond)
	socks := lsJSON(t, 0, "ls", "--json", "-l")
	s := find(socks, path, "unconnected")
	require.NotNil(t, s, "ls -l lists the datagram server")
	assert.Equal(t, "datagram", s.Type)
	require.Len(t, s.Procs, 1)
	assert.Equal(t, socat.Process.Pid, s.Procs[0].PID)
	assert.Contains(t, ssSocketLine(t, "l", s.Inode), path, "ss -xl lists it too")
	for _, s := range socks {
		assert.NotEqual(t, "(unnamed)", s.Addr, "an unbound socket serves nothing: %+v", s)
		assert.Contains(t, []string{"listen", "unconnected"}, s.State)
	}
	code, out, errOut := runCLI(t, "", "ls", "-l", "--state", "unconnected", "--type", "datagram")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^path +datagram +unconnected +0 +0 +`+regexpQuote(path)+` `, out)
}

// TestLsPeerProcess checks that ls shows the process at the other end of a
// connection (nc as client of socat, in two other processes), like
// lsof -U +E.
func TestLsPeerProcess(t *testing.T) {
	path := filepath.Join(socketDir(t), "p.sock")
	srv := startListenerTool(t, "socat", "UNIX-LISTEN:"+path, "STDIO")
	require.Eventually(t, func() bool { _, err := os.Lstat(path); return err == nil }, 10*time.Second, 5*time.Millisecond)
	cli := startListenerTool(t, "nc", "-U", path)
	var srvEnd, cliEnd *socketJSON
	require.Eventually(t, func() bool {
		socks := lsJSON(t, 0, "ls", "--json", "--state", "established", "--type", "stream")
		srvEnd, cliEnd = nil, nil
		for i := range socks {
			for _, p := range socks[i].Procs {
				switch p.PID {
				case srv.Process.Pid:
					srvEnd = &socks[i]
				case cli.Process.Pid:
					cliEnd = &socks[i]
				}
			}
		}
		return srvEnd != nil && cliEnd != nil
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, cliEnd.Inode, srvEnd.Peer)
	require.Len(t, srvEnd.PeerProcs, 1)
	assert.Equal(t, cli.Process.Pid, srvEnd.PeerProcs[0].PID)
	assert.Equal(t, "nc", srvEnd.PeerProcs[0].Comm)
	require.Len(t, cliEnd.PeerProcs, 1)
	assert.Equal(t, srv.Process.Pid, cliEnd.PeerProcs[0].PID)
	assert.Equal(t, "socat", cliEnd.PeerProcs[0].Comm)

	code, out, errOut := runCLI(t, "", "ls", "--path", path)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^path +stream +established .* socat pid=`+strconv.Itoa(srv.Process.Pid)+` fd=\d+ +nc pid=`+strconv.Itoa(cli.Process.Pid)+` fd=\d+$`, out)
}

// longPathDir returns a directory whose socket paths are longer than
// sun_path.
func longPathDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(socketDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestLsLongPath checks that a socket bound through /proc/self/fd/N/NAME is
// shown by its real path while the binder holds the directory (the uds
// library does), and marked otherwise (python3 closing it), never as a bare
// /proc/self/fd path.
func TestLsLongPath(t *testing.T) {
	dir := longPathDir(t)
	path := filepath.Join(dir, "long.sock")
	require.Greater(t, len(path), uds.MaxPathLen)
	listenTest(t, uds.Path(path))

	socks := lsJSON(t, 0, "ls", "--json", "--pid", strconv.Itoa(os.Getpid()), "-l")
	var s *socketJSON
	for i := range socks {
		if strings.HasSuffix(socks[i].Addr, "/long.sock") {
			s = &socks[i]
		}
	}
	require.NotNil(t, s, "%+v", socks)
	assert.True(t, strings.HasPrefix(s.Addr, "/proc/self/fd/"), "addr is the kernel's name: %s", s.Addr)
	assert.Equal(t, path, s.FilePath)
	code, out, errOut := runCLI(t, "", "ls", "--name", path)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^path +stream +listen .* `+regexpQuote(path)+` `, out)
	assert.NotContains(t, out, "/proc/self/fd")
	code, out, errOut = runCLI(t, "", "who", path)
	require.Equal(t, exitServed, code, errOut)
	assert.NotContains(t, out, "/proc/self/fd")
	assert.NotContains(t, out, "bound as")

	// python3 binds through a directory descriptor and closes it: the
	// real path cannot be learnt.
	pyPath := filepath.Join(dir, "py.sock")
	startListenerTool(t, "python3", "-c", `
import os, socket, sys
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
s = socket.socket(socket.AF_UNIX)
s.bind("/proc/self/fd/%d/py.sock" % d)
os.close(d)
s.listen()
sys.stdin.read()
`, dir)
	require.Eventually(t, func() bool { _, err := os.Lstat(pyPath); return err == nil }, 10*time.Second, 5*time.Millisecond)
	code, out, errOut = runCLI(t, "", "who", pyPath)
	require.Equal(t, exitServed, code, errOut)
	assert.Regexp(t, `bound as /proc/self/fd/\d+/py\.sock \(long path via /proc/self/fd\)`, out)
	code, out, errOut = runCLI(t, "", "ls", "-l")
	require.Equal(t, 0, code, errOut)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "/proc/self/fd/") {
			assert.Contains(t, line, "(long path via /proc/self/fd)", "never a bare /proc/self/fd path: %s", line)
		}
	}
}
