//go:build linux

package uds_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

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
