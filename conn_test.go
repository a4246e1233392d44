//go:build linux

package uds_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/nettest"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// --- helpers shared by the Linux tests of this package ---

// kernelName returns the raw sun_path bytes of the socket's own address
// (or its peer's), exactly as long as the kernel says: "\x00name" for an
// abstract name, "" for an unnamed socket.
func kernelName(t testing.TB, c syscall.Conn, peer bool) string {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	trap := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		trap = unix.SYS_GETPEERNAME
	}
	var sa unix.RawSockaddrUnix
	n := uint32(unsafe.Sizeof(sa))
	var errno syscall.Errno
	require.NoError(t, rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(trap, fd, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	}))
	require.Zero(t, errno, "getsockname/getpeername: %v", errno)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))[2:n]
	if len(raw) > 0 && raw[0] != 0 {
		// A path is a C string; the length counts its terminating NUL.
		if i := strings.IndexByte(string(raw), 0); i >= 0 {
			raw = raw[:i]
		}
	}
	return string(raw)
}

var autobindName = regexp.MustCompile(`^[0-9a-f]{5}$`)

// --- tests ---

// pipeOver makes nettest pipes by listening on a fresh address from next,
// dialing it and accepting.
func pipeOver(next func() uds.Addr) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a := next()
		ln, err := uds.Listen(ctx, a)
		if err != nil {
			return nil, nil, nil, err
		}
		defer ln.Close()
		ch := acceptAsync(ln)
		c, err := uds.Dial(ctx, a)
		if err != nil {
			return nil, nil, nil, err
		}
		r := <-ch
		if r.Err != nil {
			c.Close()
			return nil, nil, nil, r.Err
		}
		return c, r.C, func() { c.Close(); r.C.Close() }, nil
	}
}

func TestConnNettest(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		dir := mkSockDir(t)
		var n atomic.Int64
		nettest.TestConn(t, pipeOver(func() uds.Addr {
			return uds.Path(filepath.Join(dir, "s"+strconv.FormatInt(n.Add(1), 10)))
		}))
	})
	t.Run("abstract", func(t *testing.T) {
		nettest.TestConn(t, pipeOver(func() uds.Addr { return uds.Abstract(uniqTag() + "\x00nettest") }))
	})
	t.Run("pair", func(t *testing.T) {
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			a, b, err := uds.Pair(uds.Stream)
			if err != nil {
				return nil, nil, nil, err
			}
			return a, b, func() { a.Close(); b.Close() }, nil
		})
	})
}

func TestPairAddrs(t *testing.T) {
	a, b := pairOf(t, pairType(uds.Stream))
	for _, c := range []*uds.Conn{a, b} {
		assert.Equal(t, uds.Unnamed(), c.LocalAddr())
		assert.Equal(t, uds.Unnamed(), c.RemoteAddr())
		assert.Equal(t, "", kernelName(t, c, false))
		assert.Equal(t, "", kernelName(t, c, true))
	}
	exchange(t, a, b)
}

// Abstract names with NUL bytes anywhere read back exactly, through every
// call that reports an address, on both ends.
func TestAbstractNULNamesRoundTrip(t *testing.T) {
	for _, base := range []string{"a\x00b", "HELLO\x00", "\x00lead"} {
		t.Run(strconv.Quote(base), func(t *testing.T) {
			// Make the name unique without moving its NUL bytes: a leading
			// NUL stays first, a trailing NUL stays last.
			name := uniqTag() + base
			if strings.HasPrefix(base, "\x00") {
				name = base + uniqTag()
			}
			srv := uds.Abstract(name)
			cli := uds.Abstract(name + "\x00client\x00")

			ln := udsListen(t, nil, srv)
			assert.Equal(t, srv, ln.Addr())
			assert.Equal(t, "\x00"+name, kernelName(t, ln, false), "the kernel holds the exact name")

			c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: cli}, srv)
			assert.Equal(t, cli, c.LocalAddr())
			assert.Equal(t, srv, c.RemoteAddr())
			assert.Equal(t, srv, s.LocalAddr())
			assert.Equal(t, cli, s.RemoteAddr(), "the server sees the client's exact name")
			assert.Equal(t, "\x00"+cli.Name(), kernelName(t, c, false))
			assert.Equal(t, "\x00"+name, kernelName(t, c, true))
			exchange(t, c, s)

			// ParseAddr reads the printed form back to the same address.
			for _, a := range []net.Addr{ln.Addr(), c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr()} {
				got, err := uds.ParseAddr(a.String())
				require.NoError(t, err)
				assert.Equal(t, a, got)
			}
		})
	}
}

