//go:build linux

package uds_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// --- helpers of the batch tests (prefixed batch) ---

// batchConn is what DatagramConn and a seqpacket Conn have in common for
// batches (uds.ReadBatch and uds.WriteBatch).
type batchConn interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Close() error
	syscall.Conn
}

// batchEnds is a writer and a reader of one test.
type batchEnds struct {
	w, r  batchConn
	to    uds.Addr // the destination of w's messages; unnamed for the connected peer
	dgram bool
	// qlimited: r is a bound datagram socket that w is not the peer of, so
	// that its queue holds at most net.unix.max_dgram_qlen (+1) messages;
	// otherwise the sender's buffer is the limit.
	qlimited bool
}

type batchSetup struct {
	name string
	mk   func(t *testing.T) batchEnds
}

func batchSetups() []batchSetup {
	return []batchSetup{
		{"datagram-pair", func(t *testing.T) batchEnds {
			a, b := pairOf(t, uds.DatagramPair)
			return batchEnds{w: a, r: b, dgram: true}
		}},
		{"datagram-connected", func(t *testing.T) batchEnds {
			srvAddr := uds.Abstract(uniqTag() + "\x00batch")
			srv := msgListenDatagram(t, nil, srvAddr)
			cli := msgDialDatagram(t, nil, srvAddr)
			return batchEnds{w: cli, r: srv, dgram: true, qlimited: true}
		}},
		{"datagram-unconnected", func(t *testing.T) batchEnds {
			srvAddr := uds.Path(filepath.Join(mkSockDir(t), "batch.sock"))
			srv := msgListenDatagram(t, nil, srvAddr)
			cli := msgListenDatagram(t, nil, uds.Autobind())
			return batchEnds{w: cli, r: srv, to: srvAddr, dgram: true, qlimited: true}
		}},
		{"seqpacket-pair", func(t *testing.T) batchEnds {
			a, b := pairOf(t, pairType(uds.SeqPacket))
			return batchEnds{w: a, r: b}
		}},
		{"seqpacket-accepted", func(t *testing.T) batchEnds {
			c, s, _ := msgSeqPacketConnect(t, uds.Path(filepath.Join(mkSockDir(t), "batchsp.sock")))
			return batchEnds{w: c, r: s}
		}},
	}
}

func batchSeqPacketSetups() []batchSetup {
	var out []batchSetup
	for _, s := range batchSetups() {
		if strings.HasPrefix(s.name, "seqpacket") {
			out = append(out, s)
		}
	}
	return out
}

// batchQlen returns net.unix.max_dgram_qlen.
func batchQlen(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen")
	require.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.Positive(t, n)
	return n
}

// batchPayload is message seq of a test: its number, then a pattern; size
// bytes in all.
func batchPayload(seq, size int) []byte {
	b := msgPattern(size, byte(seq*13))
	copy(b, fmt.Sprintf("%08d", seq))
	return b
}

// batchOut returns n messages to write, first to first+n-1, of size(seq)
// bytes, addressed to to.
func batchOut(to uds.Addr, first, n int, size func(seq int) int) []uds.Message {
	ms := make([]uds.Message, n)
	for i := range ms {
		ms[i].Buf = batchPayload(first+i, size(first+i))
		ms[i].Addr = to
		ms[i].N = -1
	}
	return ms
}

func batchSize(n int) func(int) int { return func(int) int { return n } }

// batchMsgs returns n messages to read into, with buffers of bufLen bytes.
func batchMsgs(n, bufLen int) []uds.Message {
	ms := make([]uds.Message, n)
	for i := range ms {
		ms[i].Buf = make([]byte, bufLen)
	}
	return ms
}

// batchWrite writes all of ms in one WriteBatch and checks every message
// went whole.
func batchWrite(t testing.TB, w batchConn, ms []uds.Message) {
	t.Helper()
	n, err := uds.WriteBatch(w, ms)
	require.NoError(t, err)
	require.Equal(t, len(ms), n)
	for i := range ms {
		assert.Equal(t, len(ms[i].Buf), ms[i].N, "Message.N of sent message %d", i)
	}
}

// batchCollect reads with ReadBatch into in until want messages came and
// returns copies of their data. Each call must return between 1 and len(in)
// messages, none with an error.
func batchCollect(t testing.TB, r batchConn, in []uds.Message, want int) [][]byte {
	t.Helper()
	var got [][]byte
	for len(got) < want {
		require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := uds.ReadBatch(r, in)
		require.NoError(t, err, "after %d of %d messages", len(got), want)
		require.GreaterOrEqual(t, n, 1)
		require.LessOrEqual(t, n, len(in))
		for _, m := range in[:n] {
			require.NoError(t, m.Err, "message %d", len(got))
			require.GreaterOrEqual(t, m.N, 0)
			got = append(got, bytes.Clone(m.Buf[:m.N]))
		}
	}
	require.Len(t, got, want, "more messages than were sent")
	return got
}

