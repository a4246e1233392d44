//go:build linux

package uds_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// --- helpers shared by the message-socket tests (prefixed msg to stay clear
// of the other test files' helpers) ---

// msgReplyEnd is an unconnected DatagramConn whose Write replies to one
// address with WriteMsg.
type msgReplyEnd struct {
	*uds.DatagramConn
	to uds.Addr
}

func (r msgReplyEnd) Write(b []byte) (int, error) {
	m := uds.Message{Buf: b, Addr: r.to}
	err := uds.WriteMsg(r.DatagramConn, &m)
	return m.N, err
}

// msgPeek returns the length of the next message on r, which stays queued:
// ReadMsg with Peek and no buffer.
func msgPeek(r syscall.Conn) (int, error) {
	m := uds.Message{Peek: true}
	err := uds.ReadMsg(r, &m)
	return m.Len, err
}

// msgPattern returns n bytes that differ from message to message.
func msgPattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

// msgMaxSize returns the longest message c's socket sends: SO_SNDBUF less
// 32 bytes (af_unix.c).
func msgMaxSize(t testing.TB, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var sb int
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		sb, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	}))
	require.NoError(t, serr)
	require.Greater(t, sb, 1024+64)
	return sb - 32
}

// msgZeroAlloc checks that sending msg with write and reading it back with
// read, 200 times over, allocates nothing and moves every message whole. r,
// the reading end, gets a read deadline first: a failed write must not leave
// read waiting.
func msgZeroAlloc(t testing.TB, r msgEnd, write, read func([]byte) (int, error), msg []byte, msgAndArgs ...any) {
	t.Helper()
	buf := make([]byte, 2*len(msg))
	msgDeadline(t, r)
	var failed error
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := write(msg); err != nil {
			failed = err
		}
		if n, err := read(buf); err != nil || n != len(msg) {
			failed = errors.Join(failed, err, fmt.Errorf("read %d bytes, want %d", n, len(msg)))
		}
	})
	require.NoError(t, failed)
	assert.Equal(t, 0.0, allocs, msgAndArgs...)
}

