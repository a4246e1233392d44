//go:build linux

package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// Helpers the suites share, copied from the root package's tests (test code
// may repeat test helpers): the root's helpers_test.go, and the few of its
// other test files (fds_test.go, message_test.go, seqpacket_test.go, ...)
// that the suites use.

// dirListing returns the names, types and sizes of dir's entries.
func dirListing(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		info, err := e.Info()
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%s %v %d", e.Name(), info.Mode(), info.Size()))
	}
	sort.Strings(out)
	return out
}

// msgListenDatagram binds a datagram socket to a, closed at the end of the
// test.
func msgListenDatagram(t testing.TB, lc *uds.ListenConfig, a uds.Addr) *uds.DatagramConn {
	t.Helper()
	if lc == nil {
		lc = &uds.ListenConfig{}
	}
	c, err := lc.ListenDatagram(msgCtx(t), a)
	require.NoError(t, err)
	msgClose(t, c)
	return c
}

func fdExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fdEnd is what the connections descriptors are tested on share: the uds
// types and plain *net.UnixConn values, all driven through uds.ReadMsg and
// uds.WriteMsg.
type fdEnd interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
	SetReadDeadline(time.Time) error
	Close() error
	syscall.Conn
}

// fdWriteFiles sends files with b in one uds.WriteMsg and returns m.N.
func fdWriteFiles(c syscall.Conn, b []byte, files ...*os.File) (int, error) {
	m := uds.Message{Buf: b, Files: files}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}

// fdWriteFDs sends the raw descriptors fds with b in one uds.WriteMsg.
func fdWriteFDs(c syscall.Conn, b []byte, fds []int) (int, error) {
	m := uds.Message{Buf: b, FDs: fds}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}

// fdReadFiles reads one message into b with room for maxFiles files
// (Message.Files of that capacity) and returns m.N and m.Files.
func fdReadFiles(c syscall.Conn, b []byte, maxFiles int) (int, []*os.File, error) {
	m := uds.Message{Buf: b, Files: make([]*os.File, 0, maxFiles)}
	err := uds.ReadMsg(c, &m)
	return m.N, m.Files, err
}

// fdReadFDs reads one message into b with room for cap(fds) raw
// descriptors, stored in fds[:nfd].
func fdReadFDs(c syscall.Conn, b []byte, fds []int) (n, nfd int, err error) {
	m := uds.Message{Buf: b, FDs: fds[:0]}
	err = uds.ReadMsg(c, &m)
	return m.N, len(m.FDs), err
}

type fdPairCase struct {
	name string
	typ  uds.SocketType
	mk   func(t *testing.T) (a, b fdEnd)
}

// fdPairs are the connections descriptors are tested on: socket pairs of
// each type, a listener's accepted connection, and plain *net.UnixConn
// values.
func fdPairs() []fdPairCase {
	return []fdPairCase{
		{"stream pair", uds.Stream, func(t *testing.T) (fdEnd, fdEnd) {
			return pairOf(t, pairType(uds.Stream))
		}},
		{"stream accepted", uds.Stream, func(t *testing.T) (fdEnd, fdEnd) {
			ln, err := uds.Listen(context.Background(), uds.Abstract(uniqTag()))
			require.NoError(t, err)
			defer ln.Close()
			cli, err := uds.Dial(context.Background(), ln.Addr().(uds.Addr))
			require.NoError(t, err)
			srv, err := acceptConn(ln)
			require.NoError(t, err)
			t.Cleanup(func() { cli.Close(); srv.Close() })
			return cli, srv
		}},
		{"seqpacket pair", uds.SeqPacket, func(t *testing.T) (fdEnd, fdEnd) {
			return pairOf(t, pairType(uds.SeqPacket))
		}},
		{"datagram pair", uds.Datagram, func(t *testing.T) (fdEnd, fdEnd) {
			return pairOf(t, uds.DatagramPair)
		}},
		{"net.UnixConn stream", uds.Stream, fdNetPair(unix.SOCK_STREAM)},
		{"net.UnixConn seqpacket", uds.SeqPacket, fdNetPair(unix.SOCK_SEQPACKET)},
		{"net.UnixConn datagram", uds.Datagram, fdNetPair(unix.SOCK_DGRAM)},
	}
}

func fdNetPair(typ int) func(t *testing.T) (fdEnd, fdEnd) {
	return func(t *testing.T) (fdEnd, fdEnd) {
		fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		require.NoError(t, err)
		var ends [2]fdEnd
		for i, fd := range fds {
			f := os.NewFile(uintptr(fd), "pair")
			c, err := net.FileConn(f)
			f.Close()
			require.NoError(t, err)
			ends[i] = c.(*net.UnixConn)
		}
		t.Cleanup(func() { ends[0].Close(); ends[1].Close() })
		return ends[0], ends[1]
	}
}

