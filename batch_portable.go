//go:build !linux

package uds

import "errors"

// Batches without recvmmsg and sendmmsg: every system but Linux. This is a
// portable implementation, not a stub (on systems without message sockets
// the calls it makes return their errors), so it is named for what it is;
// see docs/ARCHITECTURE.md.

// readBatch is the portable fallback: one message per call, with the same
// per-message results as the batch path.
func (c *msgConn) readBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	m := &ms[0]
	full, err := c.recv("read", m.Buf, false, &m.Addr, m.Cred)
	m.Err, m.N, m.Len = nil, full, full
	var te *TruncatedError
	switch {
	case errors.As(err, &te):
		m.N, m.Len, m.Err = te.Buf, te.Len, ErrTruncated
	case errors.Is(err, ErrNoCredentials):
		m.Err = ErrNoCredentials
	case err != nil:
		return 0, err
	}
	return 1, nil
}

// writeBatch is the portable fallback: one message per call.
func (c *msgConn) writeBatch(ms []Message) (int, error) {
	if err := c.checkBatch(ms); err != nil {
		return 0, err
	}
	addrs := c.typ == Datagram
	for i := range ms {
		m := &ms[i]
		var to *Addr
		if addrs && m.Addr.kind != KindUnnamed {
			to = &m.Addr
		}
		n, err := c.send("write", m.Buf, to, m.Cred)
		if err != nil {
			return i, err
		}
		m.N = n
	}
	return len(ms), nil
}

// batchFields holds Linux's batch machinery in msgConn; the fallback needs
// none.
type batchFields struct{}
