package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/udskit/uds"
)

// linger is how long bridge goes on sending input after the peer's end.
const linger = 500 * time.Millisecond

// lingerFor waits, after the peer's end, for the input to be sent (inDone
// closed) for up to linger; a nil inDone means there is none to wait for.
func lingerFor(ctx context.Context, inDone <-chan struct{}) {
	if inDone == nil {
		return
	}
	t := time.NewTimer(linger)
	defer t.Stop()
	select {
	case <-inDone:
	case <-t.C:
	case <-ctx.Done():
	}
}

// bridge connects a stream connection to stdin and stdout, as nc does: what
// the peer sends is copied to out, and what in gives (if in is not nil) is
// sent to the peer, whose connection's writing side is shut down at the end
// of in so that the peer reads EOF.
//
// bridge returns when the peer closes its writing side (nil), when reading
// the connection or writing out fails, or when ctx is cancelled (it then
// closes c). After the peer's end it goes on sending in for up to linger
// (as socat does), so that input already at hand is not lost to a peer that
// shut down its side at once; it does not wait longer for in: a copy blocked
// reading in is left behind, and its next write fails once c is closed.
//
// If idle is not zero, bridge closes c and returns errIdle once nothing has
// passed either way for idle.
func bridge(ctx context.Context, c *uds.Conn, in io.Reader, out io.Writer, idle time.Duration) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	it := newIdleTimer(idle, func() { c.Close() })
	defer it.stop()
	var inDone chan struct{}
	if in != nil {
		inDone = make(chan struct{})
		go func() {
			defer close(inDone)
			sendInput(c, in, it)
		}()
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := c.Read(buf)
		if n > 0 {
			it.touch()
			if _, werr := out.Write(buf[:n]); werr != nil {
				return fmt.Errorf("writing output: %w", werr)
			}
		}
		if rerr == io.EOF {
			lingerFor(ctx, inDone)
			return nil
		}
		if rerr != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			if it.expired() {
				return errIdle
			}
			var oe *net.OpError
			if errors.As(rerr, &oe) {
				rerr = oe.Err // "read: connection reset by peer"
			}
			return rerr
		}
	}
}

// sendInput copies in to c and shuts down c's writing side at the end of in
// (or when reading in fails). It stops, without a word, when writing to c
// fails: the peer has gone, and bridge hears of it by reading.
func sendInput(c *uds.Conn, in io.Reader, it *idleTimer) {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
			it.touch()
		}
		if rerr != nil {
			c.CloseWrite()
			return
		}
	}
}
