//go:build linux

package reliability_test

import (
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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// Child roles. Each prints "READY ..." on stdout when it has done its setup.
const (
	roleListen         = "proc-listen"          // args: path; Listen, echo server
	roleListenNoAccept = "proc-listen-noaccept" // args: path, backlog; Listen, never Accept
	roleRace           = "proc-race"            // args: path; fd 3 releases it; WON / INUSE / ERR
	roleConnectLoop    = "proc-connect-loop"    // args: path, stop file; connect as fast as possible
	roleDial           = "proc-dial"            // args: path; dial, ping, report
	roleListenReport   = "proc-listen-report"   // args: path; Listen, report the error as JSON
	roleFlock          = "proc-flock"           // args: lock path; hold an exclusive flock on it
)

func init() {
	childproc.Register(roleListen, childListen)
	childproc.Register(roleListenNoAccept, childListenNoAccept)
	childproc.Register(roleRace, childRace)
	childproc.Register(roleConnectLoop, childConnectLoop)
	childproc.Register(roleDial, childDial)
	childproc.Register(roleListenReport, childListenReport)
	childproc.Register(roleFlock, childFlock)
}

// ---- child roles ----------------------------------------------------------

func childListen(args []string) int {
	ln, err := uds.Listen(context.Background(), uds.Path(args[0]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	echoLoop(ln)
	return 0
}

func childListenNoAccept(args []string) int {
	backlog, _ := strconv.Atoi(args[1])
	lc := uds.ListenConfig{Backlog: backlog}
	ln, err := lc.Listen(context.Background(), uds.Path(args[0]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	defer ln.Close()
	fmt.Println(childproc.Ready, os.Getpid())
	select {}
}

func childRace(args []string) int {
	release := os.NewFile(3, "release")
	fmt.Println(childproc.Ready, os.Getpid())
	_, _ = io.Copy(io.Discard, release) // returns when the parent closes its end
	ln, err := uds.Listen(context.Background(), uds.Path(args[0]))
	switch {
	case err == nil:
		fmt.Println("WON")
		echoLoop(ln)
		return 0
	case errors.Is(err, uds.ErrInUse):
		fmt.Println("INUSE", err)
		return 0
	default:
		fmt.Println("ERR", err)
		return 1
	}
}

func childConnectLoop(args []string) int {
	path, stop := args[0], args[1]
	sa := &unix.SockaddrUnix{Name: path}
	var r connectTally
	deadline := time.Now().Add(20 * time.Second)
	fmt.Println(childproc.Ready, os.Getpid())
	for i := 0; ; i++ {
		if i%64 == 0 {
			if _, err := os.Stat(stop); err == nil || time.Now().After(deadline) {
				break
			}
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			r.add(os.NewSyscallError("socket", err))
			continue
		}
		err = unix.Connect(fd, sa)
		unix.Close(fd)
		r.Attempts++
		r.add(err)
	}
	b, _ := json.Marshal(r)
	fmt.Println("RESULT", string(b))
	return 0
}

func childDial(args []string) int {
	err := echoCheck(args[0])
	if err != nil {
		fmt.Println(childproc.Ready, "ERR", err)
		return 0
	}
	fmt.Println(childproc.Ready, "OK")
	return 0
}

type listenReport struct {
	OK      bool
	OpError bool
	Perm    bool
	Err     string
}

func childListenReport(args []string) int {
	ln, err := uds.Listen(context.Background(), uds.Path(args[0]))
	var r listenReport
	if err == nil {
		r.OK = true
		ln.Close()
	} else {
		var oe *net.OpError
		r.OpError = errors.As(err, &oe)
		r.Perm = errors.Is(err, os.ErrPermission)
		r.Err = err.Error()
	}
	b, _ := json.Marshal(r)
	fmt.Println(childproc.Ready, string(b))
	return 0
}

func childFlock(args []string) int {
	fd, err := unix.Open(args[0], unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		fmt.Fprintln(os.Stderr, "flock:", err)
		return 1
	}
	fmt.Println(childproc.Ready, os.Getpid())
	select {}
}

// echoLoop serves connections on ln by echoing what they send, until ln is
// closed.
func echoLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// echoCheck dials path, sends a line and expects it back.
func echoCheck(path string) error {
	_, err := echoCheckPID(path)
	return err
}

// echoCheckPID is echoCheck that also returns the server's PID
// (SO_PEERCRED of the connection).
func echoCheckPID(path string) (int, error) {
	d := uds.Dialer{Timeout: 3 * time.Second}
	c, err := d.Dial(context.Background(), uds.Path(path))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	pid := 0
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
				pid = int(cred.Pid)
			}
		})
	}
	if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return pid, err
	}
	const msg = "ping\n"
	if _, err := io.WriteString(c, msg); err != nil {
		return pid, err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return pid, err
	}
	if string(buf) != msg {
		return pid, fmt.Errorf("echo: got %q, want %q", buf, msg)
	}
	return pid, nil
}