// batchRest reads whatever r has queued, until 50ms pass with nothing.
func batchRest(t testing.TB, r batchConn) []string {
	t.Helper()
	in := batchMsgs(16, 4096)
	var got []string
	for {
		require.NoError(t, r.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
		n, err := uds.ReadBatch(r, in)
		if err != nil {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.Equal(t, 0, n, "a failed ReadBatch returns no message")
			return got
		}
		for _, m := range in[:n] {
			got = append(got, string(m.Buf[:m.N]))
		}
	}
}

// batchExpectNone checks that nothing more is queued on r.
func batchExpectNone(t testing.TB, r batchConn) {
	t.Helper()
	assert.Empty(t, batchRest(t, r), "messages beyond those sent")
}

func batchIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func batchNs(ms []uds.Message) []int {
	ns := make([]int, len(ms))
	for i := range ms {
		ns[i] = ms[i].N
	}
	return ns
}

var errBatchStale = errors.New("stale Message.Err from before the call")

// --- tests ---

// TestBatchSizes: batches of one, several, a partial batch, a full queue
// and more messages than the queue holds; ReadBatch returns between 1 and
// len(ms) messages, takes at once what is queued and no more, and every
// message arrives once, in order, exact.
func TestBatchSizes(t *testing.T) {
	qlen := batchQlen(t)
	t.Logf("net.unix.max_dgram_qlen = %d", qlen)
	for _, s := range batchSetups() {
		t.Run(s.name, func(t *testing.T) {
			t.Run("empty slice", func(t *testing.T) {
				e := s.mk(t)
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				start := time.Now()
				n, err := uds.ReadBatch(e.r, nil)
				assert.NoError(t, err)
				assert.Equal(t, 0, n)
				assert.Less(t, time.Since(start), time.Second, "ReadBatch of no message waits for none")
				n, err = uds.WriteBatch(e.w, []uds.Message{})
				assert.NoError(t, err)
				assert.Equal(t, 0, n)
				batchExpectNone(t, e.r)
			})

			t.Run("one", func(t *testing.T) {
				e := s.mk(t)
				out := batchOut(e.to, 0, 3, batchSize(40))
				batchWrite(t, e.w, out)
				in := batchMsgs(4, 64)
				for i := range out {
					in[0].Err, in[0].N, in[0].Len = errBatchStale, -1, -1
					in[1].N = -1
					require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
					n, err := uds.ReadBatch(e.r, in[:1])
					require.NoError(t, err)
					require.Equal(t, 1, n, "a batch of one")
					assert.NoError(t, in[0].Err)
					assert.Equal(t, 40, in[0].Len)
					require.Equal(t, 40, in[0].N)
					assert.Equal(t, out[i].Buf, in[0].Buf[:in[0].N], "message %d in order", i)
					assert.Equal(t, -1, in[1].N, "slots past len(ms) untouched")
				}
				batchExpectNone(t, e.r)
			})

			t.Run("several", func(t *testing.T) {
				e := s.mk(t)
				out := batchOut(e.to, 0, 7, func(seq int) int { return 10 + 9*seq })
				batchWrite(t, e.w, out)
				in := batchMsgs(7, 128)
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(e.r, in)
				require.NoError(t, err)
				require.Equal(t, 7, n, "all seven queued messages in one call")
				for i := range n {
					assert.NoError(t, in[i].Err)
					assert.Equal(t, len(out[i].Buf), in[i].Len)
					assert.Equal(t, out[i].Buf, in[i].Buf[:in[i].N], "message %d", i)
				}
				batchExpectNone(t, e.r)
			})

			t.Run("partial", func(t *testing.T) {
				e := s.mk(t)
				out := batchOut(e.to, 0, 3, batchSize(32))
				batchWrite(t, e.w, out)
				in := batchMsgs(7, 64)
				for i := range in {
					in[i].N = -1
				}
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				start := time.Now()
				n, err := uds.ReadBatch(e.r, in)
				took := time.Since(start)
				require.NoError(t, err)
				assert.Less(t, took, time.Second, "ReadBatch must not wait to fill the batch")
				require.Equal(t, 3, n, "exactly what is queued")
				for i := range n {
					assert.Equal(t, out[i].Buf, in[i].Buf[:in[i].N], "message %d", i)
				}
				batchExpectNone(t, e.r)
			})

			t.Run("full queue", func(t *testing.T) {
				e := s.mk(t)
				out := batchOut(e.to, 0, 4096, batchSize(64))
				require.NoError(t, e.w.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
				queued, err := uds.WriteBatch(e.w, out)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the queue never filled")
				require.Positive(t, queued)
				require.Less(t, queued, 1000, "more queued than one recvmmsg takes (UIO_MAXIOV)")
				t.Logf("queue full after %d messages", queued)
				if e.qlimited {
					assert.GreaterOrEqual(t, queued, qlen, "a bound datagram socket queues max_dgram_qlen messages")
					assert.LessOrEqual(t, queued, qlen+1)
				}
				in := batchMsgs(queued+8, 64)
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(e.r, in)
				require.NoError(t, err)
				assert.Equal(t, queued, n, "one ReadBatch takes every queued message and no more")
				for i := range n {
					require.Equal(t, out[i].Buf, in[i].Buf[:in[i].N], "message %d", i)
				}
				batchExpectNone(t, e.r)
			})

			t.Run("more than the queue holds", func(t *testing.T) {
				e := s.mk(t)
				total := 3000
				if e.qlimited {
					total = 20 * (qlen + 1)
				}
				out := batchOut(e.to, 0, total, func(seq int) int { return 8 + seq%57 })
				done := make(chan error, 1)
				go func() {
					for sent := 0; sent < total; {
						k := min(37, total-sent)
						n, err := uds.WriteBatch(e.w, out[sent:sent+k])
						sent += n
						if err != nil {
							done <- fmt.Errorf("after %d messages: %w", sent, err)
							return
						}
						if n != k {
							done <- fmt.Errorf("WriteBatch of %d returned %d without an error", k, n)
							return
						}
					}
					done <- nil
				}()
				in := batchMsgs(64, 128)
				got, calls, most := 0, 0, 0
				for got < total {
					require.NoError(t, e.r.SetReadDeadline(time.Now().Add(10*time.Second)))
					n, err := uds.ReadBatch(e.r, in)
					require.NoError(t, err, "after %d messages", got)
					require.GreaterOrEqual(t, n, 1)
					require.LessOrEqual(t, n, len(in))
					for _, m := range in[:n] {
						require.Less(t, got, total, "more messages than were sent")
						require.NoError(t, m.Err, "message %d", got)
						require.Equal(t, len(out[got].Buf), m.Len, "message %d", got)
						require.Equal(t, out[got].Buf, m.Buf[:m.N], "message %d: exactly once, in order", got)
						got++
					}
					calls++
					most = max(most, n)
				}
				select {
				case err := <-done:
					require.NoError(t, err)
				case <-time.After(10 * time.Second):
					t.Fatal("the writer did not finish")
				}
				batchExpectNone(t, e.r)
				t.Logf("%d messages in %d ReadBatch calls, at most %d in one", total, calls, most)
			})
		})
	}
}

// TestBatchTruncation: in one batch of mixed sizes, each Message has its own
// N = min(length, buffer), Len = length, and Err = ErrTruncated only if the
// message did not fit. The rest of a truncated message is gone.
func TestBatchTruncation(t *testing.T) {
	cases := []struct{ size, buf int }{
		{0, 16}, {5, 16}, {16, 16}, {17, 16}, {5, 0}, {1000, 16}, {31, 32}, {33, 32}, {3, 16}, {0, 0},
	}
	for _, s := range batchSetups() {
		t.Run(s.name, func(t *testing.T) {
			e := s.mk(t)
			out := make([]uds.Message, len(cases))
			for i, c := range cases {
				out[i] = uds.Message{Buf: msgPattern(c.size, byte(i+1)), Addr: e.to}
			}
			batchWrite(t, e.w, out)
			in := batchMsgs(len(cases)+2, 16)
			for i := range in {
				if i < len(cases) {
					in[i].Buf = make([]byte, cases[i].buf)
				}
				in[i].N, in[i].Len, in[i].Err = -1, -1, errBatchStale
			}
			require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, err := uds.ReadBatch(e.r, in)
			require.NoError(t, err)
			require.Equal(t, len(cases), n)
			for i, c := range cases {
				m := in[i]
				require.Equal(t, min(c.size, c.buf), m.N, "message %d (%d bytes into %d): N", i, c.size, c.buf)
				assert.Equal(t, c.size, m.Len, "message %d: Len is the full length", i)
				if c.size > c.buf {
					assert.ErrorIs(t, m.Err, uds.ErrTruncated, "message %d (%d bytes into %d)", i, c.size, c.buf)
				} else {
					assert.NoError(t, m.Err, "message %d (%d bytes into %d)", i, c.size, c.buf)
				}
				assert.Equal(t, out[i].Buf[:m.N], m.Buf[:m.N], "message %d: the bytes that fit", i)
			}

			after := batchOut(e.to, 99, 1, batchSize(100))
			batchWrite(t, e.w, after)
			got := batchCollect(t, e.r, batchMsgs(4, 2048), 1)
			assert.Equal(t, after[0].Buf, got[0], "the next message is whole")
			batchExpectNone(t, e.r)
		})
	}
}

// TestBatchSenderAddrs: messages from an autobind, an abstract (with NUL
// bytes) and a path-bound sender, and from an unbound one, interleaved in
// one ReadBatch, each carry their exact sender; replies sent with one
// WriteBatch to those addresses reach each sender.
func TestBatchSenderAddrs(t *testing.T) {
	qlen := batchQlen(t)
	for name, mk := range msgServers(t) {
		t.Run("server on "+name, func(t *testing.T) {
			srvAddr := mk(t)
			srv := msgListenDatagram(t, nil, srvAddr)
			dir := mkSockDir(t)
			senders := []*uds.DatagramConn{
				msgListenDatagram(t, nil, uds.Autobind()),
				msgListenDatagram(t, nil, uds.Abstract("s\x00nul"+uniqTag())),
				msgListenDatagram(t, nil, uds.Path(filepath.Join(dir, "sender.sock"))),
			}
			require.Equal(t, uds.KindAbstract, msgLocal(t, senders[0]).Kind(), "autobind's local address")
			require.Regexp(t, msgAutobindRe, msgLocal(t, senders[0]).Name())
			const unbound = 3
			raw, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			defer unix.Close(raw)
			rawTo := &unix.SockaddrUnix{Name: srvAddr.Name()}
			if srvAddr.Kind() == uds.KindAbstract {
				rawTo.Name = "@" + srvAddr.Name()
			}

			send := func(who int, text string) {
				t.Helper()
				if who == unbound {
					require.NoError(t, unix.Sendto(raw, []byte(text), 0, rawTo))
					return
				}
				batchWrite(t, senders[who], []uds.Message{{Buf: []byte(text), Addr: srvAddr}})
			}
			in := batchMsgs(16, 64)
			var last []int
			// The second order puts every kind of sender in slots that
			// held another kind, the unbound one included.
			for round, order := range [][]int{{0, 1, 2, unbound, 0, 1, 2}, {unbound, 2, 0, 1, 2, 1, 0}} {
				require.LessOrEqual(t, len(order), qlen+1, "the server's queue holds the round")
				for i, who := range order {
					send(who, fmt.Sprintf("round %d message %d from %d", round, i, who))
				}
				require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(srv, in)
				require.NoError(t, err)
				require.Equal(t, len(order), n, "every queued message in one ReadBatch")
				for i, who := range order {
					m := in[i]
					assert.Equal(t, fmt.Sprintf("round %d message %d from %d", round, i, who), string(m.Buf[:m.N]))
					if who == unbound {
						assert.Equal(t, uds.KindUnnamed, m.Addr.Kind(), "round %d message %d: an unbound sender", round, i)
						assert.Empty(t, m.Addr.Name())
					} else {
						assert.Equal(t, senders[who].LocalAddr(), m.Addr, "round %d message %d: sender %d", round, i, who)
					}
				}
				last = order
			}

			// Reply to every named sender with one WriteBatch.
			var replies []uds.Message
			want := make([][]string, len(senders))
			for i, who := range last {
				if who == unbound {
					continue
				}
				text := fmt.Sprintf("reply %d to %d", i, who)
				replies = append(replies, uds.Message{Buf: []byte(text), Addr: in[i].Addr})
				want[who] = append(want[who], text)
			}
			batchWrite(t, srv, replies)
			for who, c := range senders {
				rin := batchMsgs(8, 64)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(c, rin)
				require.NoError(t, err, "sender %d", who)
				require.Equal(t, len(want[who]), n, "sender %d gets its replies", who)
				for i := range n {
					assert.Equal(t, want[who][i], string(rin[i].Buf[:rin[i].N]))
					assert.Equal(t, srv.LocalAddr(), rin[i].Addr, "the reply comes from the server")
				}
				batchExpectNone(t, c)
			}
		})
	}
}

// TestBatchWritePartial: a WriteBatch that fails midway returns how many
// messages went; the receiver has exactly those, and Message.N is set for
// exactly those.
func TestBatchWritePartial(t *testing.T) {
	t.Run("message too long", func(t *testing.T) {
		for _, s := range batchSetups() {
			t.Run(s.name, func(t *testing.T) {
				e := s.mk(t)
				limit := msgMaxSize(t, e.w)
				out := batchOut(e.to, 0, 4, batchSize(32))
				out[2].Buf = make([]byte, limit+1)
				n, err := uds.WriteBatch(e.w, out)
				assert.Equal(t, 2, n, "two messages went before the long one")
				require.Error(t, err)
				assert.ErrorIs(t, err, syscall.EMSGSIZE)
				var mse *uds.MessageSizeError
				if assert.ErrorAs(t, err, &mse) {
					assert.Equal(t, limit+1, mse.Len)
					assert.Equal(t, limit, mse.Max)
				}
				assert.Equal(t, []int{32, 32, 0, 0}, batchNs(out), "Message.N of the messages sent, 0 for the rest")
				assert.Equal(t, []string{string(out[0].Buf), string(out[1].Buf)}, batchRest(t, e.r), "the receiver has exactly the first two")

				// The rest goes in a second call.
				batchWrite(t, e.w, out[3:])
				assert.Equal(t, []string{string(out[3].Buf)}, batchRest(t, e.r))
			})
		}
	})

	t.Run("destinations", func(t *testing.T) {
		dir := mkSockDir(t)
		rAddr := uds.Path(filepath.Join(dir, "r.sock"))
		r := msgListenDatagram(t, nil, rAddr)
		w := msgListenDatagram(t, nil, uds.Autobind())

		stale := filepath.Join(dir, "stale.sock")
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: stale}))
		require.NoError(t, unix.Close(fd))
		long := uds.Path(filepath.Join(dir, strings.Repeat("d", 120), "long.sock"))
		require.Greater(t, len(long.Name()), uds.MaxPathLen)
		require.NoError(t, long.Valid())

		for _, c := range []struct {
			name string
			bad  uds.Addr
			is   []error
		}{
			{"missing path", uds.Path(filepath.Join(dir, "missing.sock")), []error{syscall.ENOENT}},
			{"stale socket file", uds.Path(stale), []error{syscall.ECONNREFUSED}},
			{"abstract name nobody bound", uds.Abstract(uniqTag() + "-nobody"), []error{syscall.ECONNREFUSED}},
			{"autobind", uds.Autobind(), []error{uds.ErrInvalidAddr}},
			{"unnamed on an unconnected socket", uds.Unnamed(), []error{syscall.ENOTCONN, syscall.EDESTADDRREQ, uds.ErrInvalidAddr}},
			{"path too long for a batch", long, []error{uds.ErrInvalidAddr}},
		} {
			t.Run(c.name, func(t *testing.T) {
				out := []uds.Message{
					{Buf: []byte("first " + c.name), Addr: rAddr, N: -1},
					{Buf: []byte("to the bad destination"), Addr: c.bad, N: -1},
					{Buf: []byte("third " + c.name), Addr: rAddr, N: -1},
				}
				n, err := uds.WriteBatch(w, out)
				assert.Equal(t, 1, n, "the first message went, the second failed")
				require.Error(t, err)
				assert.True(t, batchIsAny(err, c.is...), "error %v is none of %v", err, c.is)
				var oe *net.OpError
				if assert.ErrorAs(t, err, &oe) {
					assert.Equal(t, "write", oe.Op)
					if c.bad.Kind() != uds.KindUnnamed {
						assert.Equal(t, c.bad.WithType(uds.Datagram), oe.Addr, "the error names the failing destination")
					}
				}
				assert.Equal(t, []int{len(out[0].Buf), 0, 0}, batchNs(out))
				assert.Equal(t, []string{string(out[0].Buf)}, batchRest(t, r),
					"the receiver has exactly the %d message(s) WriteBatch reported sent", n)
			})
		}
	})
}

