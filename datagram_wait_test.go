//go:build linux

package uds_test

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// Tests of writes that wait for room in a full receive queue (issue 15).
// The queue is filled by another socket, so that only the receiver reading
// could make room, and the kernel wakes no unconnected sender for that.

// waitReceiver is a raw non-blocking datagram socket bound to an abstract
// name, with a raw non-blocking sender that fills its queue.
type waitReceiver struct {
	addr   uds.Addr
	fd     int // the receiver
	filler int // another sender
	sa     unix.SockaddrUnix
	buf    []byte
}

func newWaitReceiver(t testing.TB) *waitReceiver {
	t.Helper()
	r := &waitReceiver{buf: make([]byte, 256)}
	name := uniqTag() + "-wait"
	r.addr = uds.Abstract(name)
	r.sa = unix.SockaddrUnix{Name: "@" + name}
	var err error
	r.fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(r.fd) })
	require.NoError(t, unix.Bind(r.fd, &r.sa))
	r.filler, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(r.filler) })
	return r
}

// fill sends from the filler until the receiver's queue is full and returns
// how many messages it sent.
func (r *waitReceiver) fill(t testing.TB) int {
	t.Helper()
	for n := 0; ; n++ {
		err := unix.Sendto(r.filler, []byte("filler"), 0, &r.sa)
		if err == unix.EAGAIN {
			require.Positive(t, n, "the queue takes no message")
			return n
		}
		require.NoError(t, err)
		require.Less(t, n, 1<<16, "the queue never fills")
	}
}

// readOne takes one message from the queue, which must not be empty.
func (r *waitReceiver) readOne(t testing.TB) string {
	t.Helper()
	n, err := unix.Read(r.fd, r.buf)
	require.NoError(t, err)
	return string(r.buf[:n])
}

// drain empties the queue and returns how many messages it held.
func (r *waitReceiver) drain(t testing.TB) int {
	t.Helper()
	for n := 0; ; n++ {
		_, err := unix.Read(r.fd, r.buf)
		if err == unix.EAGAIN {
			return n
		}
		require.NoError(t, err)
	}
}

// waitSend is one way of sending a message to an address.
type waitSend struct {
	name string
	send func(w *uds.DatagramConn, b []byte, to uds.Addr) error
}

// waitSends are the unconnected send paths: all of them wait for room.
func waitSends(t testing.TB) []waitSend {
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return []waitSend{
		{"WriteMsg", func(w *uds.DatagramConn, b []byte, to uds.Addr) error {
			return uds.WriteMsg(w, &uds.Message{Buf: b, Addr: to})
		}},
		{"WriteTo", func(w *uds.DatagramConn, b []byte, to uds.Addr) error {
			_, err := w.WriteTo(b, &net.UnixAddr{Name: "@" + to.Name(), Net: "unixgram"})
			return err
		}},
		{"WriteMsg with Cred", func(w *uds.DatagramConn, b []byte, to uds.Addr) error {
			own := &uds.Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()}
			return uds.WriteMsg(w, &uds.Message{Buf: b, Addr: to, Cred: own})
		}},
		{"WriteBatch", func(w *uds.DatagramConn, b []byte, to uds.Addr) error {
			ms := []uds.Message{{Buf: b, Addr: to}}
			_, err := uds.WriteBatch(w, ms)
			return err
		}},
		{"WriteMsg with Files", func(w *uds.DatagramConn, b []byte, to uds.Addr) error {
			return uds.WriteMsg(w, &uds.Message{Buf: b, Addr: to, Files: []*os.File{f}})
		}},
	}
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// requireTimeout checks that err is a write deadline's, as package net
// reports it.
func requireTimeout(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, msgAndArgs...)
	var ne net.Error
	require.ErrorAs(t, err, &ne, msgAndArgs...)
	require.True(t, ne.Timeout(), msgAndArgs...)
}

// TestDatagramBlockedWriteCPU: a write that waits about a second for room
// in a full receiver's queue uses at most 5 % of a CPU, on every send path.
// (Unconnected senders get no wake-up from the kernel; each failed sendto
// makes the sender's own socket look writable to the poller, so waiting in
// the poller spun.) Resource use, not speed: it holds under -race.
func TestDatagramBlockedWriteCPU(t *testing.T) {
	const wait = time.Second
	sends := waitSends(t)
	sends = append(sends, waitSend{"connected Write", nil})
	for _, s := range sends {
		t.Run(s.name, func(t *testing.T) {
			r := newWaitReceiver(t)
			var w *uds.DatagramConn
			if s.send == nil {
				w = msgDialDatagram(t, nil, r.addr)
			} else {
				w = msgListenDatagram(t, nil, uds.Autobind())
			}
			r.fill(t)
			runtime.GC()
			cpu0, wall0 := cpuTime(t), time.Now()
			require.NoError(t, w.SetWriteDeadline(wall0.Add(wait)))
			var err error
			if s.send == nil {
				_, err = w.Write([]byte("blocked"))
			} else {
				err = s.send(w, []byte("blocked"), r.addr)
			}
			cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
			requireTimeout(t, err)
			share := float64(cpu) / float64(wall)
			t.Logf("blocked %v, CPU %v (%.2f %% of one core)", wall.Round(time.Millisecond), cpu, 100*share)
			assert.LessOrEqual(t, share, 0.05, "CPU %v while blocked %v", cpu, wall)
			assert.Equal(t, "filler", r.readOne(t), "the blocked message was not sent")
		})
	}
}