// ---- test helpers ---------------------------------------------------------

// fileID is a file's identity. Files are pinned with an O_PATH descriptor
// while a test compares identities, so a removed file's inode number cannot
// be reused by a new one and make a replacement look unchanged.
type fileID struct {
	path     string
	dev, ino uint64
	mode     os.FileMode
}

func pinFile(t *testing.T, path string) fileID {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	var fst unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &fst))
	require.Equal(t, uint64(st.Ino), fst.Ino, "%s changed while being pinned", path)
	return fileID{path: path, dev: uint64(st.Dev), ino: uint64(st.Ino), mode: fi.Mode()}
}

// assertSameFile checks that the file at id.path is still the pinned one,
// of the same type and mode.
func assertSameFile(t *testing.T, id fileID) bool {
	t.Helper()
	fi, err := os.Lstat(id.path)
	if !assert.NoError(t, err, "%s must still exist", id.path) {
		return false
	}
	st := fi.Sys().(*syscall.Stat_t)
	ok := assert.Equal(t, id.dev, uint64(st.Dev), "%s: device changed", id.path)
	ok = assert.Equal(t, id.ino, uint64(st.Ino), "%s was replaced (inode changed)", id.path) && ok
	ok = assert.Equal(t, id.mode, fi.Mode(), "%s: type or mode changed", id.path) && ok
	return ok
}

func assertNotExist(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	return assert.Truef(t, errors.Is(err, os.ErrNotExist), "%s should not exist (lstat: %v)", path, err)
}

// assertInUse checks that err is a *net.OpError wrapping an *InUseError
// that names wantPID, and returns the *InUseError.
func assertInUse(t *testing.T, err error, wantPID int) *uds.InUseError {
	t.Helper()
	require.Error(t, err, "Listen must fail on a path a live process holds")
	assert.ErrorIs(t, err, uds.ErrInUse)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe, "error must be a *net.OpError: %v", err)
	var ie *uds.InUseError
	if !assert.ErrorAs(t, err, &ie, "error must carry an *InUseError: %v", err) {
		return nil
	}
	assert.Equal(t, wantPID, ie.PID, "InUseError.PID must be the holder's PID (err: %v)", err)
	return ie
}

// startListenChild starts a child that listens on path with uds.Listen and
// echoes, and waits until it listens.
func startListenChild(t *testing.T, path string) *childproc.Child {
	t.Helper()
	c := childproc.Start(t, childproc.Options{}, roleListen, path)
	c.WaitReady()
	return c
}

// makeStale leaves a socket file (and lock file) at path the way a crashed
// server does: a child listens there and is killed with SIGKILL.
func makeStale(t *testing.T, path string) {
	t.Helper()
	c := startListenChild(t, path)
	c.Kill()
	fi, err := os.Lstat(path)
	require.NoError(t, err, "a SIGKILLed listener leaves its socket file")
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
}

// waitConnectable waits until a raw connect to path succeeds or finds the
// backlog full, i.e. until something listens there.
func waitConnectable(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		last = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
		if last == nil || last == unix.EAGAIN {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 10s (last connect: %v)", path, last)
}

// fillBacklog connects to path without accepting until the listener's queue
// is full (EAGAIN). The connections stay open until the test ends.
func fillBacklog(t *testing.T, path string) {
	t.Helper()
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	for i := 0; i < 1000; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err == unix.EAGAIN {
			unix.Close(fd)
			return
		}
		fds = append(fds, fd)
		require.NoError(t, err, "connect #%d while filling the backlog", i)
	}
	t.Fatalf("the backlog of %s never filled", path)
}