// TestBatchDeadlines: ReadBatch on an empty socket and WriteBatch to a full
// receiver fail with os.ErrDeadlineExceeded in time (the write reporting
// what went before); without a deadline a blocked WriteBatch completes once
// the receiver drains.
func TestBatchDeadlines(t *testing.T) {
	for _, s := range batchSetups() {
		t.Run(s.name, func(t *testing.T) {
			t.Run("read", func(t *testing.T) {
				e := s.mk(t)
				in := batchMsgs(4, 64)
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(150*time.Millisecond)))
				start := time.Now()
				n, err := uds.ReadBatch(e.r, in)
				took := time.Since(start)
				assert.Equal(t, 0, n)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				var ne net.Error
				if assert.ErrorAs(t, err, &ne) {
					assert.True(t, ne.Timeout())
				}
				assert.GreaterOrEqual(t, took, 100*time.Millisecond)
				assert.Less(t, took, 2*time.Second)

				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(-time.Second)))
				start = time.Now()
				n, err = uds.ReadBatch(e.r, in)
				assert.Equal(t, 0, n)
				assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "a deadline in the past")
				assert.Less(t, time.Since(start), time.Second)

				// After the deadline is lifted the socket reads again.
				out := batchOut(e.to, 0, 2, batchSize(20))
				batchWrite(t, e.w, out)
				require.NoError(t, e.r.SetReadDeadline(time.Time{}))
				n, err = uds.ReadBatch(e.r, in)
				require.NoError(t, err)
				assert.Equal(t, 2, n)
			})

			t.Run("write to a full receiver", func(t *testing.T) {
				e := s.mk(t)
				out := batchOut(e.to, 0, 4096, batchSize(64))
				require.NoError(t, e.w.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
				start := time.Now()
				queued, err := uds.WriteBatch(e.w, out)
				took := time.Since(start)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				require.Positive(t, queued, "the messages before the queue filled went")
				require.Less(t, queued, len(out))
				assert.GreaterOrEqual(t, took, 250*time.Millisecond)
				assert.Less(t, took, 2*time.Second)
				for i := range out[:queued+1] {
					want := 64
					if i == queued {
						want = 0
					}
					require.Equal(t, want, out[i].N, "Message.N of message %d (%d went)", i, queued)
				}

				// Blocked from the start: nothing goes, the deadline holds.
				require.NoError(t, e.w.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
				start = time.Now()
				n, err := uds.WriteBatch(e.w, out[queued:queued+5])
				took = time.Since(start)
				assert.Equal(t, 0, n)
				assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
				assert.GreaterOrEqual(t, took, 150*time.Millisecond)
				assert.Less(t, took, 2*time.Second)

				// Without a deadline the batch waits, and completes once the
				// receiver drains.
				require.NoError(t, e.w.SetWriteDeadline(time.Time{}))
				type result struct {
					n   int
					err error
				}
				done := make(chan result, 1)
				go func() {
					n, err := uds.WriteBatch(e.w, out[queued:queued+5])
					done <- result{n, err}
				}()
				select {
				case r := <-done:
					t.Fatalf("WriteBatch to a full receiver returned at once: %d, %v", r.n, r.err)
				case <-time.After(150 * time.Millisecond):
				}
				got := batchCollect(t, e.r, batchMsgs(64, 128), queued+5)
				select {
				case r := <-done:
					require.NoError(t, r.err)
					assert.Equal(t, 5, r.n)
				case <-time.After(5 * time.Second):
					e.w.SetWriteDeadline(time.Now())
					t.Fatal("the blocked WriteBatch did not complete after the receiver drained")
				}
				for i := range got {
					require.Equal(t, out[i].Buf, got[i], "message %d: exactly once, in order", i)
				}
				batchExpectNone(t, e.r)
			})
		})
	}
}

