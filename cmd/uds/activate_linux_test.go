package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
	"github.com/udskit/uds/activation"
)

// reportActivatedArg makes the test binary, run as CMD by uds activate,
// report what activation.Get gives it instead of running the tests.
const reportActivatedArg = "__uds-test-report-activated"

func init() {
	if len(os.Args) > 1 && os.Args[1] == reportActivatedArg {
		reportActivated()
		os.Exit(0)
	}
}

// activatedReport is what reportActivated prints.
type activatedReport struct {
	ListenPIDIsMine bool             `json:"listen_pid_is_mine"`
	EnvUnset        bool             `json:"env_unset"`
	Names           []string         `json:"names"`
	Sockets         []activatedEntry `json:"sockets"`
	Err             string           `json:"err"`
}

type activatedEntry struct {
	Name, Type, Addr string
}

func reportActivated() {
	var r activatedReport
	r.ListenPIDIsMine = os.Getenv("LISTEN_PID") == fmt.Sprint(os.Getpid())
	a, err := activation.Get(true)
	if err != nil {
		r.Err = err.Error()
	} else {
		_, pidSet := os.LookupEnv("LISTEN_PID")
		r.EnvUnset = !pidSet
		r.Names = a.Names()
		for _, name := range r.Names {
			e := activatedEntry{Name: name}
			if l, err := a.Listener(name); err == nil {
				e.Type, e.Addr = l.Addr().(uds.Addr).Type().String(), l.Addr().String()
				l.Close()
			} else if c, err := a.DatagramConn(name); err == nil {
				e.Type, e.Addr = "datagram", c.LocalAddr().String()
				c.Close()
			} else {
				e.Type = "error: " + err.Error()
			}
			r.Sockets = append(r.Sockets, e)
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// TestActivateLibrary runs "uds activate" with three sockets of three types
// and the test binary as CMD, which reads them with activation.Get.
func TestActivateLibrary(t *testing.T) {
	dir := socketDir(t)
	stream := filepath.Join(dir, "s.sock")
	staleSocket(t, stream) // reclaimed, as uds.Listen does
	dgram := filepath.Join(dir, "d.sock")
	seq := "@" + abstractName(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := udsCommand(t, ctx, "activate",
		"-l", stream, "--fdname", "web",
		"-l", seq, "--type", "seqpacket", "--fdname", "ctl",
		"-l", dgram, "--type", "dgram", "--fdname", "log", "--mode", "0620",
		"--", exe, reportActivatedArg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var r activatedReport
	require.NoError(t, json.Unmarshal(out, &r), string(out))
	assert.Empty(t, r.Err)
	assert.True(t, r.ListenPIDIsMine, "LISTEN_PID is CMD's own PID")
	assert.True(t, r.EnvUnset)
	assert.Equal(t, []string{"web", "ctl", "log"}, r.Names)
	assert.Equal(t, []activatedEntry{
		{"web", "stream", stream},
		{"ctl", "seqpacket", seq},
		{"log", "datagram", dgram},
	}, r.Sockets)
	assert.Contains(t, stderr.String(), "listening on "+stream+" (stream) as descriptor 3, name web")
	for _, p := range []string{stream, dgram} {
		assert.NoFileExists(t, p, "removed when CMD exits")
	}
}

// pythonActivated reads the sockets systemd's way, reports them as JSON,
// then answers one connection on descriptor 3 and exits.
const pythonActivated = `
import json, os, socket, sys
n = int(os.environ["LISTEN_FDS"])
r = {"pid_ok": os.environ.get("LISTEN_PID") == str(os.getpid()),
     "fds": n, "names": os.environ.get("LISTEN_FDNAMES"), "socks": []}
for i in range(n):
    s = socket.socket(fileno=3 + i)
    name = s.getsockname()
    if isinstance(name, bytes):
        name = "@" + name[1:].decode()
    r["socks"].append({"family": int(s.family), "type": int(s.type), "addr": name,
        "listening": s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)})
    s.detach()
print(json.dumps(r, sort_keys=True), flush=True)
s = socket.socket(fileno=3)
c, _ = s.accept()
c.sendall(b"hello from python\n")
c.close()
`

// runActivator runs an activator command line (uds activate or
// systemd-socket-activate) with the python3 program as CMD: it connects
// to path (systemd-socket-activate starts CMD on the first connection),
// and returns the program's report and what it answered.
func runActivator(t *testing.T, cmd *exec.Cmd, path string) (report map[string]any, answer string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var conn net.Conn
	require.Eventually(t, func() bool {
		conn, err = net.Dial("unix", path)
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	defer conn.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr.String())
	require.NoError(t, json.Unmarshal([]byte(line), &report), line)
	b, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait(), stderr.String())
	return report, string(b)
}

// TestActivatePythonLikeSystemd runs the same python3 program under
// systemd-socket-activate and under uds activate, and compares what it
// sees: the same variables, descriptors, types and addresses.
func TestActivatePythonLikeSystemd(t *testing.T) {
	py := requireTool(t, "python3")
	dir := socketDir(t)
	path := filepath.Join(dir, "py.sock")
	abs := "@" + abstractName(t)
	dpath := filepath.Join(dir, "pyd.sock")

	// systemd-socket-activate takes one type for all its sockets.
	ssa := toolCommand(t, "systemd-socket-activate", "-l", path, "-l", abs, "--fdname=web:ctl", py, "-c", pythonActivated)
	want, answer := runActivator(t, ssa, path)
	assert.Equal(t, "hello from python\n", answer)
	require.Equal(t, true, want["pid_ok"], "%v", want)

	// It leaves its socket file behind; uds reclaims it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, answer := runActivator(t, udsCommand(t, ctx, "activate", "-l", path, "--fdname", "web", "-l", abs, "--fdname", "ctl", "--", py, "-c", pythonActivated), path)
	assert.Equal(t, "hello from python\n", answer)
	assert.Equal(t, want, got)
	assert.NoFileExists(t, path)

	// Without names, neither sets LISTEN_FDNAMES; with a datagram socket.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	got, _ = runActivator(t, udsCommand(t, ctx2, "activate", "-l", path, "-l", dpath, "--type", "datagram", "--", py, "-c", pythonActivated), path)
	assert.Equal(t, map[string]any{
		"pid_ok": true, "fds": float64(2), "names": nil,
		"socks": []any{
			map[string]any{"family": float64(syscall.AF_UNIX), "type": float64(syscall.SOCK_STREAM), "addr": path, "listening": float64(1)},
			map[string]any{"family": float64(syscall.AF_UNIX), "type": float64(syscall.SOCK_DGRAM), "addr": dpath, "listening": float64(0)},
		},
	}, got)
}

// TestActivateExitAndSignals checks that uds activate exits with CMD's
// status, passes SIGTERM and SIGHUP on, removes its socket files unless
// --keep, and refuses an address in use.
func TestActivateExitAndSignals(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "x.sock")
	code, _, errOut := runCLI(t, "", "activate", "-l", path, "--", "sh", "-c", `[ "$LISTEN_FDS" = 1 ] && [ "$LISTEN_PID" = $$ ] && exit 3`)
	assert.Equal(t, 3, code, errOut)
	assert.NoFileExists(t, path)

	code, _, errOut = runCLI(t, "", "activate", "--keep", "-l", path, "--", "true")
	assert.Equal(t, 0, code, errOut)
	code, out, _ := runCLI(t, "", "probe", path)
	assert.Equal(t, exitStale, code, "kept: %s", out)

	for _, tc := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGTERM, 143}, {syscall.SIGHUP, 7}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := udsCommand(t, ctx, "activate", "-l", path, "--", "sh", "-c", `trap 'exit 7' HUP; echo ready; while :; do sleep 0.02; done`)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		_, err = bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err)
		code, out, _ := runCLI(t, "", "probe", path)
		assert.Equal(t, exitLive, code, out)
		require.NoError(t, cmd.Process.Signal(tc.sig))
		err = cmd.Wait()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, tc.want, ee.ExitCode(), "after %v", tc.sig)
		assert.NoFileExists(t, path)
		cancel()
	}

	// --type before the first -l is every socket's default; after an -l,
	// that socket's own.
	code, _, errOut = runCLI(t, "", "activate", "--type", "datagram", "-l", path, "-l", "@"+abstractName(t), "--type", "stream", "--",
		requireTool(t, "python3"), "-c", `import socket, sys
sys.exit(0 if [socket.socket(fileno=f).type for f in (3, 4)] == [socket.SOCK_DGRAM, socket.SOCK_STREAM] else 5)`)
	assert.Equal(t, 0, code, errOut)

	l := listenTest(t, uds.Path(path))
	code, _, errOut = runCLI(t, "", "activate", "-l", path, "--", "true")
	assert.Equal(t, exitCantCreate, code)
	assert.Contains(t, errOut, "address in use")
	l.Close()

	code, _, errOut = runCLI(t, "", "activate", "-l", path, "--", "/nonexistent/cmd")
	assert.Equal(t, exitCmdNotFound, code, errOut)
	assert.NoFileExists(t, path, "nothing opened for a missing CMD")
}

func TestActivateUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"activate", "--", "true"}, "missing -l ADDR"},
		{[]string{"activate", "-l", "@x"}, "missing CMD"},
		{[]string{"activate", "--fdname", "a", "-l", "@x", "true"}, "goes after the -l"},
		{[]string{"activate", "-l", "@x", "--fdname", "a:b", "true"}, "without \":\""},
		{[]string{"activate", "-l", "@x", "--fdname", "a", "--fdname", "b", "true"}, "already named"},
		{[]string{"activate", "-l", "", "true"}, "empty path"},
		{[]string{"activate", "-l", "tcp://x", "true"}, "tcp URL"},
		{[]string{"activate", "-l", "(autobind)", "true"}, "names no socket"},
		{[]string{"activate", "-l", "@x", "--type", "raw", "true"}, "want stream, seqpacket or datagram"},
		{[]string{"activate", "-l", "@x", "--mode", "0660", "true"}, "for pathname sockets"},
		{[]string{"activate", "-l", "@x", "--bogus", "true"}, "unknown option --bogus"},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
	}
}