var ssPIDRe = regexp.MustCompile(`pid=(\d+)`)

// ssListeners returns, for every listening Unix socket whose local address
// is path (as `ss -xlpn` shows it), the PIDs of the processes holding it.
func ssListeners(t *testing.T, path string) [][]int {
	t.Helper()
	out, err := exec.Command("ss", "-xlpnH").Output()
	require.NoError(t, err, "ss -xlpnH")
	var socks [][]int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// u_str LISTEN 0 4096 /tmp/udsX/s.sock 12345 * 0 users:(("x",pid=1,fd=3))
		if len(f) < 5 || f[4] != path {
			continue
		}
		var pids []int
		for _, m := range ssPIDRe.FindAllStringSubmatch(line, -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		socks = append(socks, pids)
	}
	return socks
}

func serveEcho(t *testing.T, ln net.Listener) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		echoLoop(ln)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
}

// ---- 1. crash reclaim -----------------------------------------------------

func TestProcCrashReclaim(t *testing.T) {
	dir := testutil.MkSockDir(t)
	path := filepath.Join(dir, "s.sock")
	lock := path + ".lock"

	child := startListenChild(t, path)
	pid, err := echoCheckPID(path)
	require.NoError(t, err, "the child serves before the crash")
	require.Equal(t, child.PID(), pid)

	child.Kill() // SIGKILL: no chance to clean up

	fi, err := os.Lstat(path)
	require.NoError(t, err, "the crashed server's socket file remains")
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
	_, err = os.Lstat(lock)
	require.NoError(t, err, "the crashed server's lock file remains")
	stale := pinFile(t, path)

	res, err := diag.Probe(context.Background(), uds.Path(path))
	require.NoError(t, err)
	assert.Equal(t, diag.ProbeStale, res.State, "Probe of a crashed server's socket: %+v", res)
	assert.Zero(t, res.PID)
	assertSameFile(t, stale) // Probe changes nothing

	ln, err := uds.Listen(context.Background(), uds.Path(path))
	require.NoError(t, err, "Listen must reclaim a stale socket file")
	serveEcho(t, ln)

	fi, err = os.Lstat(path)
	require.NoError(t, err)
	assert.NotEqual(t, stale.ino, uint64(fi.Sys().(*syscall.Stat_t).Ino), "the new listener has a new socket file")
	pid, err = echoCheckPID(path)
	assert.NoError(t, err, "the new listener serves")
	assert.Equal(t, os.Getpid(), pid, "the connection reached this process")

	res, err = diag.Probe(context.Background(), uds.Path(path))
	require.NoError(t, err)
	assert.Equal(t, diag.ProbeLive, res.State)
	assert.Equal(t, os.Getpid(), res.PID)

	require.NoError(t, ln.Close())
	assertNotExist(t, path)
	assertNotExist(t, lock)
}

// ---- 2. a live server is never reclaimed ----------------------------------