// TestBatchSeqPacketEmptyAndEOF: empty messages in a batch are Messages with
// N == 0 and no error; the end of the connection ends a batch, and the next
// call returns (0, io.EOF), for good.
func TestBatchSeqPacketEmptyAndEOF(t *testing.T) {
	texts := []string{"a", "", "bc", "", ""}
	for _, s := range batchSeqPacketSetups() {
		t.Run(s.name, func(t *testing.T) {
			t.Run("empty messages", func(t *testing.T) {
				e := s.mk(t)
				out := make([]uds.Message, len(texts))
				for i, x := range texts {
					out[i] = uds.Message{Buf: []byte(x), N: -1}
				}
				batchWrite(t, e.w, out)
				in := batchMsgs(8, 16)
				for i := range in {
					in[i].N, in[i].Len, in[i].Err = -1, -1, errBatchStale
				}
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(e.r, in)
				require.NoError(t, err, "empty messages are not the end")
				require.Equal(t, len(texts), n)
				for i, x := range texts {
					assert.Equal(t, len(x), in[i].N, "message %d", i)
					assert.Equal(t, len(x), in[i].Len, "message %d", i)
					assert.NoError(t, in[i].Err, "message %d", i)
					assert.Equal(t, x, string(in[i].Buf[:max(in[i].N, 0)]))
				}
				batchExpectNone(t, e.r)
			})

			for _, how := range []string{"Close", "CloseWrite"} {
				for _, size := range []int{1, 3, len(texts), 8} {
					for _, withCred := range []bool{false, true} {
						t.Run(fmt.Sprintf("%s batch=%d cred=%v", how, size, withCred), func(t *testing.T) {
							e := s.mk(t)
							if withCred {
								require.NoError(t, uds.PassCred(e.r, false))
							}
							out := make([]uds.Message, len(texts))
							for i, x := range texts {
								out[i] = uds.Message{Buf: []byte(x)}
							}
							batchWrite(t, e.w, out)
							if how == "Close" {
								require.NoError(t, e.w.Close())
							} else {
								require.NoError(t, e.w.(*uds.Conn).CloseWrite())
							}
							in := batchMsgs(size, 16)
							creds := make([]uds.Cred, size)
							if withCred {
								for i := range in {
									in[i].Cred = &creds[i]
								}
							}
							var got []string
							var err error
							for calls := 0; calls < 20; calls++ {
								require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
								var n int
								n, err = uds.ReadBatch(e.r, in)
								if err != nil {
									assert.Equal(t, 0, n, "the call that finds the end returns no message")
									break
								}
								require.GreaterOrEqual(t, n, 1, "a successful ReadBatch returns a message")
								for i := range n {
									assert.NoError(t, in[i].Err, "message %d", len(got))
									if withCred {
										assert.Equal(t, os.Getpid(), creds[i].PID, "message %d", len(got))
										assert.Equal(t, os.Geteuid(), creds[i].UID)
									}
									got = append(got, string(in[i].Buf[:in[i].N]))
								}
							}
							assert.Equal(t, io.EOF, err, "the end of the connection")
							assert.Equal(t, texts, got, "every message before the end, empty ones included")
							for range 2 {
								require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
								n, err := uds.ReadBatch(e.r, in)
								assert.Equal(t, 0, n)
								assert.Equal(t, io.EOF, err, "EOF stays EOF")
							}
						})
					}
				}
			}

			t.Run("end with no message", func(t *testing.T) {
				e := s.mk(t)
				require.NoError(t, e.w.Close())
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(e.r, batchMsgs(4, 16))
				assert.Equal(t, 0, n)
				assert.Equal(t, io.EOF, err)
			})
		})
	}

	t.Run("sent and closed before Accept", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "-early")
		ln, err := uds.Listen(msgCtx(t), a.WithType(uds.SeqPacket))
		require.NoError(t, err)
		msgClose(t, ln)
		c, err := uds.Dial(msgCtx(t), a.WithType(uds.SeqPacket))
		require.NoError(t, err)
		msgClose(t, c)
		batchWrite(t, c, []uds.Message{{Buf: []byte("early")}, {Buf: nil}})
		require.NoError(t, c.Close())
		s, err := acceptConn(ln)
		require.NoError(t, err)
		msgClose(t, s)
		in := batchMsgs(8, 16)
		require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := uds.ReadBatch(s, in)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		assert.Equal(t, "early", string(in[0].Buf[:in[0].N]))
		assert.Equal(t, 0, in[1].N)
		assert.NoError(t, in[1].Err, "the empty message is not the end")
		n, err = uds.ReadBatch(s, in)
		assert.Equal(t, 0, n)
		assert.Equal(t, io.EOF, err)
	})
}

