//go:build linux

package uds_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

type dialResult struct {
	c   *uds.Conn
	err error
	at  time.Time
}

// dialAsync starts d.Dial(ctx, a) in the background.
func dialAsync(ctx context.Context, d *uds.Dialer, a uds.Addr) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		c, err := d.Dial(ctx, a)
		ch <- dialResult{c, err, time.Now()}
	}()
	return ch
}

func waitDial(t *testing.T, ch <-chan dialResult, limit time.Duration) dialResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.c != nil {
			t.Cleanup(func() { r.c.Close() })
		}
		return r
	case <-time.After(limit):
		t.Fatalf("dial did not return within %v", limit)
	}
	return dialResult{}
}

// assertStillDialing checks that the dial has not returned for d.
func assertStillDialing(t *testing.T, ch <-chan dialResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		if r.c != nil {
			r.c.Close()
		}
		t.Fatalf("dial returned before the server was ready: conn=%v err=%v", r.c != nil, r.err)
	case <-time.After(d):
	}
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

// acceptAll accepts connections on ln until it is closed, counting them.
type acceptor struct {
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func acceptAll(t *testing.T, ln *uds.Listener) *acceptor {
	a := &acceptor{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.conns = append(a.conns, c)
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-a.done
		for _, c := range a.conns {
			c.Close()
		}
	})
	return a
}

func (a *acceptor) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.conns)
}

func TestDialBacklogFull(t *testing.T) {
	dir := mkSockDir(t)
	p := filepath.Join(dir, "bl.sock")
	ln := udsListen(t, &uds.ListenConfig{Backlog: 1}, uds.Path(p))

	held, took, refusal := fillQueueStd(t, p)
	require.Error(t, refusal)
	t.Logf("queue full after %d connections: %v", len(held), refusal)
	assert.ErrorIs(t, refusal, syscall.EAGAIN, "the standard library reports the full queue")
	assert.Less(t, took, time.Second, "the standard library fails at once despite its 3s timeout")

	start := time.Now()
	ch := dialAsync(context.Background(), &uds.Dialer{Timeout: 5 * time.Second}, uds.Path(p))
	assertStillDialing(t, ch, 200*time.Millisecond)

	acceptStart := time.Now()
	acc := acceptAll(t, ln)
	r := waitDial(t, ch, 6*time.Second)
	require.NoError(t, r.err, "uds.Dialer retries a full queue")
	assert.False(t, r.at.Before(acceptStart), "connected only after the server accepted")
	assert.GreaterOrEqual(t, r.at.Sub(start), 200*time.Millisecond)
	assert.Less(t, r.at.Sub(acceptStart), 2*time.Second, "connected promptly once the queue drained")
	assert.Equal(t, uds.Path(p), r.c.RemoteAddr())

	// The connection is real: the server accepts it and data flows.
	assert.Eventually(t, func() bool { return acc.count() == len(held)+1 }, 5*time.Second, 10*time.Millisecond)
	_, err := r.c.Write([]byte("x"))
	assert.NoError(t, err)
}

func TestDialBacklogFullTimeout(t *testing.T) {
	dir := mkSockDir(t)
	p := filepath.Join(dir, "bl.sock")
	udsListen(t, &uds.ListenConfig{Backlog: 1}, uds.Path(p))
	_, _, refusal := fillQueueStd(t, p)
	require.ErrorIs(t, refusal, syscall.EAGAIN)

	start := time.Now()
	_, err := (&uds.Dialer{Timeout: 300 * time.Millisecond}).Dial(context.Background(), uds.Path(p))
	took := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
	assert.Contains(t, err.Error(), "resource temporarily unavailable", "the last attempt's error is named")
	assert.GreaterOrEqual(t, took, 250*time.Millisecond)
	assert.Less(t, took, 2*time.Second)
}