// TestDatagramWriteWaitDeadlineChange: a write waiting for room follows
// every change of the deadline made while it waits, and Close. Each of 1,000
// tries blocks a write on a queue full of another sender's messages, then
// from this goroutine moves the deadline earlier (the write fails with a
// timeout), later or off and lets the receiver read one message (the write
// completes), or closes the socket (the write fails with net.ErrClosed).
// A try that does not end within 10 s fails the test: that is a hang, not a
// speed limit.
func TestDatagramWriteWaitDeadlineChange(t *testing.T) {
	tries := 1000
	if testing.Short() {
		tries = 100
	}
	const hang = 10 * time.Second
	r := newWaitReceiver(t)
	sends := waitSends(t)
	newWriter := func() *uds.DatagramConn {
		w, err := uds.ListenDatagram(msgCtx(t), uds.Autobind())
		require.NoError(t, err)
		return w
	}
	w := newWriter()
	t.Cleanup(func() { w.Close() })
	done := make(chan error, 1)
	for i := range tries {
		r.drain(t)
		r.fill(t)
		mode := i % 6
		s := sends[(i/6)%len(sends)]
		// The deadline before the change: none, or an hour ahead.
		var before time.Time
		if (i/6/len(sends))%2 == 1 {
			before = time.Now().Add(time.Hour)
		}
		require.NoError(t, w.SetWriteDeadline(before))
		go func(w *uds.DatagramConn) { done <- s.send(w, []byte("waiting"), r.addr) }(w)
		// Change while the write waits, or is about to.
		// (Not a timing assertion: the pauses only vary how far into its
		// wait the write is, from spinning to sleeping.)
		switch i % 5 {
		case 1:
			runtime.Gosched()
		case 2:
			time.Sleep(50 * time.Microsecond)
		case 3:
			time.Sleep(time.Millisecond)
		case 4:
			time.Sleep(3 * time.Millisecond)
		}
		desc := ""
		switch mode {
		case 0:
			desc = "deadline moved to now"
			require.NoError(t, w.SetWriteDeadline(time.Now()))
		case 1:
			desc = "deadline (SetDeadline) moved into the past"
			require.NoError(t, w.SetDeadline(time.Now().Add(-time.Second)))
		case 2:
			desc = "deadline removed"
			require.NoError(t, w.SetWriteDeadline(time.Time{}))
		case 3:
			desc = "deadline moved later"
			require.NoError(t, w.SetWriteDeadline(time.Now().Add(2*time.Hour)))
		case 4:
			desc = "deadline removed (SetDeadline)"
			require.NoError(t, w.SetDeadline(time.Time{}))
		case 5:
			desc = "closed"
			require.NoError(t, w.Close())
		}
		if mode >= 2 && mode <= 4 {
			require.Equal(t, "filler", r.readOne(t), "try %d", i)
		}
		var err error
		select {
		case err = <-done:
		case <-time.After(hang):
			w.Close()
			<-done
			t.Fatalf("try %d (%s, %s, deadline before %v): the write still waits after %v", i, s.name, desc, before, hang)
		}
		switch mode {
		case 0, 1:
			requireTimeout(t, err, "try %d (%s, %s)", i, s.name, desc)
		case 2, 3, 4:
			require.NoError(t, err, "try %d (%s, %s)", i, s.name, desc)
		case 5:
			require.Error(t, err, "try %d (%s, %s)", i, s.name, desc)
			require.True(t, errors.Is(err, net.ErrClosed), "try %d (%s, %s): %v", i, s.name, desc, err)
			w = newWriter()
		}
	}
}

// TestDatagramBlockedWriteZeroAlloc: sending to a receiver whose queue is
// full most of the time (it drains in another goroutine, 10 messages at a
// time by default) allocates nothing, waits included.
func TestDatagramBlockedWriteZeroAlloc(t *testing.T) {
	const perRun, runs = 500, 20
	rAddr := uds.Abstract(uniqTag() + "-zr")
	r := msgListenDatagram(t, nil, rAddr)
	w := msgListenDatagram(t, nil, uds.Autobind())
	msgDeadline(t, r)
	total := perRun * (runs + 1) // AllocsPerRun runs once more to warm up
	read := make(chan error, 1)
	go func() {
		in := uds.Message{Buf: make([]byte, 64)}
		for range total {
			if err := uds.ReadMsg(r, &in); err != nil {
				read <- err
				return
			}
		}
		read <- nil
	}()
	out := uds.Message{Buf: msgPattern(64, 3), Addr: rAddr} // reused
	var failed error
	allocs := testing.AllocsPerRun(runs, func() {
		for range perRun {
			if err := uds.WriteMsg(w, &out); err != nil && failed == nil {
				failed = err
			}
		}
	})
	require.NoError(t, failed)
	require.NoError(t, <-read)
	assert.Zero(t, allocs, "allocations per %d messages", perRun)
}