// TestBatchCredentials: per-message credentials with ReadBatch (PassCred on
// and off) and explicit credentials sent with WriteBatch.
func TestBatchCredentials(t *testing.T) {
	own := func() uds.Cred { return uds.Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()} }
	ids := func(c uds.Cred) [3]int { return [3]int{c.PID, c.UID, c.GID} }

	t.Run("PassCred, this process", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "-cred")
		srv := msgListenDatagram(t, &uds.ListenConfig{PassCred: true}, a)
		cli := msgDialDatagram(t, nil, a)
		uncon := msgListenDatagram(t, nil, uds.Autobind())
		batchWrite(t, cli, batchOut(uds.Addr{}, 0, 2, batchSize(16)))
		batchWrite(t, uncon, batchOut(a, 2, 2, batchSize(16)))
		in := batchMsgs(6, 32)
		creds := make([]uds.Cred, len(in))
		for i := range in {
			if i != 1 { // slot 1 asks for none
				creds[i] = uds.Cred{PID: 1, UID: 4321, GID: 4321}
				in[i].Cred = &creds[i]
			}
			in[i].Err = errBatchStale
		}
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := uds.ReadBatch(srv, in)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		for i := range n {
			assert.NoError(t, in[i].Err, "message %d", i)
			assert.Equal(t, batchPayload(i, 16), in[i].Buf[:in[i].N])
			if i == 1 {
				assert.Nil(t, in[i].Cred, "no Cred asked for, none set")
				continue
			}
			assert.Equal(t, ids(own()), ids(creds[i]), "message %d: the sender's PID, UID, GID", i)
		}
		assert.Equal(t, cli.LocalAddr(), in[0].Addr)
		assert.Equal(t, uncon.LocalAddr(), in[3].Addr)
	})

	t.Run("PassCred, senders of other users", func(t *testing.T) {
		requireRoot(t)
		a := credAbstract()
		srv := msgListenDatagram(t, &uds.ListenConfig{PassCred: true}, a)
		_, nobodyPID := credStart(t, credNobody(), roleCredSendgram, a.String())
		_, rootPID := credStart(t, nil, roleCredSendgram, a.String())
		self := msgDialDatagram(t, nil, a)
		batchWrite(t, self, []uds.Message{{Buf: []byte("hello " + strconv.Itoa(os.Getpid()))}})

		want := map[string][3]int{
			"hello " + strconv.Itoa(nobodyPID):   {nobodyPID, 65534, 65534},
			"hello " + strconv.Itoa(rootPID):     {rootPID, 0, 0},
			"hello " + strconv.Itoa(os.Getpid()): ids(own()),
		}
		in := batchMsgs(8, 64)
		creds := make([]uds.Cred, len(in))
		for i := range in {
			in[i].Cred = &creds[i]
		}
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := uds.ReadBatch(srv, in)
		require.NoError(t, err)
		require.Equal(t, 3, n, "the three queued messages in one ReadBatch")
		got := map[string][3]int{}
		for i := range n {
			assert.NoError(t, in[i].Err)
			got[string(in[i].Buf[:in[i].N])] = ids(creds[i])
		}
		assert.Equal(t, want, got, "each message with its own sender's credentials")
	})

	t.Run("PassCred off", func(t *testing.T) {
		cases := map[string]func(t *testing.T) batchEnds{
			"datagram": func(t *testing.T) batchEnds {
				a := uds.Abstract(uniqTag() + "-nocred")
				srv := msgListenDatagram(t, nil, a)
				cli := msgListenDatagram(t, nil, uds.Autobind())
				return batchEnds{w: cli, r: srv, to: a}
			},
			"seqpacket": func(t *testing.T) batchEnds {
				x, y := pairOf(t, pairType(uds.SeqPacket))
				return batchEnds{w: x, r: y}
			},
		}
		for name, mk := range cases {
			t.Run(name, func(t *testing.T) {
				e := mk(t)
				out := batchOut(e.to, 0, 3, batchSize(24))
				out[1].Cred = &uds.Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()} // sent, but not passed on
				batchWrite(t, e.w, out)
				in := batchMsgs(4, 32)
				creds := make([]uds.Cred, len(in))
				for i := range in {
					creds[i] = uds.Cred{PID: 77, UID: 0, GID: 0}
					in[i].Cred = &creds[i]
				}
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(e.r, in)
				require.NoError(t, err, "a missing credential is the message's own error")
				require.Equal(t, 3, n)
				for i := range n {
					assert.ErrorIs(t, in[i].Err, uds.ErrNoCredentials, "message %d", i)
					assert.Equal(t, -1, creds[i].UID, "message %d: UID -1, never root", i)
					assert.Equal(t, -1, creds[i].GID, "message %d", i)
					assert.Equal(t, 0, creds[i].PID, "message %d", i)
					assert.Equal(t, out[i].Buf, in[i].Buf[:in[i].N], "message %d: the data is valid", i)
				}
			})
		}
	})

	t.Run("WriteBatch sends credentials", func(t *testing.T) {
		for _, s := range batchSetups() {
			t.Run(s.name, func(t *testing.T) {
				e := s.mk(t)
				require.NoError(t, uds.PassCred(e.r, false))
				type sent struct {
					cred *uds.Cred
					want [3]int
				}
				mine := own()
				plan := []sent{{&mine, ids(own())}, {nil, ids(own())}}
				if os.Geteuid() == 0 {
					_, other := credStart(t, nil, roleCredHold)
					plan = append(plan,
						sent{&uds.Cred{PID: os.Getpid(), UID: 65534, GID: 65534}, [3]int{os.Getpid(), 65534, 65534}},
						sent{&uds.Cred{PID: other, UID: 0, GID: 0}, [3]int{other, 0, 0}},
						sent{&mine, ids(own())})
				}
				out := batchOut(e.to, 0, len(plan), batchSize(16))
				for i, p := range plan {
					out[i].Cred = p.cred
				}
				batchWrite(t, e.w, out)
				in := batchMsgs(len(plan)+2, 32)
				creds := make([]uds.Cred, len(in))
				for i := range in {
					in[i].Cred = &creds[i]
				}
				require.NoError(t, e.r.SetReadDeadline(time.Now().Add(5*time.Second)))
				n, err := uds.ReadBatch(e.r, in)
				require.NoError(t, err)
				require.Equal(t, len(plan), n)
				for i, p := range plan {
					assert.NoError(t, in[i].Err, "message %d", i)
					assert.Equal(t, p.want, ids(creds[i]), "message %d: the credentials sent with it", i)
					assert.Equal(t, out[i].Buf, in[i].Buf[:in[i].N])
				}
			})
		}
	})
}