// fdFiles returns n distinct open files: temporary files holding "file i".
func fdFiles(t testing.TB, n int) []*os.File {
	t.Helper()
	dir := t.TempDir()
	files := make([]*os.File, n)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%d", i)))
		require.NoError(t, err)
		_, err = fmt.Fprintf(f, "file %d", i)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		files[i] = f
	}
	return files
}

func fdCloseAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func fdInts(files []*os.File) []int {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return fds
}

// fdChildStart begins a child that runs under a descriptor limit: it
// rebuilds the connection of type typ (as SocketType.String gives it) from
// descriptor 3, reads the limit and the count of open descriptors, then
// fills the descriptor table with /dev/null (fillers).
func fdChildStart(typ string) (c fdEnd, limit, before int, fillers []int, err error) {
	f := os.NewFile(3, "sock")
	t, err := fdSocketType(typ)
	if err == nil {
		c, err = fdConnOf(f, t)
	}
	f.Close()
	if err != nil {
		return nil, 0, 0, nil, err
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		c.Close()
		return nil, 0, 0, nil, err
	}
	before = fdProcCount()
	return c, int(lim.Cur), before, fdOpenAll(), nil
}

func fdSocketType(s string) (uds.SocketType, error) {
	for _, t := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown socket type %q", s)
}

// fdProcCount counts this process's open descriptors.
func fdProcCount() int { ents, _ := os.ReadDir("/proc/self/fd"); return len(ents) }

// fdOpenAll opens /dev/null until the descriptor table is full and returns
// the descriptors.
func fdOpenAll() []int {
	var fds []int
	for {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds
		}
		fds = append(fds, fd)
	}
}

// fdCountFree counts the free slots of the descriptor table, leaving them
// free.
func fdCountFree() int {
	fds := fdOpenAll()
	for _, fd := range fds {
		unix.Close(fd)
	}
	return len(fds)
}

// fdConnFromFile rebuilds a uds connection of type typ from a socket file.
func fdConnFromFile(t *testing.T, f *os.File, typ uds.SocketType) fdEnd {
	t.Helper()
	c, err := fdConnOf(f, typ)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// fdConnOf rebuilds a uds connection of type typ from a socket file; f
// stays open.
func fdConnOf(f *os.File, typ uds.SocketType) (fdEnd, error) {
	switch typ {
	case uds.Stream, uds.SeqPacket:
		c, err := uds.FileConn(f)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := uds.FileDatagramConn(f)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// mkSockDir returns a new short temporary directory, removed after the test.
func mkSockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var uniqSeq atomic.Uint64

// uniqTag returns a string unique to this process and call, so that
// abstract names do not collide with other test binaries running at the
// same time (the abstract namespace is shared by the network namespace).
func uniqTag() string {
	return fmt.Sprintf("udst-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, uniqSeq.Add(1))
}

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set to
// anything.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}

// requireRoot skips the test unless it runs as root (it runs children as
// uid 65534, sends others' credentials or changes socket ownership).
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test runs children as another user, sends others' credentials or changes socket ownership")
	}
}

// openFDCount counts this process's open descriptors.
func openFDCount(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// lstatIno returns the inode of the file at path (not following links).
func lstatIno(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st), "lstat %s", path)
	return st.Ino
}

// rawSock is a Unix socket made with x/sys, bypassing the package.
type rawSock struct {
	fd     int
	closed bool
}

// Close closes the socket once; later calls do nothing, so that the
// test-end cleanup never closes a descriptor number since reused.
func (s *rawSock) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return unix.Close(s.fd)
}

// rawSocket returns a socket of type typ (unix.SOCK_STREAM, ...) bound to
// sa and, if listen, listening. It is closed when the test ends unless
// closed earlier.
func rawSocket(t testing.TB, typ int, sa *unix.SockaddrUnix, listen bool) *rawSock {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	s := &rawSock{fd: fd}
	t.Cleanup(func() { s.Close() })
	require.NoError(t, unix.Bind(fd, sa))
	if listen {
		require.NoError(t, unix.Listen(fd, 8))
	}
	return s
}

// acceptWithin accepts one connection with accept, failing the test if none
// comes within 5s (ln's deadline). The connection is closed when the test
// ends.
func acceptWithin[C io.Closer](t testing.TB, ln interface{ SetDeadline(time.Time) error }, accept func() (C, error)) C {
	t.Helper()
	require.NoError(t, ln.SetDeadline(time.Now().Add(5*time.Second)))
	c, err := accept()
	require.NoError(t, err)
	msgClose(t, c)
	return c
}