// "HELLO" and "HELLO\x00" are two different sockets.
func TestAbstractTrailingNULIsAnotherSocket(t *testing.T) {
	tag := uniqTag()
	plain := uds.Abstract(tag + "HELLO")
	nul := uds.Abstract(tag + "HELLO\x00")
	lnPlain := udsListen(t, nil, plain)
	lnNUL := udsListen(t, nil, nul)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	toNUL, err := uds.Dial(ctx, nul)
	require.NoError(t, err)
	defer toNUL.Close()
	toPlain, err := uds.Dial(ctx, plain)
	require.NoError(t, err)
	defer toPlain.Close()

	for _, tc := range []struct {
		ln     *uds.Listener
		addr   uds.Addr
		client *uds.Conn
		msg    string
	}{{lnPlain, plain, toPlain, "to-plain"}, {lnNUL, nul, toNUL, "to-nul!"}} {
		require.NoError(t, tc.ln.SetDeadline(time.Now().Add(5*time.Second)))
		s, err := acceptConn(tc.ln)
		require.NoError(t, err)
		defer s.Close()
		assert.Equal(t, tc.addr, s.LocalAddr())
		_, err = tc.client.Write([]byte(tc.msg))
		require.NoError(t, err)
		require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, len(tc.msg))
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
		assert.Equal(t, tc.msg, string(buf), "the connection to %v reached the listener on %v", tc.addr, tc.addr)

		// Each listener got exactly one connection.
		require.NoError(t, tc.ln.SetDeadline(time.Now().Add(100*time.Millisecond)))
		_, err = tc.ln.Accept()
		require.Error(t, err, "a second connection reached %v", tc.addr)
		assert.True(t, os.IsTimeout(err), "want a timeout, got %v", err)
	}
}

func TestAutobind(t *testing.T) {
	t.Run("listener", func(t *testing.T) {
		ln := udsListen(t, nil, uds.Autobind())
		a, ok := ln.Addr().(uds.Addr)
		require.True(t, ok, "Addr is a uds.Addr")
		assert.Equal(t, uds.KindAbstract, a.Kind())
		assert.Regexp(t, autobindName, a.Name())
		assert.Equal(t, "\x00"+a.Name(), kernelName(t, ln, false))

		c, s := udsConnect(t, ln, &uds.Dialer{}, a)
		assert.Equal(t, a, c.RemoteAddr())
		assert.Equal(t, a, s.LocalAddr())
		exchange(t, c, s)
	})
	t.Run("dialer", func(t *testing.T) {
		srv := uds.Abstract(uniqTag())
		ln := udsListen(t, nil, srv)
		c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: uds.Autobind()}, srv)
		la, ok := c.LocalAddr().(uds.Addr)
		require.True(t, ok)
		assert.Equal(t, uds.KindAbstract, la.Kind(), "a bound socket reads back as abstract, not autobind")
		assert.Regexp(t, autobindName, la.Name())
		assert.Equal(t, "\x00"+la.Name(), kernelName(t, c, false))
		assert.Equal(t, la, s.RemoteAddr(), "the server sees the exact autobind name")
	})
	t.Run("unbound client", func(t *testing.T) {
		srv := uds.Abstract(uniqTag())
		ln := udsListen(t, nil, srv)
		c, s := udsConnect(t, ln, &uds.Dialer{}, srv)
		ra, ok := s.RemoteAddr().(uds.Addr)
		require.True(t, ok)
		assert.Equal(t, uds.KindUnnamed, ra.Kind(), "not the abstract name \"\"")
		assert.Equal(t, uds.Unnamed(), ra)
		assert.Equal(t, uds.Unnamed(), c.LocalAddr())
		assert.Equal(t, "(unnamed)", s.RemoteAddr().String())
	})
}

