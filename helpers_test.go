//go:build linux

package uds_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// Helpers shared by the Linux tests of this package.

// mkSockDir returns a new short temporary directory, removed after the test.
func mkSockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// longSockDir returns a new directory in which a socket's path is longer
// than sun_path (108 bytes), so that binds and connects take the
// /proc/self/fd way.
func longSockDir(t testing.TB) string {
	t.Helper()
	dir := mkSockDir(t)
	for len(dir) < 120 {
		dir = filepath.Join(dir, "a-directory-name")
	}
	require.NoError(t, os.MkdirAll(dir, 0o700))
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

// relLong reports whether the long versions run (UDS_LONG=1), as in the
// suites of reliability/.
func relLong() bool {
	v := os.Getenv("UDS_LONG")
	return v != "" && v != "0"
}

// pairMaker adapts uds.Pair to pairOf: pairOf(t, pairMaker(uds.SeqPacket)).
func pairMaker(typ uds.SocketType) func() (*uds.Conn, *uds.Conn, error) {
	return func() (*uds.Conn, *uds.Conn, error) { return uds.Pair(typ) }
}

// msgFilesSender returns a function that sends p with files on c, to to (the
// zero address: the connected peer), with uds.WriteMsg, and returns the bytes
// written.
func msgFilesSender(c syscall.Conn, to uds.Addr) func(p []byte, files ...*os.File) (int, error) {
	return func(p []byte, files ...*os.File) (int, error) {
		m := uds.Message{Buf: p, Addr: to, Files: files}
		err := uds.WriteMsg(c, &m)
		return m.N, err
	}
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
