//go:build linux

package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// startListenerTool starts an external program that listens until the test
// ends; its stdin stays open (nc and python3 wait on it).
func startListenerTool(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(requireTool(t, name), args...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// lsJSON runs "uds ARGS" (ls or who with --json) and decodes the array.
func lsJSON(t *testing.T, wantCode int, args ...string) []socketJSON {
	t.Helper()
	code, out, errOut := runCLI(t, "", args...)
	require.Equal(t, wantCode, code, "uds %q: %s", args, errOut)
	require.Empty(t, errOut)
	var socks []socketJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&socks), out)
	require.NotNil(t, socks, "an array, [] when empty: %s", out)
	return socks
}

func fdOf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(f uintptr) { fd = int(f) }))
	return fd
}

func find(socks []socketJSON, addr string, state string) *socketJSON {
	for i, s := range socks {
		if s.Addr == addr && s.State == state {
			return &socks[i]
		}
	}
	return nil
}

func TestLsJSON(t *testing.T) {
	path := filepath.Join(socketDir(t), "ls.sock")
	ln := listenTest(t, uds.Path(path))
	name := abstractName(t) + "\x00nul"
	aln := listenTest(t, uds.Abstract(name))

	socks := lsJSON(t, 0, "ls", "--json")
	for _, tc := range []struct {
		addr, kind string
		fd         int
	}{
		{path, "path", fdOf(t, ln)},
		{uds.Abstract(name).String(), "abstract", fdOf(t, aln)},
	} {
		s := find(socks, tc.addr, "listen")
		require.NotNil(t, s, "uds ls --json lists %s", tc.addr)
		assert.Equal(t, tc.kind, s.Kind)
		assert.Equal(t, "stream", s.Type)
		assert.Equal(t, []procJSON{{PID: os.Getpid(), Comm: processName(os.Getpid()), FD: tc.fd}}, s.Procs)
		assert.Equal(t, os.Getuid(), s.UID)
		assert.NotZero(t, s.Inode)
		assert.False(t, s.Shadowed)
		a, err := uds.ParseAddr(s.Addr)
		require.NoError(t, err)
		if tc.kind == "abstract" {
			assert.Equal(t, name, a.Name(), "the exact name, NUL included, round-trips")
		}
	}
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st))
	s := find(socks, path, "listen")
	assert.Equal(t, st.Dev, s.FileDev)
	assert.Equal(t, st.Ino, s.FileIno)
}

func TestLsText(t *testing.T) {
	path := filepath.Join(socketDir(t), "text.sock")
	ln := listenTest(t, uds.Path(path))
	code, out, errOut := runCLI(t, "", "ls", "-l")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	header := lines[0]
	require.Regexp(t, `^KIND +TYPE +STATE +RECV-Q +SEND-Q +ADDRESS +INODE +PEER +PROCESS +PEER-PROCESS$`, header)
	var line string
	for _, l := range lines[1:] {
		assert.Regexp(t, ` (listen|unconnected) `, l, "-l lists listeners and bound sockets not connected")
		if strings.Contains(l, " "+path+" ") {
			line = l
		}
	}
	require.NotEmpty(t, line, out)
	want := "pid=" + strconv.Itoa(os.Getpid()) + " fd=" + strconv.Itoa(fdOf(t, ln))
	assert.Contains(t, line, want)
	assert.Equal(t, strings.Index(header, "ADDRESS"), strings.Index(line, path), "aligned columns")
	assert.Equal(t, strings.Index(header, " PROCESS")+1, strings.Index(line, processName(os.Getpid())+" pid="))
	assert.True(t, strings.HasPrefix(line, "path  "), line)
}