// msgCheckBoundaries sends messages of the boundary sizes from w to r and
// checks each arrives whole, that truncation is reported with the true
// length, and that the socket's maximum size is the limit.
func msgCheckBoundaries(t *testing.T, w, r msgEnd) {
	const bufLen = 1024
	buf := make([]byte, bufLen)

	for _, n := range []int{0, 1, bufLen - 1, bufLen} {
		msg := msgPattern(n, byte(n))
		wn, err := w.Write(msg)
		require.NoError(t, err, "write %d bytes", n)
		assert.Equal(t, n, wn)

		msgDeadline(t, r)
		size, err := msgPeek(r)
		require.NoError(t, err)
		assert.Equal(t, n, size, "peeked length of a %d-byte message", n)
		// A second peek sees the same message: peeking consumes nothing.
		size, err = msgPeek(r)
		require.NoError(t, err)
		assert.Equal(t, n, size)

		got, err := r.Read(buf)
		require.NoError(t, err, "read %d bytes", n)
		assert.Equal(t, n, got)
		assert.Equal(t, msg, buf[:got])
	}

	t.Run("truncated", func(t *testing.T) {
		long := msgPattern(bufLen+1, 3)
		next := []byte("the next message")
		_, err := w.Write(long)
		require.NoError(t, err)
		_, err = w.Write(next)
		require.NoError(t, err)

		msgDeadline(t, r)
		size, err := msgPeek(r)
		require.NoError(t, err)
		assert.Equal(t, bufLen+1, size)

		for i := range buf {
			buf[i] = 0
		}
		n, err := r.Read(buf)
		require.Error(t, err)
		assert.Equal(t, bufLen, n, "the bytes that fit are returned")
		assert.ErrorIs(t, err, uds.ErrTruncated)
		var te *uds.TruncatedError
		if assert.ErrorAs(t, err, &te) {
			assert.Equal(t, bufLen+1, te.Len, "the message's true length")
			assert.Equal(t, bufLen, te.Buf)
		}
		assert.Equal(t, long[:bufLen], buf[:n])

		msgExpect(t, r, bufLen, next)
	})

	t.Run("max", func(t *testing.T) {
		max := msgMaxSize(t, w)
		big := msgPattern(max, 9)
		n, err := w.Write(big)
		require.NoError(t, err, "a message of the socket's maximum size (%d) is sent", max)
		assert.Equal(t, max, n)
		msgDeadline(t, r)
		size, err := msgPeek(r)
		require.NoError(t, err)
		assert.Equal(t, max, size)
		msgExpect(t, r, max+1, big)

		// The maximum into a small buffer: truncated, with the true length.
		_, err = w.Write(big)
		require.NoError(t, err)
		msgDeadline(t, r)
		n, err = r.Read(buf)
		assert.Equal(t, bufLen, n)
		assert.ErrorIs(t, err, uds.ErrTruncated)
		var te *uds.TruncatedError
		if assert.ErrorAs(t, err, &te) {
			assert.Equal(t, max, te.Len)
		}
		assert.Equal(t, big[:bufLen], buf[:n])

		// One byte more is refused, naming the limit.
		n, err = w.Write(make([]byte, max+1))
		require.Error(t, err)
		assert.Equal(t, 0, n)
		assert.ErrorIs(t, err, syscall.EMSGSIZE)
		var me *uds.MessageSizeError
		if assert.ErrorAs(t, err, &me) {
			assert.Equal(t, max, me.Max)
			assert.Equal(t, max+1, me.Len)
		}
		assert.Contains(t, err.Error(), strconv.Itoa(max), "the message names the limit")

		// Nothing of the refused message was queued.
		next := []byte("after the refused one")
		_, err = w.Write(next)
		require.NoError(t, err)
		msgExpect(t, r, max+1, next)
	})

	t.Run("peek waits", func(t *testing.T) {
		require.NoError(t, r.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		start := time.Now()
		_, err := msgPeek(r)
		require.Error(t, err)
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)

		require.NoError(t, r.SetReadDeadline(time.Time{}))
		type res struct {
			n   int
			err error
		}
		ch := make(chan res, 1)
		go func() {
			n, err := msgPeek(r)
			ch <- res{n, err}
		}()
		select {
		case got := <-ch:
			t.Fatalf("the peek returned %v before any message was sent", got)
		case <-time.After(50 * time.Millisecond):
		}
		msg := msgPattern(77, 1)
		_, err = w.Write(msg)
		require.NoError(t, err)
		select {
		case got := <-ch:
			require.NoError(t, got.err)
			assert.Equal(t, 77, got.n)
		case <-time.After(5 * time.Second):
			r.SetReadDeadline(time.Now()) // unblock the goroutine
			t.Fatal("the peek did not return after a message arrived")
		}
		msgExpect(t, r, bufLen, msg) // not consumed by the peek
	})
}

// msgSeqPacketConnect listens on a, dials it and returns both ends.
func msgSeqPacketConnect(t *testing.T, a uds.Addr) (client, server *uds.Conn, ln *uds.Listener) {
	t.Helper()
	ctx := msgCtx(t)
	ln, err := uds.Listen(ctx, a.WithType(uds.SeqPacket))
	require.NoError(t, err)
	msgClose(t, ln)
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = uds.Dial(ctx, a.WithType(uds.SeqPacket))
	require.NoError(t, err)
	msgClose(t, client)
	var got res
	select {
	case got = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return")
	}
	require.NoError(t, got.err)
	msgClose(t, got.c)
	server, ok := got.c.(*uds.Conn)
	require.True(t, ok, "Accept returned %T, want *uds.Conn", got.c)
	return client, server, ln
}

type msgSeqPacketCase struct {
	name string
	make func(t *testing.T) (a, b *uds.Conn)
}

func msgSeqPacketCases() []msgSeqPacketCase {
	return []msgSeqPacketCase{
		{"pair", func(t *testing.T) (a, b *uds.Conn) {
			return pairOf(t, pairType(uds.SeqPacket))
		}},
		{"path", func(t *testing.T) (a, b *uds.Conn) {
			a, b, _ = msgSeqPacketConnect(t, uds.Path(filepath.Join(mkSockDir(t), "sp.sock")))
			return a, b
		}},
		{"abstract", func(t *testing.T) (a, b *uds.Conn) {
			a, b, _ = msgSeqPacketConnect(t, uds.Abstract(uniqTag()+"\x00sp"))
			return a, b
		}},
	}
}

// --- tests ---

func TestSeqPacketBoundaries(t *testing.T) {
	for _, tc := range msgSeqPacketCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.make(t)
			t.Run("a to b", func(t *testing.T) { msgCheckBoundaries(t, a, b) })
			t.Run("b to a", func(t *testing.T) { msgCheckBoundaries(t, b, a) })
		})
	}
}

