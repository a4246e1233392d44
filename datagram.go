package uds

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"
)

// DatagramConn is a SOCK_DGRAM socket: a net.PacketConn that sends and
// receives whole messages, bound to an address (ListenDatagram), connected to
// one peer (DialDatagram), or one end of a pair (DatagramPair).
//
// ReadFrom and ReadMsg report every sender's exact address: a path, an
// abstract name with NUL bytes, an autobind name, or KindUnnamed for a
// sender that never bound (it cannot be replied to). A message longer than
// the buffer returns the bytes that fit and an error wrapping ErrTruncated
// with the full length; an empty message is read as 0, nil.
//
// Writes to a peer whose receive queue is full wait, as long as the write
// deadline allows. A connected socket (Write) waits in the runtime's poller
// and is woken by the kernel when there is room. Linux wakes no unconnected
// sender (WriteTo, and WriteMsg and WriteBatch with an address), so these
// try again: for the first 200µs only
// yielding the processor, then sleeping between tries, from 50µs doubling up
// to 10ms. A blocked unconnected write thus uses a few per cent of a core at
// most, and sends at most 10ms after a stalled receiver makes room. Close,
// SetDeadline and SetWriteDeadline take effect on a waiting write at once.
type DatagramConn struct {
	m *msgConn
}

var (
	_ net.PacketConn = (*DatagramConn)(nil)
	_ net.Conn       = (*DatagramConn)(nil)
	_ syscall.Conn   = (*DatagramConn)(nil)
)

// ListenDatagram binds a datagram socket to a with the default
// configuration. See ListenConfig.ListenDatagram.
func ListenDatagram(ctx context.Context, a Addr) (*DatagramConn, error) {
	var lc ListenConfig
	return lc.ListenDatagram(ctx, a)
}

// ListenDatagram binds a datagram socket to a: a path, an abstract name or
// Autobind (for a client that sends with WriteTo and wants replies). A path
// is claimed with the rules of Listen: the lock file, the probe (a live
// datagram socket accepts the probe's connect), removal of a stale socket
// only; the file has Mode from the moment it exists, and Close removes it
// only while it is still this socket's.
func (lc *ListenConfig) ListenDatagram(ctx context.Context, a Addr) (*DatagramConn, error) {
	a = a.WithType(Datagram)
	if err := ctx.Err(); err != nil {
		return nil, opError("listen", a, err)
	}
	if err := a.validate(); err != nil {
		return nil, opError("listen", a, err)
	}
	if err := lc.validate(); err != nil {
		return nil, opError("listen", a, err)
	}
	uc, laddr, owner, err := lc.packetSocket(a)
	if err != nil {
		return nil, opError("listen", a, err)
	}
	m, err := newMsgConn(uc, Datagram, laddr, Addr{}, false, false)
	if err != nil {
		uc.Close()
		if owner != nil {
			owner.release()
		}
		return nil, opError("listen", a, err)
	}
	m.owner = owner
	return &DatagramConn{m: m}, nil
}

// DialDatagram connects a datagram socket to a with the default Dialer.
func DialDatagram(ctx context.Context, a Addr) (*DatagramConn, error) {
	return defaultDialer.DialDatagram(ctx, a)
}

// DialDatagram connects a datagram socket to a, so that Write sends to it
// and Read receives only from it. The socket is bound to d.LocalAddr, or, if
// that is the zero (unnamed) address, to an autobind name, so that the
// server can reply; on platforms without autobind it stays unnamed.
// WaitForListener retries while the socket is missing or nothing is bound to
// it.
func (d *Dialer) DialDatagram(ctx context.Context, a Addr) (*DatagramConn, error) {
	laddr := d.LocalAddr
	if laddr.kind == KindUnnamed && abstractSupported {
		laddr = Autobind()
	}
	m, err := d.dialMsg(ctx, a, Datagram, laddr)
	if err != nil {
		return nil, err
	}
	return &DatagramConn{m: m}, nil
}

// DatagramPair returns two connected datagram sockets (socketpair(2)).
func DatagramPair() (*DatagramConn, *DatagramConn, error) {
	a, b, err := msgPair(Datagram)
	if err != nil {
		return nil, nil, err
	}
	return &DatagramConn{m: a}, &DatagramConn{m: b}, nil
}

// ReadFrom reads one message into b and returns its sender, a uds.Addr.
// Boxing the address in a net.Addr allocates; ReadMsg does not.
func (c *DatagramConn) ReadFrom(b []byte) (int, net.Addr, error) {
	var from Addr
	n, err := c.m.recv("read", b, false, &from, nil)
	if err != nil && n == 0 {
		if _, ok := truncated(err); !ok {
			return 0, nil, err
		}
	}
	return n, from, err
}

// WriteTo sends b as one message to addr, a uds.Addr, *uds.Addr or
// *net.UnixAddr (whose "@" names are abstract).
func (c *DatagramConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var to Addr
	switch a := addr.(type) {
	case Addr:
		to = a
	case *Addr:
		if a == nil {
			return 0, c.m.opErr("write", fmt.Errorf("%w: nil *uds.Addr", ErrInvalidAddr))
		}
		to = *a
	case *net.UnixAddr:
		to = fromUnixAddr(a)
	default:
		return 0, c.m.opErr("write", fmt.Errorf("%w: %T is not a Unix socket address", ErrInvalidAddr, addr))
	}
	return c.m.send("write", b, &to, nil)
}

// Read reads one message from a connected socket (or from anyone, on a bound
// one, without telling who).
func (c *DatagramConn) Read(b []byte) (int, error) { return c.m.recv("read", b, false, nil, nil) }

// Write sends b as one message to the connected peer.
func (c *DatagramConn) Write(b []byte) (int, error) { return c.m.send("write", b, nil, nil) }

// Close closes the socket. A path it bound is removed while it is still this
// socket's (unless SetUnlinkOnClose(false) was called), and its lock released.
func (c *DatagramConn) Close() error { return c.m.close() }

// LocalAddr returns the socket's address, a uds.Addr (the kernel's choice
// for an autobind name).
func (c *DatagramConn) LocalAddr() net.Addr { return c.m.laddr }

// RemoteAddr returns the connected peer's address, a uds.Addr, or nil if the
// socket is not connected.
func (c *DatagramConn) RemoteAddr() net.Addr { return c.m.remote() }

// SetDeadline sets the read and write deadlines.
func (c *DatagramConn) SetDeadline(t time.Time) error { return c.m.setDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *DatagramConn) SetReadDeadline(t time.Time) error { return c.m.uc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline, which also bounds the waits of
// WriteTo on a full receiver; a write waiting already follows the change.
func (c *DatagramConn) SetWriteDeadline(t time.Time) error { return c.m.setWriteDeadline(t) }

// SyscallConn returns a raw network connection for the socket.
func (c *DatagramConn) SyscallConn() (syscall.RawConn, error) { return c.m.uc.SyscallConn() }

// fromUnixAddr converts package net's address, which writes abstract names
// with a leading "@".
func fromUnixAddr(a *net.UnixAddr) Addr {
	if a == nil || a.Name == "" {
		return Addr{}
	}
	if a.Name[0] == '@' {
		return Abstract(a.Name[1:])
	}
	return Path(a.Name)
}
