//go:build linux

package testutil

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/udskit/uds"
	"golang.org/x/sys/unix"
)

// Descriptor and message helpers shared by the root's tests and the
// reliability suites.

func Exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// FDEnd is what the connections descriptors are tested on share: the uds
// types and plain *net.UnixConn values, all driven through uds.ReadMsg and
// uds.WriteMsg.
type FDEnd interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
	SetReadDeadline(time.Time) error
	Close() error
	syscall.Conn
}

// WriteFiles sends files with b in one uds.WriteMsg and returns m.N.
func WriteFiles(c syscall.Conn, b []byte, files ...*os.File) (int, error) {
	m := uds.Message{Buf: b, Files: files}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}

// WriteFDs sends the raw descriptors fds with b in one uds.WriteMsg.
func WriteFDs(c syscall.Conn, b []byte, fds []int) (int, error) {
	m := uds.Message{Buf: b, FDs: fds}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}

// ReadFiles reads one message into b with room for maxFiles files
// (Message.Files of that capacity) and returns m.N and m.Files.
func ReadFiles(c syscall.Conn, b []byte, maxFiles int) (int, []*os.File, error) {
	m := uds.Message{Buf: b, Files: make([]*os.File, 0, maxFiles)}
	err := uds.ReadMsg(c, &m)
	return m.N, m.Files, err
}

// ReadFDs reads one message into b with room for cap(fds) raw
// descriptors, stored in fds[:nfd].
func ReadFDs(c syscall.Conn, b []byte, fds []int) (n, nfd int, err error) {
	m := uds.Message{Buf: b, FDs: fds[:0]}
	err = uds.ReadMsg(c, &m)
	return m.N, len(m.FDs), err
}

func NetPair(typ int) func(t *testing.T) (FDEnd, FDEnd) {
	return func(t *testing.T) (FDEnd, FDEnd) {
		fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		require.NoError(t, err)
		var ends [2]FDEnd
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

// OpenFiles returns n distinct open files: temporary files holding "file i".
func OpenFiles(t testing.TB, n int) []*os.File {
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

func CloseAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func Ints(files []*os.File) []int {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return fds
}

// ChildStart begins a child that runs under a descriptor limit: it
// rebuilds the connection of type typ (as SocketType.String gives it) from
// descriptor 3, reads the limit and the count of open descriptors, then
// fills the descriptor table with /dev/null (fillers).
func ChildStart(typ string) (c FDEnd, limit, before int, fillers []int, err error) {
	f := os.NewFile(3, "sock")
	t, err := SocketType(typ)
	if err == nil {
		c, err = ConnOf(f, t)
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
	before = ProcFDCount()
	return c, int(lim.Cur), before, OpenAll(), nil
}

func SocketType(s string) (uds.SocketType, error) {
	for _, t := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		if t.String() == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown socket type %q", s)
}

// ProcFDCount counts this process's open descriptors.
func ProcFDCount() int { n, _ := fdCount(); return n }

// OpenAll opens /dev/null until the descriptor table is full and returns
// the descriptors.
func OpenAll() []int {
	var fds []int
	for {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fds
		}
		fds = append(fds, fd)
	}
}

// CountFree counts the free slots of the descriptor table, leaving them
// free.
func CountFree() int {
	fds := OpenAll()
	for _, fd := range fds {
		unix.Close(fd)
	}
	return len(fds)
}

// ConnFromFile rebuilds a uds connection of type typ from a socket file.
func ConnFromFile(t *testing.T, f *os.File, typ uds.SocketType) FDEnd {
	t.Helper()
	c, err := ConnOf(f, typ)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// ConnOf rebuilds a uds connection of type typ from a socket file; f
// stays open.
func ConnOf(f *os.File, typ uds.SocketType) (FDEnd, error) {
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

// ListenDatagram binds a datagram socket to a, closed at the end of the
// test.
func ListenDatagram(t testing.TB, lc *uds.ListenConfig, a uds.Addr) *uds.DatagramConn {
	t.Helper()
	if lc == nil {
		lc = &uds.ListenConfig{}
	}
	c, err := lc.ListenDatagram(Ctx(t), a)
	require.NoError(t, err)
	CloseAtEnd(t, c)
	return c
}

// MsgEnd is what a seqpacket Conn and DatagramConn have in common.
type MsgEnd interface {
	Write([]byte) (int, error)
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
	syscall.Conn
}

// Ctx returns a context that ends after 10s or with the test.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// CloseAtEnd closes c when the test ends.
func CloseAtEnd(t testing.TB, c io.Closer) {
	t.Cleanup(func() { c.Close() })
}

// Deadline gives r five seconds to read, so that a missing message fails
// the test instead of hanging it.
func Deadline(t testing.TB, r MsgEnd) {
	t.Helper()
	require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
}

// Expect reads one message from r into a buffer of bufLen bytes and
// checks it is exactly want.
func Expect(t testing.TB, r MsgEnd, bufLen int, want []byte) {
	t.Helper()
	Deadline(t, r)
	buf := make([]byte, bufLen)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, len(want), n)
	assert.Equal(t, want, buf[:n])
}

// FDPairCase is a kind of connection that descriptors are tested on.
type FDPairCase struct {
	Name string
	Type uds.SocketType
	Make func(t *testing.T) (a, b FDEnd) // both ends closed when the test ends
}

// FDPairs are the connections descriptors are tested on: socket pairs of
// each type, a listener's accepted connection, and plain *net.UnixConn
// values. The first four are uds's own.
func FDPairs() []FDPairCase {
	return []FDPairCase{
		{"stream pair", uds.Stream, func(t *testing.T) (FDEnd, FDEnd) {
			return PairOf(t, PairType(uds.Stream))
		}},
		{"stream accepted", uds.Stream, func(t *testing.T) (FDEnd, FDEnd) {
			ln, err := uds.Listen(context.Background(), uds.Abstract(UniqTag()))
			require.NoError(t, err)
			defer ln.Close()
			cli, err := uds.Dial(context.Background(), ln.Addr().(uds.Addr))
			require.NoError(t, err)
			srv, err := AcceptConn(ln)
			require.NoError(t, err)
			t.Cleanup(func() { cli.Close(); srv.Close() })
			return cli, srv
		}},
		{"seqpacket pair", uds.SeqPacket, func(t *testing.T) (FDEnd, FDEnd) {
			return PairOf(t, PairType(uds.SeqPacket))
		}},
		{"datagram pair", uds.Datagram, func(t *testing.T) (FDEnd, FDEnd) {
			return PairOf(t, uds.DatagramPair)
		}},
		{"net.UnixConn stream", uds.Stream, NetPair(unix.SOCK_STREAM)},
		{"net.UnixConn seqpacket", uds.SeqPacket, NetPair(unix.SOCK_SEQPACKET)},
		{"net.UnixConn datagram", uds.Datagram, NetPair(unix.SOCK_DGRAM)},
	}
}