func TestSeqPacketEmptyMessageAndEOF(t *testing.T) {
	for _, tc := range msgSeqPacketCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("empty message", func(t *testing.T) {
				a, b := tc.make(t)
				for range 3 {
					n, err := a.Write(nil)
					require.NoError(t, err)
					assert.Equal(t, 0, n)
				}
				for i := range 3 {
					msgDeadline(t, b)
					n, err := b.Read(make([]byte, 16))
					assert.Equal(t, 0, n)
					assert.NoError(t, err, "empty message %d reads as 0, nil, not EOF", i)
				}
				// An empty buffer consumes a message too.
				_, err := a.Write([]byte("xyz"))
				require.NoError(t, err)
				_, err = a.Write([]byte("after"))
				require.NoError(t, err)
				msgDeadline(t, b)
				n, err := b.Read(nil)
				assert.Equal(t, 0, n)
				assert.ErrorIs(t, err, uds.ErrTruncated)
				msgExpect(t, b, 16, []byte("after"))
			})
			for _, how := range []string{"CloseWrite", "Close"} {
				t.Run(how, func(t *testing.T) {
					a, b := tc.make(t)
					_, err := a.Write([]byte("last"))
					require.NoError(t, err)
					_, err = a.Write(nil) // an empty message right before the end
					require.NoError(t, err)
					if how == "Close" {
						require.NoError(t, a.Close())
					} else {
						require.NoError(t, a.CloseWrite())
					}
					msgExpect(t, b, 16, []byte("last"))
					msgDeadline(t, b)
					n, err := b.Read(make([]byte, 16))
					assert.Equal(t, 0, n)
					assert.NoError(t, err, "the empty message sent before %s is 0, nil", how)
					for range 2 { // EOF stays EOF
						msgDeadline(t, b)
						n, err = b.Read(make([]byte, 16))
						assert.Equal(t, 0, n)
						assert.Equal(t, io.EOF, err, "after the peer's %s", how)
					}
					size, err := msgPeek(b)
					assert.Equal(t, 0, size)
					assert.Equal(t, io.EOF, err, "a peek at the end")
					if how == "CloseWrite" {
						// The other direction still works.
						_, err = b.Write([]byte("back"))
						require.NoError(t, err)
						msgExpect(t, a, 16, []byte("back"))
					}
				})
			}
		})
	}
}

// TestSeqPacketEmptyBeforeAccept: messages a client sends and the end it
// signals before the server has accepted (so before the accepted socket is
// set up) are told apart just the same.
func TestSeqPacketEmptyBeforeAccept(t *testing.T) {
	for name, a := range map[string]uds.Addr{
		"path":     uds.Path(filepath.Join(mkSockDir(t), "early.sock")),
		"abstract": uds.Abstract(uniqTag() + "-early"),
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := uds.Listen(msgCtx(t), a.WithType(uds.SeqPacket))
			require.NoError(t, err)
			msgClose(t, ln)
			c, err := uds.Dial(msgCtx(t), a.WithType(uds.SeqPacket))
			require.NoError(t, err)
			_, err = c.Write(nil)
			require.NoError(t, err)
			_, err = c.Write([]byte("x"))
			require.NoError(t, err)
			_, err = c.Write(nil)
			require.NoError(t, err)
			require.NoError(t, c.Close())

			require.NoError(t, ln.SetDeadline(time.Now().Add(5*time.Second)))
			s, err := acceptConn(ln)
			require.NoError(t, err)
			defer s.Close()
			for i, want := range []string{"", "x", ""} {
				msgDeadline(t, s)
				buf := make([]byte, 8)
				n, err := s.Read(buf)
				assert.NoError(t, err, "message %d", i)
				assert.Equal(t, want, string(buf[:n]), "message %d", i)
			}
			msgDeadline(t, s)
			n, err := s.Read(make([]byte, 8))
			assert.Equal(t, 0, n)
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestSeqPacketOrder(t *testing.T) {
	for _, tc := range msgSeqPacketCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.make(t)
			const count = 500
			errc := make(chan error, 1)
			go func() {
				for i := range count {
					msg := msgPattern(i%300, byte(i))
					if _, err := a.Write(msg); err != nil {
						errc <- fmt.Errorf("write %d: %w", i, err)
						return
					}
				}
				errc <- nil
			}()
			buf := make([]byte, 512)
			require.NoError(t, b.SetReadDeadline(time.Now().Add(10*time.Second)))
			for i := range count {
				n, err := b.Read(buf)
				require.NoError(t, err, "message %d", i)
				require.Equal(t, msgPattern(i%300, byte(i)), buf[:n], "message %d", i)
			}
			require.NoError(t, <-errc)
		})
	}
}