// TestBatchDescriptorsNotLeaked: descriptors that peers send along
// (SCM_RIGHTS, and PIDFDs with SO_PASSPIDFD) to a socket read with ReadBatch
// never stay open: with and without Cred, datagram and seqpacket, truncated
// messages, more descriptors than the control space holds, and across the
// end of a seqpacket connection.
func TestBatchDescriptorsNotLeaked(t *testing.T) {
	const iterations = 500
	f, err := os.CreateTemp(mkSockDir(t), "passed")
	require.NoError(t, err)
	defer f.Close()
	many := make([]*os.File, 40)
	for i := range many {
		many[i] = f
	}

	type sender func(b []byte, files ...*os.File) (int, error)
	type leakCase struct {
		name   string
		mk     func(t *testing.T) (send sender, r batchConn)
		cred   bool // read with Message.Cred
		pidfd  bool // SO_PASSCRED and SO_PASSPIDFD on the reader
		closes bool // the sender closes after its messages (seqpacket): a new pair each time
	}
	dgramPair := func(t *testing.T) (sender, batchConn) {
		a, b := pairOf(t, uds.DatagramPair)
		return msgFilesSender(a, uds.Addr{}), b
	}
	dgramTo := func(t *testing.T) (sender, batchConn) {
		addr := uds.Abstract(uniqTag() + "-fds")
		srv := msgListenDatagram(t, nil, addr)
		cli := msgListenDatagram(t, nil, uds.Autobind())
		return msgFilesSender(cli, addr), srv
	}
	var lastWriter *uds.Conn
	seqPair := func(t *testing.T) (sender, batchConn) {
		a, b := pairOf(t, pairType(uds.SeqPacket))
		lastWriter = a
		return msgFilesSender(a, uds.Addr{}), b
	}
	var cases []leakCase
	for _, cred := range []bool{false, true} {
		for _, pidfd := range []bool{false, true} {
			suffix := fmt.Sprintf(" cred=%v pidfd=%v", cred, pidfd)
			cases = append(cases,
				leakCase{name: "datagram pair" + suffix, mk: dgramPair, cred: cred, pidfd: pidfd},
				leakCase{name: "datagram to address" + suffix, mk: dgramTo, cred: cred, pidfd: pidfd},
				leakCase{name: "seqpacket" + suffix, mk: seqPair, cred: cred, pidfd: pidfd},
				leakCase{name: "seqpacket to EOF" + suffix, mk: seqPair, cred: cred, pidfd: pidfd, closes: true})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := batchMsgs(8, 16)
			in[1].Buf = make([]byte, 2) // the second of a batch is truncated
			creds := make([]uds.Cred, len(in))
			if c.cred {
				for i := range in {
					in[i].Cred = &creds[i]
				}
			}
			var send sender
			var r batchConn
			setup := func() {
				send, r = c.mk(t)
				if c.pidfd {
					require.NoError(t, uds.PassCred(r, true))
				}
			}
			if !c.closes {
				setup()
			}
			round := func() {
				if c.closes {
					setup()
				}
				for _, files := range [][]*os.File{{f}, {f, f}, many} {
					_, err := send([]byte("files"), files...)
					require.NoError(t, err)
				}
				if c.closes {
					require.NoError(t, lastWriter.Close())
				}
				got := 0
				for {
					require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
					n, err := uds.ReadBatch(r, in)
					if c.closes && got == 3 {
						require.Equal(t, io.EOF, err)
						require.Equal(t, 0, n)
						break
					}
					require.NoError(t, err)
					for i := range n {
						assert.Equal(t, 5, in[i].Len)
						if in[i].Cred != nil && c.pidfd {
							assert.Equal(t, os.Getpid(), in[i].Cred.PID)
							// The kernel puts SCM_RIGHTS before SCM_PIDFD: 40
							// descriptors crowd the PIDFD out of the control
							// space (as with ReadMsg), so only the messages
							// with few descriptors must have one.
							if got+i < 2 {
								assert.NotNil(t, in[i].Cred.PIDFD, "SO_PASSPIDFD gives the caller a PIDFD")
							}
							require.NoError(t, in[i].Cred.Close()) // the caller's to close
						}
					}
					got += n
					require.LessOrEqual(t, got, 3)
					if got == 3 && !c.closes {
						break
					}
				}
				if c.closes {
					require.NoError(t, r.Close())
				}
			}
			round() // warm up: the runtime's own descriptors
			before := openFDCount(t)
			for range iterations {
				round()
				if t.Failed() {
					break
				}
			}
			assert.Equal(t, before, openFDCount(t), "descriptors open before and after %d rounds", iterations)
			assert.Equal(t, 0, msgFDsOpenOn(t, f, int(f.Fd())), "received copies of the passed file left open")
		})
	}
}