func TestProcLiveNeverReclaimed(t *testing.T) {
	listenFails := func(t *testing.T, path string, holder int) {
		t.Helper()
		before := pinFile(t, path)
		lock := path + ".lock"
		var lockBefore *fileID
		if _, err := os.Lstat(lock); err == nil {
			id := pinFile(t, lock)
			lockBefore = &id
		}
		ln, err := uds.Listen(context.Background(), uds.Path(path))
		if ln != nil {
			ln.Close()
		}
		assertInUse(t, err, holder)
		assertSameFile(t, before)
		if lockBefore != nil {
			assertSameFile(t, *lockBefore) // the holder's lock file stays
		} else {
			assertNotExist(t, lock) // a failed Listen leaves no lock file behind
		}
	}

	t.Run("uds child accepting", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		child := startListenChild(t, path)
		listenFails(t, path, child.PID())
		pid, err := echoCheckPID(path)
		assert.NoError(t, err, "the live server still serves")
		assert.Equal(t, child.PID(), pid)
	})

	t.Run("uds child backlog full", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		child := childproc.Start(t, childproc.Options{}, roleListenNoAccept, path, "1")
		child.WaitReady()
		fillBacklog(t, path)
		listenFails(t, path, child.PID())
	})

	t.Run("socat", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		socat := msgStartForeign(t, requireTool(t, "socat"), "UNIX-LISTEN:"+path+",fork", "EXEC:cat")
		waitConnectable(t, path)
		listenFails(t, path, socat.Cmd.Process.Pid)
		pid, err := echoCheckPID(path)
		assert.NoError(t, err, "socat still serves")
		assert.Equal(t, socat.Cmd.Process.Pid, pid)
	})

	t.Run("nc", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		nc := msgStartForeign(t, requireTool(t, "nc"), "-lkdU", path)
		waitConnectable(t, path)
		listenFails(t, path, nc.Cmd.Process.Pid)
		c, err := uds.Dial(context.Background(), uds.Path(path))
		if assert.NoError(t, err, "nc still accepts") {
			c.Close()
		}
	})

	// python binds path (and listens with a backlog of 1 when listen is
	// set); its PID is returned once it has.
	python := func(t *testing.T, path string, listen string) int {
		py := msgStartForeign(t, requireTool(t, "python3"), "-c",
			"import os,socket,sys,time\n"+
				"s=socket.socket(socket.AF_UNIX)\n"+
				"s.bind(sys.argv[1])\n"+
				listen+
				"print('R',os.getpid(),flush=True)\n"+
				"time.sleep(60)\n", path)
		line := strings.TrimSpace(py.ReadLine(t, 10*time.Second))
		f := strings.Fields(line)
		require.Len(t, f, 2, "python said %q", line)
		pyPID, err := strconv.Atoi(f[1])
		require.NoError(t, err)
		return pyPID
	}

	t.Run("python bound not listening", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		listenFails(t, path, python(t, path, ""))
	})

	t.Run("python listening backlog full", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		pyPID := python(t, path, "s.listen(1)\n")
		fillBacklog(t, path)
		listenFails(t, path, pyPID)
	})
}

// ---- 3. racing starts -----------------------------------------------------

func TestProcRacingStarts(t *testing.T) {
	const racers, rounds = 8, 5
	for _, stale := range []bool{false, true} {
		name := "missing"
		if stale {
			name = "stale"
		}
		t.Run(name, func(t *testing.T) {
			for round := 0; round < rounds; round++ {
				t.Run(strconv.Itoa(round), func(t *testing.T) {
					raceRound(t, racers, stale)
				})
			}
		})
	}
}

func raceRound(t *testing.T, racers int, stale bool) {
	path := filepath.Join(testutil.MkSockDir(t), "s.sock")
	if stale {
		makeStale(t, path)
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	children := make([]*childproc.Child, racers)
	for i := range children {
		children[i] = childproc.Start(t, childproc.Options{ExtraFiles: []*os.File{r}}, roleRace, path)
	}
	r.Close()
	for _, c := range children {
		c.WaitReady()
	}
	require.NoError(t, w.Close()) // release them all at once

	var winners []*childproc.Child
	for i, c := range children {
		l := c.Line(20 * time.Second)
		switch {
		case l == "WON":
			winners = append(winners, c)
		case strings.HasPrefix(l, "INUSE "):
		default:
			assert.Failf(t, "racer neither won nor got ErrInUse", "racer %d (pid %d): %q", i, c.PID(), l)
		}
	}
	require.Len(t, winners, 1, "exactly one racer must win")
	winner := winners[0]

	socks := ssListeners(t, path)
	if assert.Len(t, socks, 1, "exactly one listening socket must be bound to %s", path) {
		assert.Equal(t, []int{winner.PID()}, socks[0], "the listening socket must be the winner's")
	}
	pid, err := echoCheckPID(path)
	assert.NoError(t, err, "the winner serves")
	assert.Equal(t, winner.PID(), pid, "a dial must reach the winner")
	for _, c := range children {
		c.Kill()
	}
}

// ---- 4. takeover, then Close ----------------------------------------------

func TestProcTakeoverThenClose(t *testing.T) {
	t.Run("uds child", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		lock := path + ".lock"
		a, err := uds.Listen(context.Background(), uds.Path(path))
		require.NoError(t, err)
		defer a.Close()
		aFile := pinFile(t, path)

		// Someone else removes the path and its lock, and B binds it.
		require.NoError(t, os.Remove(path))
		require.NoError(t, os.Remove(lock))
		b := startListenChild(t, path)
		bFile := pinFile(t, path)
		bLock := pinFile(t, lock)
		require.NotEqual(t, aFile.ino, bFile.ino)

		assert.NoError(t, a.Close())

		assertSameFile(t, bFile)
		assertSameFile(t, bLock)
		pid, err := echoCheckPID(path)
		assert.NoError(t, err, "B still serves after A closed")
		assert.Equal(t, b.PID(), pid, "a dial must reach B")
		// B still holds its lock.
		ln, err := uds.Listen(context.Background(), uds.Path(path))
		if ln != nil {
			ln.Close()
		}
		ie := assertInUse(t, err, b.PID())
		if ie != nil {
			assert.Equal(t, uds.HowLocked, ie.How)
		}
		assertSameFile(t, bFile)
	})

	t.Run("socat", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		a, err := uds.Listen(context.Background(), uds.Path(path))
		require.NoError(t, err)
		defer a.Close()
		aFile := pinFile(t, path)

		require.NoError(t, os.Remove(path))
		socat := msgStartForeign(t, requireTool(t, "socat"), "UNIX-LISTEN:"+path+",fork", "EXEC:cat")
		waitConnectable(t, path)
		bFile := pinFile(t, path)
		require.NotEqual(t, aFile.ino, bFile.ino)

		assert.NoError(t, a.Close())

		assertSameFile(t, bFile)
		pid, err := echoCheckPID(path)
		assert.NoError(t, err, "socat still serves after A closed")
		assert.Equal(t, socat.Cmd.Process.Pid, pid, "a dial must reach socat")
	})
}