func TestSeqPacketDeadlines(t *testing.T) {
	for _, tc := range msgSeqPacketCases() {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.make(t)

			require.NoError(t, b.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
			start := time.Now()
			n, err := b.Read(make([]byte, 16))
			assert.Equal(t, 0, n)
			require.Error(t, err)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			var ne net.Error
			if assert.ErrorAs(t, err, &ne) {
				assert.True(t, ne.Timeout())
			}
			assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
			assert.Less(t, time.Since(start), 2*time.Second)

			// A past deadline fails at once, even with a message queued.
			_, err = a.Write([]byte("queued"))
			require.NoError(t, err)
			require.NoError(t, b.SetDeadline(time.Now().Add(-time.Second)))
			_, err = b.Read(make([]byte, 16))
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

			// Cleared, the connection works and nothing was lost.
			require.NoError(t, b.SetDeadline(time.Time{}))
			msgExpect(t, b, 16, []byte("queued"))
			_, err = b.Write([]byte("reply"))
			require.NoError(t, err)
			msgExpect(t, a, 16, []byte("reply"))

			// Write deadline: fill a's send buffer, then a write times out.
			msg := make([]byte, 4096)
			sent := 0
			for ; sent < 100000; sent++ {
				require.NoError(t, a.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
				if _, err = a.Write(msg); err != nil {
					break
				}
			}
			require.Error(t, err, "the send buffer never filled")
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.NoError(t, a.SetWriteDeadline(time.Time{}))
			for i := range sent {
				msgDeadline(t, b)
				n, err := b.Read(make([]byte, 8192))
				require.NoError(t, err, "message %d of %d", i, sent)
				require.Equal(t, 4096, n)
			}
			_, err = a.Write([]byte("ok"))
			require.NoError(t, err)
			msgExpect(t, b, 16, []byte("ok"))
		})
	}
}

func TestSeqPacketTypesAndAddrs(t *testing.T) {
	dir := mkSockDir(t)
	p := uds.Path(filepath.Join(dir, "types.sock"))
	c, s, ln := msgSeqPacketConnect(t, p) // asserts Accept's *uds.Conn
	assert.Equal(t, p.WithType(uds.SeqPacket), ln.Addr())
	assert.Equal(t, p.WithType(uds.SeqPacket), c.RemoteAddr())
	assert.Equal(t, p.WithType(uds.SeqPacket), s.LocalAddr())
	assert.Equal(t, "unixpacket", c.RemoteAddr().Network())
	ra, ok := s.RemoteAddr().(uds.Addr)
	require.True(t, ok)
	assert.Equal(t, uds.KindUnnamed, ra.Kind())

	// One *uds.Conn type for stream and seqpacket: the socket type is the
	// address's, and seqpacket-only methods tell the two apart.
	var nc net.Conn = s
	sc, ok := nc.(*uds.Conn)
	require.True(t, ok, "a seqpacket conn is a *uds.Conn, got %T", nc)
	assert.Equal(t, uds.SeqPacket, sc.LocalAddr().(uds.Addr).Type())
	la, ok := c.LocalAddr().(uds.Addr)
	require.True(t, ok)
	assert.Equal(t, uds.SeqPacket, la.Type(), "the unnamed dialing end has the type too")
	assert.NoError(t, sc.SetZeroReadIsEOF(false), "a seqpacket option on a seqpacket conn")
	st, _ := pairOf(t, pairType(uds.Stream))
	assert.Equal(t, uds.Stream, st.LocalAddr().(uds.Addr).Type())
	err := st.SetZeroReadIsEOF(true)
	assert.ErrorIs(t, err, errors.ErrUnsupported, "a stream conn has no messages")
	assert.ErrorContains(t, err, "seqpacket")

	// AcceptUnix gives the concrete type directly.
	ch := make(chan error, 1)
	go func() {
		sc, err := acceptConn(ln)
		if err == nil {
			_, err = sc.Write([]byte("hi"))
			sc.Close()
		}
		ch <- err
	}()
	c2, err := uds.Dial(msgCtx(t), p.WithType(uds.SeqPacket))
	require.NoError(t, err)
	defer c2.Close()
	assert.Equal(t, uds.SeqPacket, c2.LocalAddr().(uds.Addr).Type())
	msgExpect(t, c2, 16, []byte("hi"))
	require.NoError(t, <-ch)
}