func TestPathAddrs(t *testing.T) {
	dir := mkSockDir(t)
	p := uds.Path(filepath.Join(dir, "app.sock"))
	ln := udsListen(t, nil, p)
	assert.Equal(t, p, ln.Addr())
	assert.Equal(t, p.Name(), ln.Addr().String())
	assert.Equal(t, "unix", ln.Addr().Network())
	c, s := udsConnect(t, ln, &uds.Dialer{}, p)
	assert.Equal(t, p, c.RemoteAddr())
	assert.Equal(t, uds.Unnamed(), c.LocalAddr())
	assert.Equal(t, p, s.LocalAddr())
	assert.Equal(t, uds.Unnamed(), s.RemoteAddr())
	assert.Equal(t, p.Name(), kernelName(t, c, true))
	exchange(t, c, s)

	// A relative path works from the working directory, and reports the
	// path as given.
	t.Run("relative", func(t *testing.T) {
		t.Chdir(dir)
		rel := uds.Path("rel.sock")
		ln := udsListen(t, nil, rel)
		assert.Equal(t, rel, ln.Addr())
		c, s := udsConnect(t, ln, &uds.Dialer{}, rel)
		assert.Equal(t, rel, c.RemoteAddr())
		assert.Equal(t, rel, s.LocalAddr())
		fi, err := os.Lstat(filepath.Join(dir, "rel.sock"))
		require.NoError(t, err)
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	})
}

// longDir makes nested directories under a temporary directory so that
// dir/base is longer than sun_path.
func longDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(mkSockDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

func TestLongPath(t *testing.T) {
	dir := longDir(t)
	p := filepath.Join(dir, "long.sock")
	require.Greater(t, len(p), 108)
	a := uds.Path(p)

	ln, err := uds.Listen(context.Background(), a)
	require.NoError(t, err)
	defer ln.Close()
	assert.Equal(t, a, ln.Addr())
	assert.NotContains(t, ln.Addr().String(), "/proc/")
	fi, err := os.Lstat(p)
	require.NoError(t, err, "the socket file is at the long path")
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	_, err = os.Lstat(p + ".lock")
	require.NoError(t, err, "the lock file is beside the socket")

	ch := acceptAsync(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := uds.Dial(ctx, a)
	require.NoError(t, err)
	s := waitAccept(t, ch)
	assert.Equal(t, a, c.RemoteAddr())
	assert.Equal(t, a, s.LocalAddr())
	assert.Equal(t, uds.Unnamed(), c.LocalAddr())
	assert.Equal(t, uds.Unnamed(), s.RemoteAddr())
	for _, x := range []net.Addr{c.RemoteAddr(), s.LocalAddr()} {
		assert.NotContains(t, x.String(), "/proc/")
	}
	exchange(t, c, s)
	require.NoError(t, c.Close())
	require.NoError(t, s.Close())

	// Probe sees it live through the long path too.
	r, err := diag.Probe(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, diag.ProbeLive, r.State)
	assert.Equal(t, os.Getpid(), r.PID)

	require.NoError(t, ln.Close())
	_, err = os.Lstat(p)
	assert.ErrorIs(t, err, os.ErrNotExist, "Close removes the socket file")
	_, err = os.Lstat(p + ".lock")
	assert.ErrorIs(t, err, os.ErrNotExist, "Close removes the lock file")
	assert.Empty(t, dirListing(t, dir))
}

func TestLongPathLastElementLimit(t *testing.T) {
	dir := longDir(t)
	maxLongBase := uds.MaxPathLen - len("/proc/self/fd/") - 10 - 1

	// At the limit it works.
	ok := uds.Path(filepath.Join(dir, strings.Repeat("b", maxLongBase)))
	ln := udsListen(t, nil, ok)
	c, s := udsConnect(t, ln, &uds.Dialer{}, ok)
	exchange(t, c, s)
	require.NoError(t, ln.Close())

	// One byte more cannot be reached through /proc/self/fd/N/.
	bad := uds.Path(filepath.Join(dir, strings.Repeat("b", maxLongBase+1)))
	before := dirListing(t, dir)
	for name, op := range map[string]func() error{
		"listen": func() error { _, err := uds.Listen(context.Background(), bad); return err },
		"dial":   func() error { _, err := uds.Dial(context.Background(), bad); return err },
	} {
		err := op()
		require.Error(t, err, name)
		var oe *net.OpError
		assert.ErrorAs(t, err, &oe, name)
		assert.ErrorIs(t, err, uds.ErrInvalidAddr, name)
		assert.Contains(t, err.Error(), "limit "+strconv.Itoa(maxLongBase), name)
		assert.Contains(t, err.Error(), strconv.Itoa(len(bad.Name()))+" bytes", name)
	}
	assert.Equal(t, before, dirListing(t, dir), "nothing created")
}
