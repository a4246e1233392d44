//go:build linux

// Package testutil holds the helpers that the tests of the module's packages
// (the root, reliability, diag, instance, activation, udshttp) share: short
// socket directories, unique abstract names, descriptor counts, socket pairs
// closed at the test's end, raw sockets. It is test support, as childproc
// and peertool are; nothing outside tests imports it.
package testutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// MkSockDir returns a new short temporary directory, removed after the test.
func MkSockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// LongSockDir returns a new directory in which a socket's path is longer
// than sun_path (108 bytes), so that binds and connects take the
// /proc/self/fd way.
func LongSockDir(t testing.TB) string {
	t.Helper()
	dir := MkSockDir(t)
	for len(dir) < 120 {
		dir = filepath.Join(dir, "a-directory-name")
	}
	require.NoError(t, os.MkdirAll(dir, 0o700))
	return dir
}

var uniqSeq atomic.Uint64

// UniqTag returns a string unique to this process and call, so that
// abstract names do not collide with other test binaries running at the
// same time (the abstract namespace is shared by the network namespace).
func UniqTag() string {
	return fmt.Sprintf("udst-%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, uniqSeq.Add(1))
}

// RequireRoot skips the test unless it runs as root (it runs children as
// uid 65534, sends others' credentials or changes socket ownership).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test runs children as another user, sends others' credentials or changes socket ownership")
	}
}

// OpenFDCount counts this process's open descriptors.
func OpenFDCount(t testing.TB) int {
	t.Helper()
	n, err := fdCount()
	require.NoError(t, err)
	return n
}

// fdCount counts this process's open descriptors.
func fdCount() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	return len(ents), err
}

// LstatIno returns the inode of the file at path (not following links).
func LstatIno(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st), "lstat %s", path)
	return st.Ino
}

// RawSock is a Unix socket made with x/sys, bypassing the package.
type RawSock struct {
	fd     int
	closed bool
}

// Close closes the socket once; later calls do nothing, so that the
// test-end cleanup never closes a descriptor number since reused.
func (s *RawSock) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return unix.Close(s.fd)
}

// RawSocket returns a socket of type typ (unix.SOCK_STREAM, ...) bound to
// sa and, if listen, listening. It is closed when the test ends unless
// closed earlier.
func RawSocket(t testing.TB, typ int, sa *unix.SockaddrUnix, listen bool) *RawSock {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	s := &RawSock{fd: fd}
	t.Cleanup(func() { s.Close() })
	require.NoError(t, unix.Bind(fd, sa))
	if listen {
		require.NoError(t, unix.Listen(fd, 8))
	}
	return s
}

// AcceptWithin accepts one connection with accept, failing the test if none
// comes within 5s (ln's deadline). The connection is closed when the test
// ends.
func AcceptWithin[C io.Closer](t testing.TB, ln interface{ SetDeadline(time.Time) error }, accept func() (C, error)) C {
	t.Helper()
	require.NoError(t, ln.SetDeadline(time.Now().Add(5*time.Second)))
	c, err := accept()
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// PairOf calls mk (uds.DatagramPair, PairType(uds.SeqPacket), ...) and
// returns its two ends, closed when the test ends. A test may close an end
// earlier: the second Close's error is ignored.
func PairOf[C io.Closer](t testing.TB, mk func() (C, C, error)) (C, C) {
	t.Helper()
	a, b, err := mk()
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// PairType returns a maker for PairOf of connected *uds.Conn pairs of type
// typ (uds.Stream or uds.SeqPacket): PairOf(t, PairType(uds.SeqPacket)).
func PairType(typ uds.SocketType) func() (*uds.Conn, *uds.Conn, error) {
	return func() (*uds.Conn, *uds.Conn, error) { return uds.Pair(typ) }
}

// PairFiles returns two connected sockets of type typ as files, for
// exec.Cmd.ExtraFiles and other hand-offs: the ends of uds.Pair (or
// uds.DatagramPair) through File, the connections closed. A seqpacket pair
// is first given SetZeroReadIsEOF(true), which turns off the SO_TIMESTAMP
// a *uds.Conn keeps on, so that a program that inherits an end gets no
// control message it did not ask for (FileConn turns it on again). They are
// closed when the test ends if not before.
func PairFiles(t testing.TB, typ uds.SocketType) (*os.File, *os.File) {
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

// AcceptConn accepts the next connection of l as the *uds.Conn it is.
func AcceptConn(l *uds.Listener) (*uds.Conn, error) {
	c, err := l.Accept()
	if err != nil {
		return nil, err
	}
	return c.(*uds.Conn), nil
}

// AcceptFunc is AcceptConn on l as a function, for AcceptWithin.
func AcceptFunc(l *uds.Listener) func() (*uds.Conn, error) {
	return func() (*uds.Conn, error) { return AcceptConn(l) }
}

// Long reports whether the long versions of the tests run (UDS_LONG=1).
func Long() bool {
	v := os.Getenv("UDS_LONG")
	return v != "" && v != "0"
}

// FilesSender returns a function that sends p with files on c, to to (the
// zero address: the connected peer), with uds.WriteMsg, and returns the bytes
// written.
func FilesSender(c syscall.Conn, to uds.Addr) func(p []byte, files ...*os.File) (int, error) {
	return func(p []byte, files ...*os.File) (int, error) {
		m := uds.Message{Buf: p, Addr: to, Files: files}
		err := uds.WriteMsg(c, &m)
		return m.N, err
	}
}

// ReadFrom reads one message into b with uds.ReadMsg, as the old
// ReadFromAddr did: the sender is stored in *from (which the read
// overwrites, whatever it held) and the bytes read are returned.
func ReadFrom(c syscall.Conn, b []byte, from *uds.Addr) (int, error) {
	m := uds.Message{Buf: b, Addr: *from}
	err := uds.ReadMsg(c, &m)
	*from = m.Addr
	return m.N, err
}

// WriteTo sends b to to with uds.WriteMsg and returns the bytes written.
func WriteTo(c syscall.Conn, b []byte, to uds.Addr) (int, error) {
	m := uds.Message{Buf: b, Addr: to}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}

// DirNames returns the sorted names of dir's entries.
func DirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// DirListing lists dir's entries as "name mode size", sorted, to compare a
// directory before and after an operation.
func DirListing(t testing.TB, dir string) []string {
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
