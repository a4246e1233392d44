//go:build linux

package uds_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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

// dialPaths are the two ways a path is dialed: through package net when it
// fits in sun_path, and the raw way (through the directory's descriptor)
// when it does not.
var dialPaths = []struct {
	name string
	dir  func(testing.TB) string
	long bool
}{
	{"net", mkSockDir, false},
	{"raw long path", longSockDir, true},
}

// sockPath returns the path name in dir, checking that it takes the dial
// path meant.
func sockPath(t *testing.T, dir, name string, long bool) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.Equal(t, long, len(p) > uds.MaxPathLen, "path %q of %d bytes", p, len(p))
	return p
}

// fillQueueRaw connects non-blocking sockets to the stream listener at
// path (of any length, through /proc/self/fd) until the kernel refuses with
// EAGAIN because its queue is full. The sockets are closed when the test
// ends.
func fillQueueRaw(t *testing.T, path string) {
	t.Helper()
	dirfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(dirfd)
	sa := &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, filepath.Base(path))}
	for range 1000 {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		err = unix.Connect(fd, sa)
		if err != nil {
			unix.Close(fd)
			require.ErrorIs(t, err, unix.EAGAIN, "only a full queue refuses")
			return
		}
		t.Cleanup(func() { unix.Close(fd) })
	}
	t.Fatal("the listener's queue never filled")
}

// countingControl returns a Dialer.Control hook that counts its calls.
func countingControl(n *atomic.Int32) func(string, string, syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		n.Add(1)
		return nil
	}
}

// assertDeadlineError checks that err is a dial timeout as net reports one:
// a *net.OpError and a net.Error whose Timeout is true, wrapping
// context.DeadlineExceeded and not context.Canceled.
func assertDeadlineError(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "dial", oe.Op)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "Timeout() of %q", err)
	assert.True(t, oe.Timeout(), "OpError.Timeout() of %q", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, context.Canceled)
}