// ---- 5. permissions from the first instant --------------------------------

func TestProcPermissionsFirstInstant(t *testing.T) {
	testutil.RequireRoot(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}

	run := func(t *testing.T, mode os.FileMode, umask int, wantConnect bool) {
		dir := testutil.MkSockDir(t)
		require.NoError(t, os.Chmod(dir, 0o755))
		path := filepath.Join(dir, "s.sock")
		stop := filepath.Join(dir, "stop")

		child := childproc.Start(t, childproc.Options{Credential: nobody}, roleConnectLoop, path, stop)
		child.WaitReady()
		time.Sleep(20 * time.Millisecond) // the child is connecting to a missing path

		// Create the socket many times while the child connects, so that
		// even a window of a few microseconds would be seen.
		const cycles = 25
		for i := 0; i < cycles; i++ {
			old := syscall.Umask(umask)
			lc := uds.ListenConfig{Mode: mode}
			ln, err := lc.Listen(context.Background(), uds.Path(path))
			syscall.Umask(old)
			require.NoError(t, err)
			fi, err := os.Lstat(path)
			require.NoError(t, err)
			assert.Equal(t, os.ModeSocket, fi.Mode().Type())
			assert.Equal(t, mode, fi.Mode().Perm(), "socket file mode")
			if i < cycles-1 {
				time.Sleep(2 * time.Millisecond)
				require.NoError(t, ln.Close())
				continue
			}
			serveEcho(t, ln)
			time.Sleep(200 * time.Millisecond) // let the child hammer the live socket
		}
		require.NoError(t, os.WriteFile(stop, nil, 0o644))
		l := child.Line(10 * time.Second)
		js, ok := strings.CutPrefix(l, "RESULT ")
		require.True(t, ok, "child said %q", l)
		var r connectTally
		require.NoError(t, json.Unmarshal([]byte(js), &r))
		t.Logf("uid 65534 connect attempts: %+v", r)
		require.Positive(t, r.ENOENT, "the child must have been connecting before the socket existed")
		assert.Empty(t, r.FirstOther, "unexpected connect errors")
		assert.Zero(t, r.EPROTOTYPE, "a stream connect to a stream listener refused as another type")
		if wantConnect {
			assert.Positive(t, r.OK, "uid 65534 must be able to connect to a %#o socket", mode)
		} else {
			assert.Positive(t, r.EACCES, "the child must have tried the existing socket")
			assert.Zero(t, r.OK, "uid 65534 connected to a %#o socket", mode)
			// ECONNREFUSED would mean the child passed the permission check
			// on the file before it was listening: a window.
			assert.Zero(t, r.Refused, "uid 65534 got past the permission check of a %#o socket", mode)
		}
	}

	// umask 0 makes the default socket mode 0777, so a mode set only after
	// bind would show as a window.
	t.Run("0600 umask 000", func(t *testing.T) { run(t, 0o600, 0, false) })
	t.Run("0600 umask 022", func(t *testing.T) { run(t, 0o600, 0o022, false) })
	t.Run("0666 umask 022", func(t *testing.T) { run(t, 0o666, 0o022, true) })

	ownerCase := func(t *testing.T, lc uds.ListenConfig, cred *syscall.Credential, wantUID, wantGID uint32) {
		dir := testutil.MkSockDir(t)
		require.NoError(t, os.Chmod(dir, 0o755))
		path := filepath.Join(dir, "s.sock")
		ln, err := lc.Listen(context.Background(), uds.Path(path))
		require.NoError(t, err)
		serveEcho(t, ln)

		fi, err := os.Lstat(path)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, wantUID, st.Uid, "socket file owner")
		assert.Equal(t, wantGID, st.Gid, "socket file group")
		assert.Equal(t, lc.Mode, fi.Mode().Perm(), "socket file mode")

		c := childproc.Start(t, childproc.Options{Credential: cred}, roleDial, path)
		assert.Equal(t, "OK", c.WaitReady(), "uid %d gid %d must reach the socket", cred.Uid, cred.Gid)

		// Someone else (neither owner nor group) may not.
		other := childproc.Start(t, childproc.Options{Credential: &syscall.Credential{Uid: 4242, Gid: 4242}}, roleDial, path)
		res := other.WaitReady()
		assert.True(t, strings.HasPrefix(res, "ERR") && strings.Contains(res, "permission denied"),
			"uid 4242 must be refused by the file's permissions, got %q", res)
	}
	t.Run("Owner", func(t *testing.T) {
		ownerCase(t, uds.ListenConfig{Mode: 0o600, Owner: "65534"}, nobody, 65534, 0)
	})
	t.Run("Group", func(t *testing.T) {
		ownerCase(t, uds.ListenConfig{Mode: 0o660, Group: "65534"},
			&syscall.Credential{Uid: 4243, Gid: 65534}, 0, 65534)
	})
	t.Run("Owner and Group", func(t *testing.T) {
		ownerCase(t, uds.ListenConfig{Mode: 0o600, Owner: "65534", Group: "65534"}, nobody, 65534, 65534)
	})
}

