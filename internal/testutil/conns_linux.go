//go:build linux

package testutil

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/udskit/uds"
)

// AcceptResult is what AcceptAsync's accept returned.
type AcceptResult struct {
	C   *uds.Conn
	Err error
}

// AcceptAsync accepts one connection in the background.
func AcceptAsync(ln *uds.Listener) <-chan AcceptResult {
	ch := make(chan AcceptResult, 1)
	go func() {
		c, err := AcceptConn(ln)
		ch <- AcceptResult{C: c, Err: err}
	}()
	return ch
}

// WaitAccept waits for the result of AcceptAsync.
func WaitAccept(t testing.TB, ch <-chan AcceptResult) *uds.Conn {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.Err, "accept")
		t.Cleanup(func() { r.C.Close() })
		return r.C
	case <-time.After(5 * time.Second):
		t.Fatal("accept did not return within 5s")
	}
	return nil
}

// Listen listens on a, closing the listener when the test ends.
func Listen(t testing.TB, lc *uds.ListenConfig, a uds.Addr) *uds.Listener {
	t.Helper()
	if lc == nil {
		lc = &uds.ListenConfig{}
	}
	ln, err := lc.Listen(context.Background(), a)
	require.NoError(t, err, "listen on %v", a)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Connect dials a with d and accepts the connection on ln.
func Connect(t testing.TB, ln *uds.Listener, d *uds.Dialer, a uds.Addr) (client, server *uds.Conn) {
	t.Helper()
	ch := AcceptAsync(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, a)
	require.NoError(t, err, "dial %v", a)
	t.Cleanup(func() { c.Close() })
	return c, WaitAccept(t, ch)
}

// Exchange checks that bytes flow both ways between a and b.
func Exchange(t testing.TB, a, b net.Conn) {
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

// FillQueueStd dials ln's path with the standard library until the kernel
// refuses because the queue is full, and returns the connections made and
// the refusal.
func FillQueueStd(t *testing.T, path string) (held []net.Conn, took time.Duration, refusal error) {
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
