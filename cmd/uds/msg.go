package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/udskit/uds"
)

// This file has what listen and dial share for message sockets (seqpacket
// and datagram): the --type and --split options, how stdin is cut into
// messages, how messages are printed, and the idle timer.

// typeHelp and msgHelp are the help text of --type and of message sockets,
// shared by listen and dial.
const typeHelp = `  --type TYPE      the socket type: stream (the default), seqpacket or
                   datagram ("dgram" is accepted too), the words of
                   'uds ls'
  --split MODE     how stdin is cut into messages, for seqpacket and
                   datagram: line (the default) sends each line as one
                   message, without its "\n" (an empty line is an empty
                   message); read sends what each read of stdin returns,
                   as socat and nc do (where those reads end depends on
                   the writer); none sends all of stdin as one message at
                   its end (for binary data)
`

const msgHelp = `Messages (seqpacket, datagram): boundaries are kept both ways. Each
message received is written to stdout byte for byte, followed by a "\n"
unless it ends in one, so text lines come out one per line and an empty
message as an empty line; binary data is written as it is, and a message
that contains "\n" cannot be told from several in the output. A message of
any length is read whole: nothing is cut silently. A message too long for
the socket to send is an error (exit 69).
`

// splitMode says how stdin is cut into messages.
type splitMode int

const (
	splitLine splitMode = iota // one message per line
	splitRead                  // one message per read
	splitNone                  // all of stdin, one message
)

func parseSplit(s string) (splitMode, bool) {
	switch s {
	case "line":
		return splitLine, true
	case "read":
		return splitRead, true
	case "none":
		return splitNone, true
	}
	return 0, false
}

// parseMessageFlags reads listen's and dial's --type and --split.
func parseMessageFlags(st *stdio, c *command, typeName, splitName string) (uds.SocketType, splitMode, int, bool) {
	typ, ok := parseSocketType(typeName)
	if !ok {
		return 0, 0, usageError(st, c, "--type %q: want stream, seqpacket or datagram", typeName), false
	}
	split, ok := parseSplit(splitName)
	if !ok {
		return 0, 0, usageError(st, c, "--split %q: want line, read or none", splitName), false
	}
	return typ, split, exitOK, true
}

// readBufSize is the size of one read of stdin with --split read (what
// socat reads by default is 8192 bytes).
const readBufSize = 64 << 10

// msgSource cuts a reader into messages.
type msgSource struct {
	r    *bufio.Reader
	raw  io.Reader
	mode splitMode
	buf  []byte
	done bool
}

func newMsgSource(r io.Reader, mode splitMode) *msgSource {
	s := &msgSource{raw: r, mode: mode}
	switch mode {
	case splitLine:
		s.r = bufio.NewReaderSize(r, readBufSize)
	case splitRead:
		s.buf = make([]byte, readBufSize)
	}
	return s
}

// next returns the next message, valid until the next call, or io.EOF at
// the end of the input. Another error is one of reading the input.
func (s *msgSource) next() ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	switch s.mode {
	case splitLine:
		line, err := s.r.ReadBytes('\n')
		if err == nil {
			return line[:len(line)-1], nil
		}
		s.done = true
		if err == io.EOF && len(line) > 0 {
			return line, nil // the last line, without its "\n"
		}
		return nil, err
	case splitRead:
		for {
			n, err := s.raw.Read(s.buf)
			if n > 0 {
				return s.buf[:n], nil
			}
			if err != nil {
				s.done = true
				return nil, err
			}
		}
	default:
		s.done = true
		b, err := io.ReadAll(s.raw)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
}

// msgReader reads whole messages of any length: it asks the kernel for the
// next message's length first and grows its buffer to fit, so no message is
// ever cut.
type msgReader struct {
	buf []byte
}