// ---- 6. not a socket at the path ------------------------------------------

func TestProcNotSocket(t *testing.T) {
	listenNotSocket := func(t *testing.T, dir, path string) {
		t.Helper()
		before := testutil.DirNames(t, dir)
		ln, err := uds.Listen(context.Background(), uds.Path(path))
		if ln != nil {
			ln.Close()
		}
		require.Error(t, err)
		assert.ErrorIs(t, err, uds.ErrNotSocket)
		var oe *net.OpError
		assert.ErrorAs(t, err, &oe, "error must be a *net.OpError: %v", err)
		assert.Equal(t, before, testutil.DirNames(t, dir), "Listen must neither create nor remove files")
		assertNotExist(t, path+".lock")
	}

	t.Run("regular file", func(t *testing.T) {
		dir := testutil.MkSockDir(t)
		path := filepath.Join(dir, "s.sock")
		require.NoError(t, os.WriteFile(path, []byte("precious data\n"), 0o644))
		id := pinFile(t, path)
		listenNotSocket(t, dir, path)
		assertSameFile(t, id)
		data, err := os.ReadFile(path)
		assert.NoError(t, err)
		assert.Equal(t, "precious data\n", string(data))
	})

	t.Run("directory", func(t *testing.T) {
		dir := testutil.MkSockDir(t)
		path := filepath.Join(dir, "s.sock")
		require.NoError(t, os.Mkdir(path, 0o755))
		id := pinFile(t, path)
		listenNotSocket(t, dir, path)
		assertSameFile(t, id)
		assert.Empty(t, testutil.DirNames(t, path), "the directory stays empty")
	})

	t.Run("symlink to regular file", func(t *testing.T) {
		dir := testutil.MkSockDir(t)
		target := filepath.Join(dir, "target")
		path := filepath.Join(dir, "s.sock")
		require.NoError(t, os.WriteFile(target, []byte("precious data\n"), 0o644))
		require.NoError(t, os.Symlink(target, path))
		link, tgt := pinFile(t, path), pinFile(t, target)
		listenNotSocket(t, dir, path)
		assertSameFile(t, link)
		assertSameFile(t, tgt)
		got, err := os.Readlink(path)
		assert.NoError(t, err)
		assert.Equal(t, target, got)
		data, err := os.ReadFile(target)
		assert.NoError(t, err)
		assert.Equal(t, "precious data\n", string(data))
	})

	t.Run("symlink to live socket", func(t *testing.T) {
		dir := testutil.MkSockDir(t)
		target := filepath.Join(dir, "real.sock")
		path := filepath.Join(dir, "s.sock")
		child := startListenChild(t, target)
		require.NoError(t, os.Symlink(target, path))
		link, tgt := pinFile(t, path), pinFile(t, target)
		listenNotSocket(t, dir, path)
		assertSameFile(t, link)
		assertSameFile(t, tgt)
		got, err := os.Readlink(path)
		assert.NoError(t, err)
		assert.Equal(t, target, got)
		pid, err := echoCheckPID(target)
		assert.NoError(t, err, "the live socket still serves")
		assert.Equal(t, child.PID(), pid)
	})

	t.Run("dangling symlink", func(t *testing.T) {
		dir := testutil.MkSockDir(t)
		target := filepath.Join(dir, "missing.sock")
		path := filepath.Join(dir, "s.sock")
		require.NoError(t, os.Symlink(target, path))
		link := pinFile(t, path)
		listenNotSocket(t, dir, path)
		assertSameFile(t, link)
		got, err := os.Readlink(path)
		assert.NoError(t, err)
		assert.Equal(t, target, got)
		assertNotExist(t, target)
	})
}