// pairOf calls mk (uds.DatagramPair, pairType(uds.SeqPacket), ...) and
// returns its two ends, closed when the test ends. A test may close an end
// earlier: the second Close's error is ignored.
func pairOf[C io.Closer](t testing.TB, mk func() (C, C, error)) (C, C) {
	t.Helper()
	a, b, err := mk()
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// msgSyncBuffer is a bytes.Buffer safe for one writer and other readers.
type msgSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *msgSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *msgSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pairType returns a maker for pairOf of connected *uds.Conn pairs of type
// typ (uds.Stream or uds.SeqPacket): pairOf(t, pairType(uds.SeqPacket)).
func pairType(typ uds.SocketType) func() (*uds.Conn, *uds.Conn, error) {
	return func() (*uds.Conn, *uds.Conn, error) { return uds.Pair(typ) }
}

// pairFiles returns two connected sockets of type typ as files, for
// exec.Cmd.ExtraFiles and other hand-offs: the ends of uds.Pair (or
// uds.DatagramPair) through File, the connections closed. A seqpacket pair
// is first given SetZeroReadIsEOF(true), which turns off the SO_TIMESTAMP
// a *uds.Conn keeps on, so that a program that inherits an end gets no
// control message it did not ask for (FileConn turns it on again). They are
// closed when the test ends if not before.
func pairFiles(t testing.TB, typ uds.SocketType) (*os.File, *os.File) {
	t.Helper()
	var a, b interface {
		File() (*os.File, error)
		Close() error
	}
	var err error
	if typ == uds.Datagram {
		a, b, err = uds.DatagramPair()
	} else {
		a, b, err = uds.Pair(typ)
	}
	require.NoError(t, err)
	defer a.Close()
	defer b.Close()
	if typ == uds.SeqPacket {
		for _, c := range []any{a, b} {
			require.NoError(t, c.(*uds.Conn).SetZeroReadIsEOF(true))
		}
	}
	fa, err := a.File()
	require.NoError(t, err)
	t.Cleanup(func() { fa.Close() })
	fb, err := b.File()
	require.NoError(t, err)
	t.Cleanup(func() { fb.Close() })
	return fa, fb
}

// acceptConn accepts the next connection of l as the *uds.Conn it is.
func acceptConn(l *uds.Listener) (*uds.Conn, error) {
	c, err := l.Accept()
	if err != nil {
		return nil, err
	}
	return c.(*uds.Conn), nil
}

// acceptFunc is acceptConn on l as a function, for acceptWithin.
func acceptFunc(l *uds.Listener) func() (*uds.Conn, error) {
	return func() (*uds.Conn, error) { return acceptConn(l) }
}

// msgForeign is a running external peer.
type msgForeign struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *msgSyncBuffer
}

// msgStartForeign starts a program in its own process group, killed at the
// end of the test.
func msgStartForeign(t *testing.T, name string, args ...string) *msgForeign {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := new(msgSyncBuffer)
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	f := &msgForeign{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), stderr: stderr}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s stderr: %s", name, stderr.String())
		}
	})
	return f
}

// readLine reads one line of the program's output within timeout.
func (f *msgForeign) readLine(t *testing.T, timeout time.Duration) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := f.stdout.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "reading %s's output (stderr: %s)", f.cmd.Path, f.stderr.String())
		return r.s
	case <-time.After(timeout):
		syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("%s printed no line within %v", f.cmd.Path, timeout)
	}
	return ""
}

// msgEnd is what a seqpacket Conn and DatagramConn have in common.
type msgEnd interface {
	Write([]byte) (int, error)
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
	syscall.Conn
}

func msgCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msgClose(t testing.TB, c io.Closer) {
	t.Cleanup(func() { c.Close() })
}

// msgDeadline gives r five seconds to read, so that a missing message fails
// the test instead of hanging it.
func msgDeadline(t testing.TB, r msgEnd) {
	t.Helper()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
}

// msgExpect reads one message from r into a buffer of bufLen bytes and
// checks it is exactly want.
func msgExpect(t testing.TB, r msgEnd, bufLen int, want []byte) {
	t.Helper()
	msgDeadline(t, r)
	buf := make([]byte, bufLen)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, len(want), n)
	assert.Equal(t, want, buf[:n])
}

// msgReadFrom reads one message into b with uds.ReadMsg, as the old
// ReadFromAddr did: the sender is stored in *from (which the read
// overwrites, whatever it held) and the bytes read are returned.
func msgReadFrom(c syscall.Conn, b []byte, from *uds.Addr) (int, error) {
	m := uds.Message{Buf: b, Addr: *from}
	err := uds.ReadMsg(c, &m)
	*from = m.Addr
	return m.N, err
}

// msgWriteTo sends b to to with uds.WriteMsg and returns the bytes written.
func msgWriteTo(c syscall.Conn, b []byte, to uds.Addr) (int, error) {
	m := uds.Message{Buf: b, Addr: to}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}