func TestDialWaitForListener(t *testing.T) {
	t.Run("missing then listening", func(t *testing.T) {
		dir := mkSockDir(t)
		a := uds.Path(filepath.Join(dir, "late.sock"))

		start := time.Now()
		_, err := uds.Dial(context.Background(), a)
		require.Error(t, err)
		assert.ErrorIs(t, err, syscall.ENOENT, "without WaitForListener a missing socket fails")
		var oe *net.OpError
		assert.ErrorAs(t, err, &oe)
		assert.Less(t, time.Since(start), 500*time.Millisecond, "and fails at once")

		start = time.Now()
		ch := dialAsync(context.Background(), &uds.Dialer{WaitForListener: true, Timeout: 10 * time.Second}, a)
		assertStillDialing(t, ch, 300*time.Millisecond)
		ln := udsListen(t, nil, a)
		listening := time.Now()
		acceptAll(t, ln)
		r := waitDial(t, ch, 5*time.Second)
		require.NoError(t, r.err)
		assert.GreaterOrEqual(t, r.at.Sub(start), 300*time.Millisecond)
		assert.Less(t, r.at.Sub(listening), 2*time.Second, "connected promptly once the server listened")
		assert.Equal(t, a, r.c.RemoteAddr())
	})
	t.Run("stale file then listening", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "stale.sock")
		ln0, err := uds.Listen(context.Background(), uds.Path(p))
		require.NoError(t, err)
		ln0.SetUnlinkOnClose(false)
		require.NoError(t, ln0.Close())

		_, err = uds.Dial(context.Background(), uds.Path(p))
		assert.ErrorIs(t, err, syscall.ECONNREFUSED, "without WaitForListener a stale socket fails")

		ch := dialAsync(context.Background(), &uds.Dialer{WaitForListener: true, Timeout: 10 * time.Second}, uds.Path(p))
		assertStillDialing(t, ch, 300*time.Millisecond)
		acceptAll(t, udsListen(t, nil, uds.Path(p)))
		r := waitDial(t, ch, 5*time.Second)
		require.NoError(t, r.err)
	})
	t.Run("abstract", func(t *testing.T) {
		a := uds.Abstract(uniqTag())
		_, err := uds.Dial(context.Background(), a)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)

		ch := dialAsync(context.Background(), &uds.Dialer{WaitForListener: true, Timeout: 10 * time.Second}, a)
		assertStillDialing(t, ch, 300*time.Millisecond)
		acceptAll(t, udsListen(t, nil, a))
		r := waitDial(t, ch, 5*time.Second)
		require.NoError(t, r.err)
		assert.Equal(t, a, r.c.RemoteAddr())
	})
}