// ---- 7. no permission to create -------------------------------------------

func TestProcListenNoPermission(t *testing.T) {
	testutil.RequireRoot(t)
	dir := testutil.MkSockDir(t)
	require.NoError(t, os.Chmod(dir, 0o755)) // root's, searchable, not writable by others
	path := filepath.Join(dir, "s.sock")

	c := childproc.Start(t, childproc.Options{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}, roleListenReport, path)
	var r listenReport
	require.NoError(t, json.Unmarshal([]byte(c.WaitReady()), &r))
	assert.False(t, r.OK, "uid 65534 must not be able to listen in a root-owned 0755 directory")
	assert.True(t, r.OpError, "error must be a *net.OpError: %s", r.Err)
	assert.True(t, r.Perm, "errors.Is(err, os.ErrPermission) must hold: %s", r.Err)
	assert.Contains(t, r.Err, "permission denied")
	assert.Empty(t, testutil.DirNames(t, dir), "nothing may be created in the directory")
}

// ---- 8. the lock holder's PID ---------------------------------------------

func TestProcLockHolderPID(t *testing.T) {
	t.Run("listening child", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		child := startListenChild(t, path)
		sock := pinFile(t, path)
		ln, err := uds.Listen(context.Background(), uds.Path(path))
		if ln != nil {
			ln.Close()
		}
		ie := assertInUse(t, err, child.PID())
		if ie != nil {
			assert.Equal(t, uds.HowLocked, ie.How, "the holder is found through the lock")
		}
		if err != nil {
			assert.Contains(t, err.Error(), strconv.Itoa(child.PID()), "the message names the holder")
		}
		assertSameFile(t, sock)
	})

	// The lock alone keeps the path: a process that holds the lock and has
	// not bound yet (here, beside a stale socket file) wins over Listen.
	t.Run("lock only over stale socket", func(t *testing.T) {
		path := filepath.Join(testutil.MkSockDir(t), "s.sock")
		makeStale(t, path)
		sock := pinFile(t, path)
		holder := childproc.Start(t, childproc.Options{}, roleFlock, path+".lock")
		holder.WaitReady()

		ln, err := uds.Listen(context.Background(), uds.Path(path))
		if ln != nil {
			ln.Close()
		}
		assertInUse(t, err, holder.PID())
		if err != nil {
			assert.Contains(t, err.Error(), strconv.Itoa(holder.PID()), "the message names the holder")
		}
		assertSameFile(t, sock)

		res, err := diag.Probe(context.Background(), uds.Path(path))
		require.NoError(t, err)
		assert.Equal(t, diag.ProbeLive, res.State, "a held lock makes the path live: %+v", res)
		assert.Equal(t, holder.PID(), res.PID)
	})
}