func TestSeqPacketZeroAlloc(t *testing.T) {
	a, b := pairOf(t, pairType(uds.SeqPacket))
	msgZeroAlloc(t, b, a.Write, b.Read, msgPattern(64, 1), "seqpacket Conn Write+Read allocations per message")
}

// msgFDsOpenOn counts this process's descriptors, other than except, that
// refer to the same file as f.
func msgFDsOpenOn(t *testing.T, f *os.File, except int) int {
	t.Helper()
	var want unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &want))
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	count := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd == except {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			count++
		}
	}
	return count
}

// TestMessagePassedDescriptorsNotLeaked: a peer that sends descriptors
// (SCM_RIGHTS) along with its messages must not leave them open in this
// process: Read has no way to hand them out, so they must be closed, as a
// plain read(2) of the message would have them dropped.
func TestMessagePassedDescriptorsNotLeaked(t *testing.T) {
	cases := map[string]func(t *testing.T) (w, r msgEnd){
		"seqpacket": func(t *testing.T) (w, r msgEnd) {
			return pairOf(t, pairType(uds.SeqPacket))
		},
		"datagram": func(t *testing.T) (w, r msgEnd) {
			return pairOf(t, uds.DatagramPair)
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			w, r := mk(t)
			f, err := os.CreateTemp(mkSockDir(t), "passed")
			require.NoError(t, err)
			defer f.Close()
			ffd := int(f.Fd())
			require.Equal(t, 0, msgFDsOpenOn(t, f, ffd))

			rc, err := w.SyscallConn()
			require.NoError(t, err)
			var serr error
			require.NoError(t, rc.Control(func(fd uintptr) {
				for i := 0; i < 5 && serr == nil; i++ {
					serr = unix.Sendmsg(int(fd), []byte("with fds"), unix.UnixRights(ffd, ffd), nil, 0)
				}
			}))
			require.NoError(t, serr)
			for i := range 5 {
				msgDeadline(t, r)
				buf := make([]byte, 16)
				n, err := r.Read(buf)
				require.NoError(t, err, "message %d", i)
				assert.Equal(t, "with fds", string(buf[:n]))
			}
			assert.Equal(t, 0, msgFDsOpenOn(t, f, ffd), "descriptors received with the messages are left open (leaked)")
		})
	}
}

// seqTimestampOn reads SO_TIMESTAMP from c's socket.
func seqTimestampOn(t *testing.T, c *uds.Conn) bool {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var v int
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		v, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMP)
	}))
	require.NoError(t, serr)
	return v != 0
}

