package uds

import (
	"context"
	"net"
	"os"
	"syscall"
	"time"
)

// SeqPacketListener is a listener for SOCK_SEQPACKET sockets: connections
// that keep message boundaries. It reclaims stale paths and cleans up on
// Close exactly as Listener does.
type SeqPacketListener struct {
	baseListener
}

var (
	_ net.Listener = (*SeqPacketListener)(nil)
	_ syscall.Conn = (*SeqPacketListener)(nil)
)

// ListenSeqPacket announces on the seqpacket address a with the default
// configuration. See ListenConfig.Listen for the reclaim rules.
func ListenSeqPacket(ctx context.Context, a Addr) (*SeqPacketListener, error) {
	var lc ListenConfig
	return lc.ListenSeqPacket(ctx, a)
}

// ListenSeqPacket announces on the seqpacket address a. It follows the same
// rules as Listen; the probe of an existing socket uses SOCK_SEQPACKET.
func (lc *ListenConfig) ListenSeqPacket(ctx context.Context, a Addr) (*SeqPacketListener, error) {
	l := new(SeqPacketListener)
	if err := lc.listen(ctx, a, SeqPacket, &l.baseListener); err != nil {
		return nil, err
	}
	return l, nil
}

// Accept waits for and returns the next connection, a *SeqPacketConn.
func (l *SeqPacketListener) Accept() (net.Conn, error) {
	c, err := l.AcceptSeqPacket()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptSeqPacket waits for and returns the next connection.
func (l *SeqPacketListener) AcceptSeqPacket() (*SeqPacketConn, error) {
	uc, err := l.accept()
	if err != nil {
		return nil, err
	}
	raddr, err := peerName(uc, SeqPacket)
	if err == nil {
		var m *msgConn
		if m, err = newMsgConn(uc, SeqPacket, l.addr, raddr, true, false); err == nil {
			return &SeqPacketConn{m: m}, nil
		}
	}
	uc.Close()
	return nil, opError("accept", l.addr, err)
}

// SeqPacketConn is a connected SOCK_SEQPACKET socket. Every Write sends one
// message and every Read receives one whole message, with these differences
// from a stream net.Conn:
//
//   - A message longer than the buffer is truncated by the kernel: Read
//     returns the bytes that fit and an error wrapping ErrTruncated (a
//     *TruncatedError with the message's full length). Use PeekSize to size
//     the buffer first.
//   - An empty message is read as 0, nil; the end of the connection is
//     0, io.EOF. (The socket has SO_TIMESTAMP set so the two can be told
//     apart: every message carries a timestamp, the end carries none.
//     SetZeroReadIsEOF trades this for package net's speed.)
//   - Read with an empty buffer consumes a message.
//   - A message larger than the socket can send fails with a
//     *MessageSizeError naming the limit.
type SeqPacketConn struct {
	m *msgConn
}

var (
	_ net.Conn     = (*SeqPacketConn)(nil)
	_ syscall.Conn = (*SeqPacketConn)(nil)
)

// DialSeqPacket connects to the seqpacket socket at a with the default
// Dialer.
func DialSeqPacket(ctx context.Context, a Addr) (*SeqPacketConn, error) {
	var d Dialer
	return d.DialSeqPacket(ctx, a)
}

// DialSeqPacket connects to the seqpacket socket at a, with the retries and
// options of Dial.
func (d *Dialer) DialSeqPacket(ctx context.Context, a Addr) (*SeqPacketConn, error) {
	m, err := d.dialMsg(ctx, a, SeqPacket, d.LocalAddr)
	if err != nil {
		return nil, err
	}
	return &SeqPacketConn{m: m}, nil
}

// SeqPacketPair returns two connected seqpacket sockets (socketpair(2)).
func SeqPacketPair() (*SeqPacketConn, *SeqPacketConn, error) {
	a, b, err := msgPair(SeqPacket)
	if err != nil {
		return nil, nil, err
	}
	return &SeqPacketConn{m: a}, &SeqPacketConn{m: b}, nil
}

// Read reads one message into b. See SeqPacketConn for how it differs from a
// stream's Read.
func (c *SeqPacketConn) Read(b []byte) (int, error) { return c.m.recv("read", b, false, nil, nil) }

// SetZeroReadIsEOF sets how a message of zero bytes is read. By default
// (false) an empty message is 0, nil and only the end of the connection is
// 0, io.EOF; for that the kernel stamps every message, which costs about a
// fifth of a small message's receive (see BENCHMARKS.md). With true the
// timestamps are turned off, reads cost what package net's do, and Read
// takes a message of zero bytes for the end, 0, io.EOF, as package net and
// C programs that treat recv's 0 as the end do; a later Read returns the
// messages that followed it, if any. ReadFiles, ReadFDs and ReadCred still
// see a zero-byte message that carries descriptors or credentials, and
// ReadBatch returns one that is followed by others in the same batch. Use it
// when the peer never sends empty messages. It applies to the reads that
// start after it returns.
func (c *SeqPacketConn) SetZeroReadIsEOF(on bool) error {
	if err := c.m.setZeroReadIsEOF(on); err != nil {
		return c.m.opErr("set", err)
	}
	return nil
}

// Write sends b as one message, empty messages included.
func (c *SeqPacketConn) Write(b []byte) (int, error) { return c.m.send("write", b, nil, nil) }

// ReadCred reads one message like Read and stores the sender's credentials
// in *cred (PID, UID, GID, and a PIDFD the caller closes if SO_PASSPIDFD is
// set). It needs SO_PASSCRED on this socket from before the message was sent
// (ListenConfig.PassCred, Dialer.PassCred or PassCred); otherwise the data
// is returned with an error wrapping ErrNoCredentials.
func (c *SeqPacketConn) ReadCred(b []byte, cred *Cred) (int, error) {
	return c.m.recv("read", b, false, nil, cred)
}

// WriteCred sends b as one message with explicit credentials: cred, or this
// process's own if cred is nil. Only a privileged process may send others'
// (CAP_SYS_ADMIN for the PID, CAP_SETUID and CAP_SETGID for the IDs). A
// receiver with SO_PASSCRED gets the sender's real credentials anyway.
func (c *SeqPacketConn) WriteCred(b []byte, cred *Cred) (int, error) {
	return c.m.send("write", b, nil, credOrOwn(cred))
}

// PeekSize waits for the next message, honouring the read deadline, and
// returns its length without consuming it.
func (c *SeqPacketConn) PeekSize() (int, error) { return peekSize(c.m) }

// Close closes the connection.
func (c *SeqPacketConn) Close() error { return c.m.close() }

// CloseRead shuts down the reading side of the connection.
func (c *SeqPacketConn) CloseRead() error { return c.m.uc.CloseRead() }

// CloseWrite shuts down the writing side; the peer reads io.EOF after the
// messages already sent.
func (c *SeqPacketConn) CloseWrite() error { return c.m.uc.CloseWrite() }

// LocalAddr returns the local address, a uds.Addr.
func (c *SeqPacketConn) LocalAddr() net.Addr { return c.m.laddr }

// RemoteAddr returns the peer's address, a uds.Addr.
func (c *SeqPacketConn) RemoteAddr() net.Addr { return c.m.raddr }

// SetDeadline sets the read and write deadlines.
func (c *SeqPacketConn) SetDeadline(t time.Time) error { return c.m.setDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *SeqPacketConn) SetReadDeadline(t time.Time) error { return c.m.uc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *SeqPacketConn) SetWriteDeadline(t time.Time) error { return c.m.setWriteDeadline(t) }

// SyscallConn returns a raw network connection for the socket.
func (c *SeqPacketConn) SyscallConn() (syscall.RawConn, error) { return c.m.uc.SyscallConn() }

// peekSize returns the length of the next message without consuming it.
func peekSize(m *msgConn) (int, error) {
	n, err := m.recv("peek", nil, true, nil, nil)
	te, ok := truncated(err)
	if !ok {
		return n, err
	}
	if te.Len >= 0 {
		return te.Len, nil
	}
	// The kernel does not tell the length (darwin): peek into larger
	// buffers until the message fits.
	for size := 64 << 10; size <= 64<<20; size *= 4 {
		n, err = m.recv("peek", make([]byte, size), true, nil, nil)
		if te, ok = truncated(err); !ok {
			return n, err
		}
		if te.Len >= 0 {
			return te.Len, nil
		}
	}
	return 0, err
}

func truncated(err error) (*TruncatedError, bool) {
	if oe, ok := err.(*net.OpError); ok {
		if te, ok := oe.Err.(*TruncatedError); ok {
			return te, true
		}
	}
	return nil, false
}

// credOrOwn returns cred, or this process's credentials for nil.
func credOrOwn(cred *Cred) *Cred {
	if cred != nil {
		return cred
	}
	return &Cred{PID: os.Getpid(), UID: os.Geteuid(), GID: os.Getegid()}
}