func TestLsFilters(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "f.sock")
	ln := listenTest(t, uds.Path(path))
	c, err := uds.Dial(context.Background(), uds.Path(path))
	require.NoError(t, err)
	defer c.Close()
	sc, err := ln.Accept()
	require.NoError(t, err)
	defer sc.Close()
	name := abstractName(t)
	dg, err := uds.ListenDatagram(context.Background(), uds.Abstract(name))
	require.NoError(t, err)
	defer dg.Close()

	// --path: the listener and its accepted connection, found by inode
	// even through a renamed file.
	moved := filepath.Join(dir, "moved.sock")
	require.NoError(t, os.Rename(path, moved))
	socks := lsJSON(t, 0, "ls", "--json", "--path", moved)
	require.Len(t, socks, 2)
	assert.Equal(t, "listen", socks[0].State)
	assert.Equal(t, "established", socks[1].State)
	for _, s := range socks {
		assert.Equal(t, path, s.Addr)
		assert.False(t, s.Shadowed)
	}
	socks = lsJSON(t, 0, "ls", "--json", "--path", path)
	require.Len(t, socks, 2, "the old name: bound there, shadowed")
	for _, s := range socks {
		assert.True(t, s.Shadowed)
	}
	require.NoError(t, os.Rename(moved, path))

	socks = lsJSON(t, 0, "ls", "--json", "--name", path)
	require.Len(t, socks, 2)
	socks = lsJSON(t, 0, "ls", "--json", "--name", path, "-l")
	require.Len(t, socks, 1)
	socks = lsJSON(t, 0, "ls", "--json", "--name", path, "--state", "established")
	require.Len(t, socks, 1)
	assert.Equal(t, []procJSON{{os.Getpid(), processName(os.Getpid()), fdOf(t, sc.(syscall.Conn))}}, socks[0].Procs)

	socks = lsJSON(t, 0, "ls", "--json", "--name", "@"+name)
	require.Len(t, socks, 1)
	assert.Equal(t, "datagram", socks[0].Type)
	assert.Equal(t, "unconnected", socks[0].State)
	assert.Len(t, lsJSON(t, 0, "ls", "--json", "--name", "@"+name, "--type", "stream"), 0)
	assert.Len(t, lsJSON(t, 0, "ls", "--json", "--name", "@"+name, "--type", "dgram"), 1)
	assert.Len(t, lsJSON(t, 0, "ls", "--json", "--name", "@"+name, "-l"), 1, "a bound datagram socket is listed by -l, as by ss -xl")

	socks = lsJSON(t, 0, "ls", "--json", "--pid", strconv.Itoa(os.Getpid()))
	var addrs []string
	for _, s := range socks {
		addrs = append(addrs, s.Addr)
		assert.True(t, slices.ContainsFunc(s.Procs, func(p procJSON) bool { return p.PID == os.Getpid() }))
	}
	assert.Contains(t, addrs, path)
	assert.Contains(t, addrs, "@"+name)
	assert.Contains(t, addrs, "(unnamed)", "the dialed client")

	// A PID with no sockets, and an empty array.
	assert.Len(t, lsJSON(t, 0, "ls", "--json", "--pid", "1", "--name", "@"+name), 0)
}

// ssByInode returns the listeners of "ss -xlpn" by inode, with the PID and
// descriptor pairs holding them.
func ssByInode(t *testing.T) map[uint64][]procKey {
	t.Helper()
	out, err := exec.Command(requireTool(t, "ss"), "-xlpnH").Output()
	require.NoError(t, err)
	users := regexp.MustCompile(`\("[^"]*",pid=(\d+),fd=(\d+)\)`)
	m := map[uint64][]procKey{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		ino, err := strconv.ParseUint(f[5], 10, 64)
		if err != nil {
			continue
		}
		var ks []procKey
		for _, u := range users.FindAllStringSubmatch(line, -1) {
			pid, _ := strconv.Atoi(u[1])
			fd, _ := strconv.Atoi(u[2])
			ks = append(ks, procKey{pid, fd})
		}
		slices.SortFunc(ks, func(a, b procKey) int { return a.pid*1000 + a.fd - b.pid*1000 - b.fd })
		m[ino] = ks
	}
	return m
}

type procKey struct{ pid, fd int }

// whoRows parses "uds who" text output: PID, COMMAND, FD, INODE per row,
// and whether the row is marked shadowed.
type whoRow struct {
	pid, fd  int
	comm     string
	inode    uint64
	shadowed bool
}

