//go:build linux

package diag_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/testutil"
)

// The module's shared test helpers (internal/testutil), under the names the
// tests use.
var (
	mkSockDir  = testutil.MkSockDir
	uniqTag    = testutil.UniqTag
	rawSocket  = testutil.RawSocket
	acceptConn = testutil.AcceptConn
	dirListing = testutil.DirListing
)

// Helpers copied from the root package's tests (test code may repeat
// test helpers).

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

// requireTool returns the path of an external program. A missing one skips
// the test, recorded for TestMain's summary, or fails it when CI is set to
// anything.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	return peerSkips.Require(t, name)
}