// TestBatchZeroAlloc: WriteBatch and ReadBatch of 16 messages allocate
// nothing in steady state.
func TestBatchZeroAlloc(t *testing.T) {
	qlen := batchQlen(t)
	cases := []struct {
		name string
		mk   func(t *testing.T) batchEnds
	}{
		{"datagram pair", batchSetups()[0].mk},
		{"datagram connected", batchSetups()[1].mk},
		{"datagram unconnected to a path", batchSetups()[2].mk},
		{"datagram unconnected to an abstract name", func(t *testing.T) batchEnds {
			a := uds.Abstract(uniqTag() + "\x00za")
			return batchEnds{w: msgListenDatagram(t, nil, uds.Autobind()), r: msgListenDatagram(t, nil, a), to: a, dgram: true, qlimited: true}
		}},
		{"seqpacket pair", batchSetups()[3].mk},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := c.mk(t)
			chunk := 16
			if e.qlimited {
				chunk = min(chunk, qlen) // a bound receiver queues only max_dgram_qlen
			}
			out := batchOut(e.to, 0, 16, batchSize(64))
			in := batchMsgs(16, 128)
			require.NoError(t, e.r.SetReadDeadline(time.Now().Add(time.Minute)))
			var failed error
			allocs := testing.AllocsPerRun(100, func() {
				for off := 0; off < len(out) && failed == nil; off += chunk {
					k := min(chunk, len(out)-off)
					n, err := uds.WriteBatch(e.w, out[off:off+k])
					if err != nil || n != k {
						failed = fmt.Errorf("WriteBatch of %d: %d, %v", k, n, err)
						return
					}
					for got := 0; got < k; {
						n, err := uds.ReadBatch(e.r, in)
						if err != nil {
							failed = err
							return
						}
						got += n
					}
				}
			})
			require.NoError(t, failed)
			assert.Equal(t, 0.0, allocs, "allocations per 16 messages written and read in batches of %d", chunk)
			last := (16 - 1) % chunk
			assert.Equal(t, out[15].Buf, in[last].Buf[:in[last].N])
			if e.dgram {
				assert.Equal(t, e.w.(*uds.DatagramConn).LocalAddr(), in[last].Addr)
			}
		})
	}
}