func whoRows(t *testing.T, out string) []whoRow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Regexp(t, `^PID +COMMAND +FD +INODE +TYPE +STATE$`, lines[0])
	var rows []whoRow
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 6, l)
		pid, err := strconv.Atoi(f[0])
		require.NoError(t, err, l)
		fd, err := strconv.Atoi(f[2])
		require.NoError(t, err, l)
		ino, err := strconv.ParseUint(f[3], 10, 64)
		require.NoError(t, err, l)
		rows = append(rows, whoRow{pid, fd, f[1], ino, strings.Contains(l, "shadowed")})
	}
	return rows
}

// waitServed waits until "uds who ADDR" lists n rows.
func waitServed(t *testing.T, addr string, n int) []whoRow {
	t.Helper()
	var rows []whoRow
	require.Eventually(t, func() bool {
		code, out, _ := runCLI(t, "", "who", addr)
		if code != exitServed {
			return false
		}
		rows = whoRows(t, out)
		return len(rows) == n
	}, 10*time.Second, 10*time.Millisecond, "uds who %s never listed %d processes", addr, n)
	return rows
}

func TestWhoAgreesWithSS(t *testing.T) {
	dir := socketDir(t)
	ncPath := filepath.Join(dir, "nc.sock")
	socatName := abstractName(t)
	pyName := abstractName(t)
	nc := startListenerTool(t, "nc", "-lU", ncPath)
	socat := startListenerTool(t, "socat", "ABSTRACT-LISTEN:"+socatName+",fork", "EXEC:cat")
	py := startListenerTool(t, "python3", "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" + bytes.fromhex(sys.argv[1]))
s.listen(3)
sys.stdin.read()
`, hex.EncodeToString([]byte(pyName)))
	// A uds listener in another process.
	udsPath := filepath.Join(dir, "uds.sock")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	udsListener := udsCommand(t, ctx, "listen", "-k", udsPath)
	require.NoError(t, udsListener.Start())
	t.Cleanup(func() { udsListener.Process.Kill(); udsListener.Wait() })

	for _, tc := range []struct {
		addr string
		pid  int
		comm string
	}{
		{ncPath, nc.Process.Pid, "nc"},
		{"@" + socatName, socat.Process.Pid, "socat"},
		{"@" + pyName, py.Process.Pid, "python3"},
		{udsPath, udsListener.Process.Pid, ""},
	} {
		rows := waitServed(t, tc.addr, 1)
		r := rows[0]
		assert.Equal(t, tc.pid, r.pid, tc.addr)
		if tc.comm != "" {
			assert.Equal(t, tc.comm, r.comm, tc.addr)
		}
		assert.False(t, r.shadowed)
		ss := ssByInode(t)
		assert.Equal(t, []procKey{{r.pid, r.fd}}, ss[r.inode], "uds who %s agrees with ss -xlpn", tc.addr)

		socks := lsJSON(t, exitServed, "who", "--json", tc.addr)
		require.Len(t, socks, 1)
		assert.Equal(t, r.inode, socks[0].Inode)
		assert.Equal(t, []procJSON{{r.pid, r.comm, r.fd}}, socks[0].Procs)
		assert.Equal(t, "listen", socks[0].State)
	}
}

func TestWhoShadowed(t *testing.T) {
	path := filepath.Join(socketDir(t), "socket")
	nc1 := startListenerTool(t, "nc", "-lU", path)
	waitServed(t, path, 1)
	nc2 := startListenerTool(t, "nc", "-lU", path)
	rows := waitServed(t, path, 2)
	assert.Equal(t, nc2.Process.Pid, rows[0].pid)
	assert.False(t, rows[0].shadowed)
	assert.Equal(t, nc1.Process.Pid, rows[1].pid)
	assert.True(t, rows[1].shadowed, "the first nc is shadowed")
	ss := ssByInode(t)
	for _, r := range rows {
		assert.Equal(t, []procKey{{r.pid, r.fd}}, ss[r.inode])
	}
	code, out, _ := runCLI(t, "", "who", path)
	assert.Equal(t, exitServed, code)
	assert.Contains(t, out, "shadowed: not reachable at "+path)

	// The second nc serves one connection and exits: only the shadowed
	// one is left, which does not count as serving the path.
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	c.Close()
	require.Eventually(t, func() bool {
		code, _, _ := runCLI(t, "", "who", path)
		return code == exitNotServed
	}, 10*time.Second, 10*time.Millisecond)
	code, out, errOut := runCLI(t, "", "who", path)
	assert.Equal(t, exitNotServed, code)
	rows = whoRows(t, out)
	require.Len(t, rows, 1)
	assert.Equal(t, nc1.Process.Pid, rows[0].pid)
	assert.True(t, rows[0].shadowed)
	assert.Contains(t, errOut, "nothing serves "+path+": a stale socket file")
}

func TestWhoNothing(t *testing.T) {
	dir := socketDir(t)
	for _, addr := range []string{filepath.Join(dir, "none.sock"), "@" + abstractName(t)} {
		code, out, errOut := runCLI(t, "", "who", addr)
		assert.Equal(t, exitNotServed, code)
		assert.Empty(t, out)
		assert.Contains(t, errOut, "nothing serves "+addr)
		assert.Len(t, lsJSON(t, exitNotServed, "who", "--json", addr), 0)
	}
	code, _, errOut := runCLI(t, "", "who", dir)
	assert.Equal(t, exitNotServed, code)
	assert.Contains(t, errOut, "it is not a socket")
}

func TestLockRunsCommand(t *testing.T) {
	name := abstractName(t)
	code, _, errOut := runCLI(t, "", "lock", name, "--", "sh", "-c", "exit 3")
	assert.Equal(t, 3, code, errOut)
	code, _, _ = runCLI(t, "", "lock", "@"+name, "sh", "-c", "exit 4")
	assert.Equal(t, 4, code, "without --, parsing stops at CMD")
	code, out, _ := runCLI(t, "in\n", "lock", name, "--", "sh", "-c", "cat; echo out; echo err >&2")
	assert.Equal(t, 0, code)
	assert.Equal(t, "in\nout\n", out)
	// The command runs while the lock is held.
	code, out, _ = runCLI(t, "", "lock", name, "--", "sh", "-c", "ss -xlpH | grep -F '@"+name+" '")
	assert.Equal(t, 0, code, out)

	lockPath := filepath.Join(socketDir(t), "job.lock")
	code, _, _ = runCLI(t, "", "lock", "--file", lockPath, "--", "sh", "-c", "exit 5")
	assert.Equal(t, 5, code)
	code, _, _ = runCLI(t, "", "lock", lockPath, "--file", "--", "sh", "-c", "exit 6")
	assert.Equal(t, 6, code, "options between NAME and --")

	code, _, errOut = runCLI(t, "", "lock", name, "--", "/nonexistent/cmd")
	assert.Equal(t, exitCmdNotFound, code)
	assert.Contains(t, errOut, "/nonexistent/cmd")
	code, _, _ = runCLI(t, "", "lock", name, "--", lockPath) // not executable
	assert.Equal(t, exitCannotExec, code)
	code, _, _ = runCLI(t, "", "lock", name, "--", "sh", "-c", "kill -TERM $$")
	assert.Equal(t, 128+int(syscall.SIGTERM), code)
}

// startLockHolder runs "uds lock ARGS -- sleep 60" as another process and
// waits until it holds the lock.
func startLockHolder(t *testing.T, held func() bool, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := udsCommand(t, ctx, append(append([]string{"lock"}, args...), "--", "sleep", "60")...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	require.Eventually(t, held, 10*time.Second, 5*time.Millisecond)
	return cmd
}

func TestLockHeld(t *testing.T) {
	name := abstractName(t)
	holder := startLockHolder(t, func() bool {
		socks, err := diag.Who(context.Background(), uds.Abstract(name))
		return err == nil && len(socks) == 1 && len(socks[0].Procs) == 2
	}, name)
	pid := holder.Process.Pid
	socks, err := diag.Who(context.Background(), uds.Abstract(name))
	require.NoError(t, err)
	var pids []int
	for _, p := range socks[0].Procs {
		pids = append(pids, p.PID)
	}
	assert.Contains(t, pids, pid, "uds holds the lock, and so does its command (descriptor 3)")

	code, out, errOut := runCLI(t, "", "lock", name, "--", "echo", "ran")
	assert.Equal(t, exitLockHeld, code)
	assert.Empty(t, out, "the command does not run")
	assert.Regexp(t, `^uds lock: @`+regexp.QuoteMeta(name)+` is held by process `+strconv.Itoa(pid)+` \(.+\)\n$`, errOut)

	// --wait gives up after its time.
	start := time.Now()
	code, _, _ = runCLI(t, "", "lock", "--wait", "200ms", name, "--", "true")
	assert.Equal(t, exitLockHeld, code)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	// SIGTERM ends the command, and uds lets go once it has exited.
	require.NoError(t, holder.Process.Signal(syscall.SIGTERM))
	holder.Wait()
	code, out, _ = runCLI(t, "", "lock", name, "--", "echo", "ran")
	assert.Equal(t, 0, code)
	assert.Equal(t, "ran\n", out)
}

func TestLockFileHeld(t *testing.T) {
	path := filepath.Join(socketDir(t), "app.lock")
	holder := startLockHolder(t, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && len(b) > 0
	}, "--file", path)
	pid := holder.Process.Pid
	code, _, errOut := runCLI(t, "", "lock", "--file", path, "--", "true")
	assert.Equal(t, exitLockHeld, code)
	assert.Contains(t, errOut, path+" is held by process "+strconv.Itoa(pid))
	require.NoError(t, holder.Process.Signal(syscall.SIGTERM))
	holder.Wait()
	code, _, _ = runCLI(t, "", "lock", "--file", path, "--", "true")
	assert.Equal(t, 0, code)
}

func TestLockWait(t *testing.T) {
	name := abstractName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holder := udsCommand(t, ctx, "lock", name, "--", "sleep", "0.5")
	require.NoError(t, holder.Start())
	require.Eventually(t, func() bool {
		r, err := diag.Probe(context.Background(), uds.Abstract(name))
		return err == nil && r.State == diag.ProbeLive
	}, 10*time.Second, 5*time.Millisecond)
	code, out, errOut := runCLI(t, "", "lock", "--wait", "20s", name, "--", "echo", "got it")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "got it\n", out)
	require.NoError(t, holder.Wait(), "the holder ran its command to the end")
}

func TestLockSignal(t *testing.T) {
	// SIGTERM to uds reaches the command; the lock is released after it.
	name := abstractName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := udsCommand(t, ctx, "lock", name, "--", "sleep", "60")
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		socks, err := diag.Who(context.Background(), uds.Abstract(name))
		return err == nil && len(socks) == 1
	}, 10*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let sleep start
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 128+int(syscall.SIGTERM), ee.ExitCode(), "sleep was killed by the SIGTERM passed on")
	code, _, _ := runCLI(t, "", "lock", name, "--", "true")
	assert.Equal(t, 0, code)
}

func TestDiagUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "extra"}, "too many arguments"},
		{[]string{"ls", "--state", "bogus"}, `--state "bogus"`},
		{[]string{"ls", "--type", "raw"}, `--type "raw"`},
		{[]string{"ls", "--pid", "0"}, "--pid 0"},
		{[]string{"ls", "--pid", "x"}, "--pid"},
		{[]string{"ls", "--name", `@\q`}, "--name"},
		{[]string{"ls", "--path", ""}, "empty path"},
		{[]string{"ls", "-l", "--state", "established"}, "contradict"},
		{[]string{"who"}, "missing ADDR"},
		{[]string{"who", "(autobind)"}, "names no socket"},
		{[]string{"who", "/a", "/b"}, "too many arguments"},
		{[]string{"lock"}, "missing NAME"},
		{[]string{"lock", "name"}, "missing CMD"},
		{[]string{"lock", "name", "--"}, "missing CMD"},
		{[]string{"lock", "--", "true"}, "missing NAME"},
		{[]string{"lock", "/tmp/x.lock", "--", "true"}, "use --file"},
		{[]string{"lock", "--wait", "-1s", "n", "--", "true"}, "must not be negative"},
		{[]string{"lock", "--wait", "soon", "n", "true"}, "--wait"},
		{[]string{"lock", "--bogus", "n", "true"}, "unknown option --bogus"},
		{[]string{"lock", strings.Repeat("n", 200), "true"}, "longer than the limit"},
		{[]string{"lock", "--file", "", "true"}, "empty path"},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
	}
}