// TestSeqPacketZeroReadIsEOF: the opt-out of the empty-message timestamps
// turns them off, reads a bare empty message as EOF (and what followed it
// on the next read), still sees empty messages that carry descriptors, and
// turning it back off is exact again, for messages queued before the switch
// too (the kernel stamps them when they are received).
func TestSeqPacketZeroReadIsEOF(t *testing.T) {
	a, b := pairOf(t, pairType(uds.SeqPacket))
	require.True(t, seqTimestampOn(t, b), "timestamps are on by default")

	require.NoError(t, b.SetZeroReadIsEOF(true))
	assert.False(t, seqTimestampOn(t, b), "the opt-out turns SO_TIMESTAMP off")
	_, err := a.Write([]byte("one"))
	require.NoError(t, err)
	_, err = a.Write(nil)
	require.NoError(t, err)
	_, err = a.Write([]byte("two"))
	require.NoError(t, err)
	msgExpect(t, b, 16, []byte("one"))
	msgDeadline(t, b)
	n, err := b.Read(make([]byte, 16))
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err, "a bare empty message reads as EOF in this mode")
	msgExpect(t, b, 16, []byte("two"))

	// An empty message with a descriptor is still a message to ReadMsg.
	f, err := os.CreateTemp(mkSockDir(t), "passed") // nothing else opens it
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, uds.WriteMsg(a, &uds.Message{Files: []*os.File{f}}))
	msgDeadline(t, b)
	fm := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1)}
	require.NoError(t, uds.ReadMsg(b, &fm))
	assert.Equal(t, 0, fm.N)
	require.Len(t, fm.Files, 1)
	fm.Files[0].Close()

	// Read has no control buffer in this mode: an empty message with a
	// descriptor is taken for the end, as documented, and the kernel
	// closes the descriptor.
	require.NoError(t, uds.WriteMsg(a, &uds.Message{Files: []*os.File{f}}))
	msgDeadline(t, b)
	n, err = b.Read(make([]byte, 16))
	assert.Equal(t, 0, n)
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, 0, msgFDsOpenOn(t, f, int(f.Fd())), "the descriptor is not left open")

	// An empty message whose descriptors did not all fit is a truncation,
	// not the end (no control data came, but MSG_CTRUNC did).
	many := make([]int, 200)
	for i := range many {
		many[i] = int(f.Fd())
	}
	require.NoError(t, uds.WriteMsg(a, &uds.Message{FDs: many}))
	msgDeadline(t, b)
	got1 := make([]int, 1)
	dm := uds.Message{Buf: make([]byte, 16), FDs: got1[:0]}
	err = uds.ReadMsg(b, &dm)
	assert.Equal(t, 0, dm.N)
	assert.Empty(t, dm.FDs)
	assert.ErrorIs(t, err, uds.ErrTruncated, "a cut SCM_RIGHTS message is not EOF")
	assert.Equal(t, 0, msgFDsOpenOn(t, f, int(f.Fd())), "every descriptor that arrived is closed")
	// None can be installed (RLIMIT_NOFILE at the lowest free number): no
	// control data at all, only MSG_CTRUNC. Still a truncation, not EOF.
	require.NoError(t, uds.WriteMsg(a, &uds.Message{FDs: many[:1]}))
	msgDeadline(t, b)
	lowest, err := unix.Dup(int(f.Fd()))
	require.NoError(t, err)
	require.NoError(t, unix.Close(lowest))
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	tight := lim
	tight.Cur = uint64(lowest)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &tight))
	dm = uds.Message{Buf: make([]byte, 16), FDs: got1[:0]}
	err = uds.ReadMsg(b, &dm)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	assert.Equal(t, 0, dm.N)
	assert.Empty(t, dm.FDs)
	assert.ErrorIs(t, err, uds.ErrTruncated, "descriptors the kernel could not install are a truncation, not EOF")
	assert.Equal(t, 0, msgFDsOpenOn(t, f, int(f.Fd())))

	// ReadBatch: an empty message followed by another in the same batch
	// is a message; nothing after it is lost.
	for _, p := range [][]byte{[]byte("x"), nil, []byte("y")} {
		_, err = a.Write(p)
		require.NoError(t, err)
	}
	ms := []uds.Message{{Buf: make([]byte, 8)}, {Buf: make([]byte, 8)}, {Buf: make([]byte, 8)}}
	msgDeadline(t, b)
	got, err := uds.ReadBatch(b, ms)
	require.NoError(t, err)
	require.Equal(t, 3, got)
	assert.Equal(t, "x", string(ms[0].Buf[:ms[0].N]))
	assert.Equal(t, 0, ms[1].N)
	assert.Equal(t, "y", string(ms[2].Buf[:ms[2].N]))
	for i := range ms {
		assert.NoError(t, ms[i].Err, "message %d", i)
	}
	// An empty message last in a batch that is not full is a message too:
	// at the end of the connection recvmmsg fills the whole batch.
	for _, p := range [][]byte{[]byte("x"), nil} {
		_, err = a.Write(p)
		require.NoError(t, err)
	}
	msgDeadline(t, b)
	got, err = uds.ReadBatch(b, ms)
	require.NoError(t, err)
	require.Equal(t, 2, got, "the empty message is returned, not dropped")
	assert.Equal(t, "x", string(ms[0].Buf[:ms[0].N]))
	assert.Equal(t, 0, ms[1].N)
	// In a full batch an empty message at the end is taken for the end of
	// the connection, reported by the next call.
	for _, p := range [][]byte{[]byte("x"), nil} {
		_, err = a.Write(p)
		require.NoError(t, err)
	}
	msgDeadline(t, b)
	got, err = uds.ReadBatch(b, ms[:2])
	require.NoError(t, err)
	require.Equal(t, 1, got)
	assert.Equal(t, "x", string(ms[0].Buf[:ms[0].N]))
	got, err = uds.ReadBatch(b, ms)
	assert.Equal(t, 0, got)
	assert.Equal(t, io.EOF, err, "the end the previous batch stopped at")

	// Queued while the timestamps were off, read after they are back on:
	// exact again.
	_, err = a.Write(nil)
	require.NoError(t, err)
	require.NoError(t, b.SetZeroReadIsEOF(false))
	assert.True(t, seqTimestampOn(t, b))
	msgDeadline(t, b)
	n, err = b.Read(make([]byte, 16))
	assert.Equal(t, 0, n)
	assert.NoError(t, err, "an empty message queued before the switch back reads as 0, nil")

	_, err = a.Write([]byte("last"))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	msgDeadline(t, b)
	got, err = uds.ReadBatch(b, ms)
	require.NoError(t, err)
	require.Equal(t, 1, got, "the message before the end")
	assert.Equal(t, "last", string(ms[0].Buf[:ms[0].N]))
	for _, zero := range []bool{false, true} {
		require.NoError(t, b.SetZeroReadIsEOF(zero))
		msgDeadline(t, b)
		n, err = b.Read(make([]byte, 16))
		assert.Equal(t, 0, n)
		assert.Equal(t, io.EOF, err, "the end is EOF in both modes (zero read is EOF: %v)", zero)
		got, err = uds.ReadBatch(b, ms)
		assert.Equal(t, 0, got)
		assert.Equal(t, io.EOF, err, "ReadBatch at the end (zero read is EOF: %v)", zero)
		fm = uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1)}
		err = uds.ReadMsg(b, &fm)
		assert.Equal(t, 0, fm.N)
		assert.Empty(t, fm.Files)
		assert.Equal(t, io.EOF, err, "ReadMsg at the end (zero read is EOF: %v)", zero)
	}
	require.NoError(t, b.Close())
	err = b.SetZeroReadIsEOF(true)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe, "a closed connection")
	assert.Equal(t, "set", oe.Op)
	assert.ErrorIs(t, err, net.ErrClosed)
}