// read reads one message from c, a seqpacket *uds.Conn or a
// *uds.DatagramConn: it peeks at the message's length, then reads it whole.
// It returns the message, with room for one more byte after it (see
// printMessage), and its sender on a datagram socket.
func (r *msgReader) read(c syscall.Conn) ([]byte, uds.Addr, error) {
	peek := uds.Message{Peek: true}
	if err := uds.ReadMsg(c, &peek); err != nil {
		return nil, uds.Addr{}, err
	}
	size := peek.Len
	if size+1 > len(r.buf) {
		r.buf = make([]byte, max(size+1, 64<<10))
	}
	m := uds.Message{Buf: r.buf[:size]}
	if err := uds.ReadMsg(c, &m); err != nil {
		// A truncated message (it cannot be, but it must not pass
		// unnoticed) is an error too.
		return nil, uds.Addr{}, err
	}
	return r.buf[: m.N : size+1], m.Addr, nil
}

// printMessage writes m to w with a "\n" after it unless it ends in one, in
// one write. m must have room for one more byte (msgReader.read's do).
func printMessage(w io.Writer, m []byte) error {
	if len(m) == 0 || m[len(m)-1] != '\n' {
		m = append(m, '\n')
	}
	if _, err := w.Write(m); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// idleTimer calls fire once nothing has been noted for d. touch notes
// activity; a zero d never fires.
type idleTimer struct {
	d    atomic.Int64 // time.Duration
	last atomic.Int64 // UnixNano of the last touch
	t    *time.Timer
	fire func()
	hit  atomic.Bool
}

func newIdleTimer(d time.Duration, fire func()) *idleTimer {
	it := &idleTimer{fire: fire}
	it.d.Store(int64(d))
	it.touch()
	it.t = time.AfterFunc(time.Hour, it.check)
	it.t.Stop()
	if d > 0 {
		it.t.Reset(d)
	}
	return it
}

func (it *idleTimer) touch() { it.last.Store(time.Now().UnixNano()) }

// set changes the idle time to d (from the last touch).
func (it *idleTimer) set(d time.Duration) {
	it.d.Store(int64(d))
	if d > 0 {
		it.t.Reset(time.Until(time.Unix(0, it.last.Load()).Add(d)))
	}
}

func (it *idleTimer) check() {
	d := time.Duration(it.d.Load())
	if d <= 0 {
		return
	}
	left := time.Until(time.Unix(0, it.last.Load()).Add(d))
	if left > 0 {
		it.t.Reset(left)
		return
	}
	it.hit.Store(true)
	it.fire()
}

// expired reports whether the timer fired.
func (it *idleTimer) expired() bool { return it.hit.Load() }

func (it *idleTimer) stop() { it.t.Stop() }

// errIdle ends a connection that was idle for --idle-timeout.
var errIdle = errors.New("idle timeout")

// peerGone reports whether err from sending means that the peer has gone
// (the reading side hears of it), rather than that the message was refused.
func peerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// bridgeSeqPacket connects a seqpacket connection to stdin and stdout as
// bridge does a stream: messages received are printed (printMessage), in is
// cut into messages by split (nil in sends nothing), and at the end of in
// the connection's writing side is shut down. It returns nil when the peer
// ends the connection, errIdle when nothing passed either way for idle (if
// not zero), ctx's error when ctx is cancelled, or the error that ended it.
func bridgeSeqPacket(ctx context.Context, c *uds.Conn, in io.Reader, split splitMode, out io.Writer, idle time.Duration) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	it := newIdleTimer(idle, func() { c.Close() })
	defer it.stop()
	var (
		inDone  chan struct{}
		sendErr error // set before inDone is closed
	)
	if in != nil {
		inDone = make(chan struct{})
		go func() {
			defer close(inDone)
			src := newMsgSource(in, split)
			for {
				m, err := src.next()
				if err != nil {
					c.CloseWrite()
					return
				}
				if _, err := c.Write(m); err != nil {
					if !peerGone(err) {
						sendErr = err
						c.Close()
					}
					return
				}
				it.touch()
			}
		}()
	}
	var r msgReader
	for {
		m, _, err := r.read(c)
		if err == nil {
			it.touch()
			if err := printMessage(out, m); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF {
			lingerFor(ctx, inDone)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if it.expired() {
			return errIdle
		}
		if inDone != nil {
			select {
			case <-inDone:
				if sendErr != nil {
					return fmt.Errorf("sending: %s", describe(sendErr))
				}
			default:
			}
		}
		return unwrapOp(err)
	}
}

// unwrapOp returns the system error of a *net.OpError ("read: connection
// reset by peer" reads better without the addresses, which the caller
// names).
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// dgramEnd is how long dial --type datagram goes on printing replies after
// the end of stdin when --idle-timeout is not set.
const dgramEnd = 500 * time.Millisecond

// dialDatagram sends the messages of in to c's peer and prints the replies,
// until nothing has passed either way for idle (when idle is not zero), or,
// once in has ended, for idle or dgramEnd. It returns nil at that end (also
// when the server's socket was closed), ctx's error when ctx is cancelled,
// or the error that ended it.
func dialDatagram(ctx context.Context, c *uds.DatagramConn, in io.Reader, split splitMode, out io.Writer, idle time.Duration) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	it := newIdleTimer(idle, func() { c.Close() })
	defer it.stop()
	var sendErr atomic.Pointer[error]
	go func() {
		src := newMsgSource(in, split)
		for {
			m, err := src.next()
			if err != nil {
				break
			}
			if _, err := c.Write(m); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					sendErr.Store(&err)
					c.Close()
				}
				return
			}
			it.touch()
		}
		if idle <= 0 {
			it.touch()
			it.set(dgramEnd)
		}
	}()
	var r msgReader
	for {
		m, _, err := r.read(c)
		if err == nil {
			it.touch()
			if err := printMessage(out, m); err != nil {
				return err
			}
			continue
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p := sendErr.Load(); p != nil {
			return fmt.Errorf("sending: %s", describe(*p))
		}
		if it.expired() {
			return nil
		}
		if errors.Is(err, syscall.ECONNRESET) {
			return nil // the server's socket was closed
		}
		return unwrapOp(err)
	}
}