func TestDialCancel(t *testing.T) {
	t.Run("cancel while waiting for listener", func(t *testing.T) {
		dir := mkSockDir(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := dialAsync(ctx, &uds.Dialer{WaitForListener: true}, uds.Path(filepath.Join(dir, "never.sock")))
		assertStillDialing(t, ch, 150*time.Millisecond)
		cancelled := time.Now()
		cancel()
		r := waitDial(t, ch, 5*time.Second)
		require.Error(t, r.err)
		assert.ErrorIs(t, r.err, context.Canceled)
		assert.False(t, errors.Is(r.err, context.DeadlineExceeded))
		var oe *net.OpError
		assert.ErrorAs(t, r.err, &oe)
		assert.Less(t, r.at.Sub(cancelled), 250*time.Millisecond, "cancellation stops the dial promptly")
	})
	t.Run("cancel while backlog full", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "bl.sock")
		udsListen(t, &uds.ListenConfig{Backlog: 1}, uds.Path(p))
		_, _, refusal := fillQueueStd(t, p)
		require.ErrorIs(t, refusal, syscall.EAGAIN)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := dialAsync(ctx, &uds.Dialer{}, uds.Path(p))
		assertStillDialing(t, ch, 150*time.Millisecond)
		cancelled := time.Now()
		cancel()
		r := waitDial(t, ch, 5*time.Second)
		require.Error(t, r.err)
		assert.ErrorIs(t, r.err, context.Canceled)
		assert.Less(t, r.at.Sub(cancelled), 250*time.Millisecond)
	})
	t.Run("already cancelled", func(t *testing.T) {
		ln := udsListen(t, nil, uds.Abstract(uniqTag()))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := uds.Dial(ctx, ln.Addr().(uds.Addr))
		assert.ErrorIs(t, err, context.Canceled)
	})
	// Package net's dial, and the raw one that a path longer than
	// sun_path takes.
	for name, dir := range map[string]func(testing.TB) string{"": mkSockDir, " long path": longSockDir} {
		t.Run("Timeout"+name, func(t *testing.T) {
			start := time.Now()
			_, err := (&uds.Dialer{WaitForListener: true, Timeout: 200 * time.Millisecond}).
				Dial(context.Background(), uds.Path(filepath.Join(dir(t), "never.sock")))
			took := time.Since(start)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.False(t, errors.Is(err, context.Canceled))
			assert.ErrorIs(t, err, syscall.ENOENT, "the last attempt's error is named")
			assert.GreaterOrEqual(t, took, 190*time.Millisecond)
			assert.Less(t, took, 1500*time.Millisecond)
		})
	}
	t.Run("cancel while waiting, long path", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := dialAsync(ctx, &uds.Dialer{WaitForListener: true}, uds.Path(filepath.Join(longSockDir(t), "never.sock")))
		assertStillDialing(t, ch, 150*time.Millisecond)
		cancel()
		r := waitDial(t, ch, 5*time.Second)
		assert.ErrorIs(t, r.err, context.Canceled)
		assert.ErrorIs(t, r.err, syscall.ENOENT, "the last attempt's error is named")
	})
	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := (&uds.Dialer{WaitForListener: true}).Dial(ctx, uds.Abstract(uniqTag()))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestDialLocalAddr(t *testing.T) {
	srv := uds.Abstract(uniqTag())
	ln := udsListen(t, nil, srv)

	t.Run("Autobind", func(t *testing.T) {
		c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: uds.Autobind()}, srv)
		la := c.LocalAddr().(uds.Addr)
		assert.Equal(t, uds.KindAbstract, la.Kind())
		assert.Regexp(t, autobindName, la.Name())
		assert.Equal(t, la, s.RemoteAddr())
		assert.Equal(t, "\x00"+la.Name(), kernelName(t, c, false))
	})
	t.Run("Abstract", func(t *testing.T) {
		local := uds.Abstract(uniqTag() + "\x00client")
		c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: local}, srv)
		assert.Equal(t, local, c.LocalAddr())
		assert.Equal(t, local, s.RemoteAddr())
		exchange(t, c, s)

		// The name is taken while the connection lives.
		_, err := (&uds.Dialer{LocalAddr: local}).Dial(context.Background(), srv)
		require.Error(t, err)
		assert.ErrorIs(t, err, uds.ErrInUse)
		var ie *uds.InUseError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, os.Getpid(), ie.PID)
		var oe *net.OpError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, local, oe.Source, "the error names the local address as the source")
		assert.Equal(t, srv, oe.Addr)
	})
	t.Run("Path", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "client.sock")
		local := uds.Path(p)
		c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: local}, srv)
		assert.Equal(t, local, c.LocalAddr())
		assert.Equal(t, local, s.RemoteAddr())
		assert.Equal(t, p, kernelName(t, s, true))
		fi, err := os.Lstat(p)
		require.NoError(t, err, "the client's socket file exists while connected")
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
		exchange(t, c, s)

		// The path is held while the connection lives: the same reclaim
		// rules and errors as Listen.
		_, err = (&uds.Dialer{LocalAddr: local}).Dial(context.Background(), srv)
		assert.ErrorIs(t, err, uds.ErrInUse)
		var oe *net.OpError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, local, oe.Source)
		assert.Equal(t, srv, oe.Addr)
		notSock := filepath.Join(dir, "file")
		require.NoError(t, os.WriteFile(notSock, []byte("keep"), 0o600))
		_, err = (&uds.Dialer{LocalAddr: uds.Path(notSock)}).Dial(context.Background(), srv)
		assert.ErrorIs(t, err, uds.ErrNotSocket)
		got, rerr := os.ReadFile(notSock)
		require.NoError(t, rerr)
		assert.Equal(t, "keep", string(got), "a file that is not a socket is left alone")
		require.NoError(t, os.Remove(notSock))

		require.NoError(t, c.Close())
		_, err = os.Lstat(p)
		assert.ErrorIs(t, err, os.ErrNotExist, "closing the connection removes the client's socket file")
		_, err = os.Lstat(p + ".lock")
		assert.ErrorIs(t, err, os.ErrNotExist, "and its lock file")
		assert.Empty(t, dirListing(t, dir))
	})
	t.Run("Path stale reclaimed", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "client.sock")
		require.NoError(t, rawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: p}, false).Close())

		c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: uds.Path(p)}, srv)
		assert.Equal(t, uds.Path(p), s.RemoteAddr())
		require.NoError(t, c.Close())
		assert.Empty(t, dirListing(t, dir))
	})
}

func TestDialControl(t *testing.T) {
	dir := mkSockDir(t)
	target := uds.Path(filepath.Join(dir, "ctl.sock"))
	var lnNetwork, lnAddress string
	ln := udsListen(t, &uds.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		lnNetwork, lnAddress = network, address
		return nil
	}}, target)
	assert.Equal(t, "unix", lnNetwork)
	assert.Equal(t, target.String(), lnAddress)

	var calls int
	var network, address string
	var sockType int
	var sockErr error
	d := &uds.Dialer{Control: func(nw, addr string, c syscall.RawConn) error {
		calls++
		network, address = nw, addr
		return c.Control(func(fd uintptr) {
			sockType, sockErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
		})
	}}
	c, s := udsConnect(t, ln, d, target)
	exchange(t, c, s)
	assert.Equal(t, 1, calls)
	assert.Equal(t, "unix", network)
	assert.Equal(t, target.String(), address)
	require.NoError(t, sockErr)
	assert.Equal(t, unix.SOCK_STREAM, sockType, "the hook sees the real socket")

	// An error from the hook stops the dial and is returned.
	hookErr := errors.New("refused by hook")
	_, err := (&uds.Dialer{Control: func(string, string, syscall.RawConn) error { return hookErr }}).
		Dial(context.Background(), target)
	assert.ErrorIs(t, err, hookErr)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
}
