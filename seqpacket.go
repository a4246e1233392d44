package uds

import "fmt"

// seqConn wraps the msgConn of a connected seqpacket socket.
func seqConn(m *msgConn) *Conn {
	return &Conn{uc: m.uc, laddr: m.laddr, raddr: m.raddr, seq: m}
}

// SetZeroReadIsEOF sets how a seqpacket socket reads a message of zero
// bytes. By default (false) an empty message is 0, nil and only the end of
// the connection is 0, io.EOF; for that the kernel stamps every message,
// which costs about a fifth of a small message's receive (see
// BENCHMARKS.md). With true the timestamps are turned off, reads cost what
// package net's do, and Read takes a message of zero bytes for the end, 0,
// io.EOF, as package net and C programs that treat recv's 0 as the end do;
// a later Read returns the messages that followed it, if any. ReadMsg still
// sees a zero-byte message that carries descriptors or credentials, and
// ReadBatch returns one that is followed by others in the same batch. Use
// it when the peer never sends empty messages. It applies to the reads
// that start after it returns. A stream socket has no messages: there it
// is an error.
func (c *Conn) SetZeroReadIsEOF(on bool) error {
	if c.seq == nil {
		return opError("set", c.laddr, fmt.Errorf("%w: SetZeroReadIsEOF needs a seqpacket socket; this one is a stream", errUnsupported))
	}
	if err := c.seq.setZeroReadIsEOF(on); err != nil {
		return c.seq.opErr("set", err)
	}
	return nil
}
