package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