// TestSeqPacketZeroReadIsEOFAllocs: the fast mode allocates nothing either,
// and drops (the kernel closes) descriptors sent to a plain Read.
func TestSeqPacketZeroReadIsEOFAllocs(t *testing.T) {
	a, b := pairOf(t, pairType(uds.SeqPacket))
	require.NoError(t, b.SetZeroReadIsEOF(true))
	msgZeroAlloc(t, b, a.Write, b.Read, msgPattern(64, 1))

	// A file nothing else opens, so that any other descriptor on it is a
	// leak.
	f, err := os.CreateTemp(mkSockDir(t), "passed")
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, 0, msgFDsOpenOn(t, f, int(f.Fd())))
	require.NoError(t, uds.WriteMsg(a, &uds.Message{Buf: []byte("with a file"), Files: []*os.File{f}}))
	msgExpect(t, b, 64, []byte("with a file"))
	assert.Equal(t, 0, msgFDsOpenOn(t, f, int(f.Fd())), "no descriptor left open by a plain Read")
}

// TestSeqPacketAcceptedPeerAddr: an accepted seqpacket connection reads its
// peer's address when first asked (not in Accept), exactly, and names it in
// the errors of its calls.
func TestSeqPacketAcceptedPeerAddr(t *testing.T) {
	srv := uds.Abstract(uniqTag() + "seq-peer").WithType(uds.SeqPacket)
	cli := uds.Abstract(uniqTag() + "seq-cli\x00").WithType(uds.SeqPacket)
	ln := udsListen(t, nil, srv)
	c, s := udsConnect(t, ln, &uds.Dialer{LocalAddr: cli}, srv)
	assert.Equal(t, cli, s.RemoteAddr(), "the server sees the client's exact name")
	assert.Equal(t, srv, c.RemoteAddr())

	// A connection whose peer has gone before the first ask: the error of
	// a write names what the kernel still knows, and nothing blocks.
	c2, s2 := udsConnect(t, ln, &uds.Dialer{}, srv)
	require.NoError(t, c2.Close())
	_, err := s2.Write([]byte("x"))
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "write", oe.Op)
	assert.Equal(t, uds.Unnamed().WithType(uds.SeqPacket), s2.RemoteAddr())
}