// assertCanceledError checks that err is a dial cut short by cancellation:
// a *net.OpError wrapping context.Canceled that is not a timeout.
func assertCanceledError(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.False(t, oe.Timeout(), "Timeout() of %q", err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

func TestDialDeadlineErrors(t *testing.T) {
	for _, dp := range dialPaths {
		t.Run(dp.name, func(t *testing.T) {
			t.Run("deadline before any attempt", func(t *testing.T) {
				a := uds.Path(sockPath(t, dp.dir(t), "live.sock", dp.long))
				acceptAll(t, udsListen(t, nil, a))
				ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
				defer cancel()
				var calls atomic.Int32
				c, err := (&uds.Dialer{Control: countingControl(&calls)}).Dial(ctx, a)
				if c != nil {
					c.Close()
				}
				assertDeadlineError(t, err)
				assert.Zero(t, calls.Load(), "no socket is made once the deadline has passed")
			})

			t.Run("full backlog", func(t *testing.T) {
				p := sockPath(t, dp.dir(t), "bl.sock", dp.long)
				udsListen(t, &uds.ListenConfig{Backlog: 1}, uds.Path(p))
				fillQueueRaw(t, p)
				_, err := (&uds.Dialer{Timeout: 300 * time.Millisecond}).Dial(context.Background(), uds.Path(p))
				assertDeadlineError(t, err)
				assert.ErrorIs(t, err, syscall.EAGAIN, "the last attempt's error is wrapped")
				assert.Contains(t, err.Error(), "deadline exceeded")
				assert.Contains(t, err.Error(), "resource temporarily unavailable", "the last attempt's error is named")
			})

			t.Run("waiting, no socket file", func(t *testing.T) {
				p := sockPath(t, dp.dir(t), "never.sock", dp.long)
				_, err := (&uds.Dialer{WaitForListener: true, Timeout: 300 * time.Millisecond}).Dial(context.Background(), uds.Path(p))
				assertDeadlineError(t, err)
				assert.ErrorIs(t, err, syscall.ENOENT)
				assert.Contains(t, err.Error(), "no such file or directory")
			})

			t.Run("waiting, stale socket file", func(t *testing.T) {
				p := sockPath(t, dp.dir(t), "stale.sock", dp.long)
				ln, err := uds.Listen(context.Background(), uds.Path(p))
				require.NoError(t, err)
				ln.SetUnlinkOnClose(false)
				require.NoError(t, ln.Close())
				_, err = (&uds.Dialer{WaitForListener: true, Timeout: 300 * time.Millisecond}).Dial(context.Background(), uds.Path(p))
				assertDeadlineError(t, err)
				assert.ErrorIs(t, err, syscall.ECONNREFUSED)
				assert.Contains(t, err.Error(), "connection refused")
			})

			t.Run("negative Timeout", func(t *testing.T) {
				dir := dp.dir(t)
				live := uds.Path(sockPath(t, dir, "live.sock", dp.long))
				acc := acceptAll(t, udsListen(t, nil, live))
				for _, timeout := range []time.Duration{-1, -time.Hour} {
					var calls atomic.Int32
					d := uds.Dialer{Timeout: timeout, Control: countingControl(&calls)}
					c, err := d.Dial(context.Background(), live)
					if c != nil {
						c.Close()
					}
					assertDeadlineError(t, err)
					assert.Zero(t, calls.Load(), "no socket is made")

					// As in net, a missing socket is not even looked at.
					_, err = d.Dial(context.Background(), uds.Path(sockPath(t, dir, "missing.sock", dp.long)))
					assertDeadlineError(t, err)
					assert.NotErrorIs(t, err, syscall.ENOENT)

					// The message sockets' dials follow the same rule.
					_, err = d.Dial(context.Background(), live.WithType(uds.SeqPacket))
					assertDeadlineError(t, err)
				}
				assert.Zero(t, acc.count(), "nothing connected")
			})

			t.Run("cancel before any attempt", func(t *testing.T) {
				a := uds.Path(sockPath(t, dp.dir(t), "live.sock", dp.long))
				acceptAll(t, udsListen(t, nil, a))
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				// A negative Timeout does not turn a cancellation into a
				// timeout, as in net.
				for _, d := range []uds.Dialer{{}, {Timeout: -1}, {Timeout: time.Hour}} {
					_, err := d.Dial(ctx, a)
					assertCanceledError(t, err)
				}
			})

			t.Run("cancel while waiting", func(t *testing.T) {
				p := sockPath(t, dp.dir(t), "never.sock", dp.long)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() {
					time.Sleep(100 * time.Millisecond)
					cancel()
				}()
				_, err := (&uds.Dialer{WaitForListener: true, Timeout: time.Hour}).Dial(ctx, uds.Path(p))
				assertCanceledError(t, err)
			})
		})
	}
}

// A dial through package net calls Control once per attempt, so the test
// can cancel once an attempt is known to have failed.
func TestDialCancelNamesLastAttempt(t *testing.T) {
	p := sockPath(t, mkSockDir(t), "never.sock", false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	d := uds.Dialer{WaitForListener: true, Timeout: time.Hour, Control: func(string, string, syscall.RawConn) error {
		if calls.Add(1) == 2 {
			cancel()
		}
		return nil
	}}
	_, err := d.Dial(ctx, uds.Path(p))
	assertCanceledError(t, err)
	assert.ErrorIs(t, err, syscall.ENOENT, "the last attempt's error is wrapped")
	assert.Contains(t, err.Error(), "last attempt")
}

// uds matches package net's own dialer for a negative Timeout.
func TestDialNegativeTimeoutAsNet(t *testing.T) {
	p := sockPath(t, mkSockDir(t), "live.sock", false)
	acceptAll(t, udsListen(t, nil, uds.Path(p)))

	nc, nerr := (&net.Dialer{Timeout: -1}).Dial("unix", p)
	if nc != nil {
		nc.Close()
	}
	_, uerr := (&uds.Dialer{Timeout: -1}).Dial(context.Background(), uds.Path(p))

	var nne, une net.Error
	require.ErrorAs(t, nerr, &nne, "net fails a negative Timeout")
	require.ErrorAs(t, uerr, &une)
	assert.Equal(t, nne.Timeout(), une.Timeout())
	assert.Equal(t, errors.Is(nerr, context.DeadlineExceeded), errors.Is(uerr, context.DeadlineExceeded))
	assert.True(t, une.Timeout())
}
