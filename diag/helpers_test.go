//go:build linux

package diag_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// Helpers copied from the root package's tests (test code may repeat
// test helpers).

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

type acceptResult struct {
	c   *uds.Conn
	err error
}

// acceptAsync accepts one connection in the background.
func acceptAsync(ln *uds.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := acceptConn(ln)
		ch <- acceptResult{c, err}
	}()
	return ch
}

// waitAccept waits for the result of acceptAsync.
func waitAccept(t testing.TB, ch <-chan acceptResult) *uds.Conn {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err, "accept")
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(5 * time.Second):
		t.Fatal("accept did not return within 5s")
	}
	return nil
}

// udsListen listens on a, closing the listener when the test ends.
func udsListen(t testing.TB, lc *uds.ListenConfig, a uds.Addr) *uds.Listener {
	t.Helper()
	if lc == nil {
		lc = &uds.ListenConfig{}
	}
	ln, err := lc.Listen(context.Background(), a)
	require.NoError(t, err, "listen on %v", a)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// udsConnect dials a with d and accepts the connection on ln.
func udsConnect(t testing.TB, ln *uds.Listener, d *uds.Dialer, a uds.Addr) (client, server *uds.Conn) {
	t.Helper()
	ch := acceptAsync(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, a)
	require.NoError(t, err, "dial %v", a)
	t.Cleanup(func() { c.Close() })
	return c, waitAccept(t, ch)
}

// exchange checks that bytes flow both ways between a and b.
func exchange(t testing.TB, a, b net.Conn) {
	t.Helper()
	require.NoError(t, a.SetDeadline(time.Now().Add(5*time.Second)))
	require.NoError(t, b.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := a.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	_, err = b.Write([]byte("pong"))
	require.NoError(t, err)
	_, err = io.ReadFull(a, buf)
	require.NoError(t, err)
	assert.Equal(t, "pong", string(buf))
}

// fillQueueStd dials ln's path with the standard library until the kernel
// refuses because the queue is full, and returns the connections made and
// the refusal.
func fillQueueStd(t *testing.T, path string) (held []net.Conn, took time.Duration, refusal error) {
	t.Helper()
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := 0; i < 1000; i++ {
		start := time.Now()
		c, err := net.DialTimeout("unix", path, 3*time.Second)
		if err != nil {
			return held, time.Since(start), err
		}
		held = append(held, c)
	}
	t.Fatal("the listener's queue never filled")
	return nil, 0, nil
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

// acceptConn accepts the next connection of l as the *uds.Conn it is.
func acceptConn(l *uds.Listener) (*uds.Conn, error) {
	c, err := l.Accept()
	if err != nil {
		return nil, err
	}
	return c.(*uds.Conn), nil
}