// TestBatchClosed: ReadBatch and WriteBatch on a closed socket fail with
// net.ErrClosed, and Close releases calls that are waiting.
func TestBatchClosed(t *testing.T) {
	for _, s := range batchSetups() {
		t.Run(s.name, func(t *testing.T) {
			t.Run("after Close", func(t *testing.T) {
				e := s.mk(t)
				require.NoError(t, e.r.Close())
				require.NoError(t, e.w.Close())
				n, err := uds.ReadBatch(e.r, batchMsgs(4, 16))
				assert.Equal(t, 0, n)
				assert.ErrorIs(t, err, net.ErrClosed)
				n, err = uds.WriteBatch(e.w, batchOut(e.to, 0, 3, batchSize(8)))
				assert.Equal(t, 0, n)
				assert.ErrorIs(t, err, net.ErrClosed)
				if e.dgram {
					n, err = uds.WriteBatch(e.r, batchOut(uds.Abstract(uniqTag()), 0, 1, batchSize(8)))
					assert.Equal(t, 0, n)
					assert.ErrorIs(t, err, net.ErrClosed, "with an address")
				}
			})

			t.Run("Close releases a waiting ReadBatch", func(t *testing.T) {
				e := s.mk(t)
				in := batchMsgs(4, 16)
				done := make(chan error, 1)
				go func() { _, err := uds.ReadBatch(e.r, in); done <- err }()
				select {
				case err := <-done:
					t.Fatalf("ReadBatch on an empty socket returned at once: %v", err)
				case <-time.After(100 * time.Millisecond):
				}
				require.NoError(t, e.r.Close())
				select {
				case err := <-done:
					assert.ErrorIs(t, err, net.ErrClosed)
				case <-time.After(2 * time.Second):
					t.Fatal("Close did not release ReadBatch")
				}
			})

			t.Run("Close releases a waiting WriteBatch", func(t *testing.T) {
				e := s.mk(t)
				out := batchOut(e.to, 0, 4096, batchSize(64))
				require.NoError(t, e.w.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
				queued, err := uds.WriteBatch(e.w, out)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				require.NoError(t, e.w.SetWriteDeadline(time.Time{}))
				type result struct {
					n   int
					err error
				}
				done := make(chan result, 1)
				go func() { n, err := uds.WriteBatch(e.w, out[queued:]); done <- result{n, err} }()
				select {
				case r := <-done:
					t.Fatalf("WriteBatch to a full receiver returned at once: %d, %v", r.n, r.err)
				case <-time.After(100 * time.Millisecond):
				}
				require.NoError(t, e.w.Close())
				select {
				case r := <-done:
					assert.Equal(t, 0, r.n)
					assert.ErrorIs(t, r.err, net.ErrClosed)
				case <-time.After(2 * time.Second):
					t.Fatal("Close did not release WriteBatch")
				}
			})
		})
	}
}

// TestBatchWriteAndWriteToFullReceiver: a WriteBatch and a WriteTo that both
// wait for room in a full receiver share the socket's write deadline while
// they wait; once the receiver drains, both must go through (neither may be
// left waiting with no deadline and no wake-up).
func TestBatchWriteAndWriteToFullReceiver(t *testing.T) {
	rounds := 40 // before the fix, about one run in three hung; UDS_LONG=1 makes it certain
	if relLong() {
		rounds = 400
	}
	for i := 0; i < rounds; i++ {
		dst := msgListenDatagram(t, nil, uds.Abstract(uniqTag()))
		src := msgListenDatagram(t, nil, uds.Autobind())
		to := dst.LocalAddr().(uds.Addr)
		msg := []byte("payload")
		// Fill the receiver: writes wait for room, then fail at the
		// deadline.
		require.NoError(t, src.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
		queued := 0
		for {
			if _, err := src.WriteTo(msg, to); err != nil {
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				break
			}
			queued++
		}
		require.NoError(t, src.SetWriteDeadline(time.Time{}))

		done := make(chan error, 2)
		go func() {
			_, err := src.WriteTo(msg, to)
			done <- err
		}()
		go func() {
			_, err := uds.WriteBatch(src, []uds.Message{{Buf: msg, Addr: to}, {Buf: msg, Addr: to}})
			done <- err
		}()
		// Both wait for room; the drain starts at varied moments of
		// their waits (the hang needed one writer to restore the
		// deadline while the other was about to wait).
		time.Sleep(time.Duration(i%7) * 3 * time.Millisecond)
		buf := make([]byte, 16)
		for n := 0; n < queued+3; n++ {
			require.NoError(t, dst.SetReadDeadline(time.Now().Add(5*time.Second)))
			_, err := dst.Read(buf)
			require.NoError(t, err, "message %d of %d", n, queued+3)
		}
		for range 2 {
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: a writer is still waiting after the receiver drained", i)
			}
		}
	}
}

// BenchmarkBatch compares moving 64-byte messages with ReadBatch/WriteBatch
// (recvmmsg/sendmmsg, 32 messages per call) against one message per call
// with uds and with the standard library, in the same run. A writer
// goroutine sends b.N messages; the benchmark goroutine reads them. Compare
// the rate with bench/c/mmsgrate (the same system calls in C) and
// bench/c/msgrate (one message per call).
//
// The socket-pair rows are bounded by the send buffer alone: the kernel does
// not apply net.unix.max_dgram_qlen between the two ends of a pair.
// dgram-bound-64B sends to a bound socket from one connected to it, as
// clients send to a server (syslog, journald, statsd): there the receive
// queue holds at most max_dgram_qlen messages (10 by default; systemd sets
// 512) before a writer waits (bench/run.sh runs it at both).
func BenchmarkBatch(b *testing.B) {
	const size, batch = 64, 32
	bound := func(b *testing.B, std bool) (w, r syscall.Conn) {
		a := uds.Abstract(fmt.Sprintf("uds-bench-%d-%s", os.Getpid(), b.Name()))
		if std {
			ua := &net.UnixAddr{Name: "@" + a.Name(), Net: "unixgram"}
			rc, err := net.ListenUnixgram("unixgram", ua)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { rc.Close() })
			wc, err := net.DialUnix("unixgram", nil, ua)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { wc.Close() })
			return wc, rc
		}
		rc, err := uds.ListenDatagram(context.Background(), a)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rc.Close() })
		wc, err := uds.DialDatagram(context.Background(), a)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { wc.Close() })
		return wc, rc
	}
	for _, tc := range []struct {
		name string
		mk   func(b *testing.B, std bool) (w, r syscall.Conn)
	}{
		{"dgram-64B", func(b *testing.B, std bool) (syscall.Conn, syscall.Conn) {
			if std {
				return msgStdPair(b, syscall.SOCK_DGRAM)
			}
			return pairOf(b, uds.DatagramPair)
		}},
		{"seqpacket-64B", func(b *testing.B, std bool) (syscall.Conn, syscall.Conn) {
			if std {
				return msgStdPair(b, syscall.SOCK_SEQPACKET)
			}
			return pairOf(b, pairType(uds.SeqPacket))
		}},
		{"dgram-bound-64B", bound},
	} {
		row := newRow(b)
		row.Run(tc.name+"/batch", func(b *testing.B) {
			w, r := tc.mk(b, false)
			out := make([]uds.Message, batch)
			for i := range out {
				out[i].Buf = make([]byte, size)
			}
			in := make([]uds.Message, batch)
			for i := range in {
				in[i].Buf = make([]byte, size)
			}
			done := make(chan error, 1)
			b.ReportAllocs()
			b.SetBytes(size)
			b.ResetTimer()
			go func() {
				for left := b.N; left > 0; {
					k := min(left, batch)
					n, err := uds.WriteBatch(w, out[:k])
					if err != nil {
						done <- err
						return
					}
					left -= n
				}
				done <- nil
			}()
			calls := 0
			for got := 0; got < b.N; calls++ {
				n, err := uds.ReadBatch(r, in)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/float64(calls), "msg/read")
		})
		row.Run(tc.name+"/uds-single", func(b *testing.B) {
			w, r := tc.mk(b, false)
			benchOneByOne(b, w.(readWriter), r.(readWriter), size)
		})
		row.Run(tc.name+"/std", func(b *testing.B) {
			w, r := tc.mk(b, true)
			benchOneByOne(b, w.(readWriter), r.(readWriter), size)
		})
		row.Done()
	}
}

type readWriter interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}

func benchOneByOne(b *testing.B, w, r interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}, size int) {
	out := make([]byte, size)
	in := make([]byte, size)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := w.Write(out); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := r.Read(in); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
