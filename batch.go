package uds

import (
	"fmt"
	"syscall"
)

// ReadBatch reads up to len(ms) messages from a seqpacket *Conn or a
// *DatagramConn with as few system calls as possible (recvmmsg on Linux):
// it waits, honouring the read deadline, until at least one message is
// queued, then takes every queued message that fits in ms, and returns how
// many it filled. Each Message gets its data, N, Len, Err (truncation or
// missing credentials), sender Addr on a datagram socket and, if asked,
// credentials. Descriptors a peer sends along are closed, never leaked
// (read those with ReadMsg); Files, FDs and Peek are ignored. On a seqpacket
// socket an empty message is a Message with N == 0, and the end of the
// connection is io.EOF from the call that finds it with no message before
// it (after SetZeroReadIsEOF(true), empty messages that fill the end of ms
// are taken for the end).
func ReadBatch(c syscall.Conn, ms []Message) (int, error) {
	e, err := batchMsgConn(c)
	if err != nil {
		return 0, err
	}
	return e.readBatch(ms)
}

// WriteBatch sends the messages in ms on a seqpacket *Conn or a
// *DatagramConn, each to its Addr on a datagram socket (the connected peer
// for the zero address), with as few system calls as possible (sendmmsg on
// Linux). It waits for room like WriteTo, within the write deadline, and
// returns how many messages went: on an error, the messages before the
// returned count were sent and the one at the count was not. Messages carry
// their Cred if set; descriptors are sent with WriteMsg (a Message with
// Files or FDs is refused here before anything is sent).
func WriteBatch(c syscall.Conn, ms []Message) (int, error) {
	e, err := batchMsgConn(c)
	if err != nil {
		return 0, err
	}
	return e.writeBatch(ms)
}

// checkBatch refuses a batch with descriptors before anything is sent.
func (c *msgConn) checkBatch(ms []Message) error {
	for i := range ms {
		if len(ms[i].Files) > 0 || len(ms[i].FDs) > 0 {
			return c.opErr("write", fmt.Errorf("%w: message %d of %d: %w", ErrInvalidAddr, i+1, len(ms), errBatchFiles))
		}
	}
	return nil
}