// replyTarget is the most recent sender of a datagram listener that can be
// replied to (one with an address).
type replyTarget struct {
	mu    sync.Mutex
	addr  uds.Addr
	ready chan struct{} // closed once addr is set
	once  sync.Once
}

func (t *replyTarget) set(a uds.Addr) {
	t.mu.Lock()
	t.addr = a
	t.mu.Unlock()
	t.once.Do(func() { close(t.ready) })
}

// wait returns the current target, waiting for the first one.
func (t *replyTarget) wait(ctx context.Context) (uds.Addr, bool) {
	select {
	case <-t.ready:
	case <-ctx.Done():
		return uds.Addr{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addr, true
}

// serveDatagram prints the datagrams that c receives and sends the messages
// of in (nil for none) to the most recent sender that has an address. A
// reply that cannot be sent (that sender has gone) is reported and the next
// goes on. It runs until ctx is cancelled, or until nothing has passed
// either way for idle (if not zero: it then returns nil), or a receive
// fails.
func serveDatagram(ctx context.Context, st *stdio, c *uds.DatagramConn, in io.Reader, split splitMode, idle time.Duration) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	it := newIdleTimer(idle, func() { c.Close() })
	defer it.stop()
	target := &replyTarget{ready: make(chan struct{})}
	if in != nil {
		go func() {
			src := newMsgSource(in, split)
			for {
				m, err := src.next()
				if err != nil {
					return
				}
				to, ok := target.wait(ctx)
				if !ok {
					return
				}
				if _, err := c.WriteTo(m, to); err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					fmt.Fprintf(st.err, "uds: reply to %s: %s\n", to, describe(unwrapOp(err)))
					continue
				}
				it.touch()
			}
		}()
	}
	var (
		r       msgReader
		from    uds.Addr
		warned  bool
		readErr error
	)
	for {
		var m []byte
		var err error
		m, from, err = r.read(c)
		if err != nil {
			readErr = err
			break
		}
		it.touch()
		if from.Kind() == uds.KindUnnamed {
			if !warned && in != nil {
				fmt.Fprintln(st.err, "uds: a datagram came from an unbound socket, which cannot be replied to; stdin goes to the last sender with an address")
				warned = true
			}
		} else {
			target.set(from)
		}
		if err := printMessage(st.out, m); err != nil {
			return err
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if it.expired() {
		return nil
	}
	return unwrapOp(readErr)
}
