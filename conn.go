package uds

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"
)

// Conn is a connected Unix stream or seqpacket socket, as net.UnixConn is
// for "unix" and "unixpacket": a net.Conn and a syscall.Conn whose
// LocalAddr and RemoteAddr are uds.Addr values with the kernel's exact bytes
// (an abstract name with NUL bytes inside reads back whole, and an unnamed
// peer is KindUnnamed, not the abstract name ""). Its socket type is its
// address's: c.LocalAddr().(uds.Addr).Type().
//
// On a seqpacket socket every Write sends one message and every Read
// receives one whole message, with these differences from a stream:
//
//   - A message longer than the buffer is truncated by the kernel: Read
//     returns the bytes that fit and an error wrapping ErrTruncated (a
//     *TruncatedError with the message's full length). ReadMsg with
//     Message.Peek tells the size first.
//   - An empty message is read as 0, nil; the end of the connection is
//     0, io.EOF. (The socket has SO_TIMESTAMP set so the two can be told
//     apart: every message carries a timestamp, the end carries none.
//     SetZeroReadIsEOF trades this for package net's speed.)
//   - Read with an empty buffer consumes a message.
//   - A message larger than the socket can send fails with a
//     *MessageSizeError naming the limit.
//
// Credentials and descriptors travel with ReadMsg and WriteMsg, and
// seqpacket messages in batches with ReadBatch and WriteBatch.
type Conn struct {
	uc           *net.UnixConn
	laddr, raddr Addr
	owner        *pathOwner // a path a stream conn bound as its local address

	// seq carries a seqpacket socket's messages, made with the Conn; a
	// stream's msgConn (for ReadMsg and WriteMsg) is made on first use.
	seq     *msgConn
	msgOnce sync.Once
	msg     *msgConn
	msgErr  error

	// peerOnce reads an accepted stream connection's peer address on the
	// first RemoteAddr, not in Accept: the accept loop serves every client
	// one after another, and a getpeername there slowed connection churn by
	// a fifth at 256 concurrent clients (bench/scale.sh).
	peerOnce sync.Once
	peerLazy bool

	closeOnce sync.Once
	closeErr  error
}

var (
	_ net.Conn     = (*Conn)(nil)
	_ syscall.Conn = (*Conn)(nil)
)

// newConn wraps the stream socket uc. With lookupLocal its local address
// is read from the kernel; its peer's is raddr.
func newConn(uc *net.UnixConn, laddr, raddr Addr, lookupLocal bool) (*Conn, error) {
	c := &Conn{uc: uc, laddr: laddr.WithType(Stream), raddr: raddr.WithType(Stream)}
	if !lookupLocal {
		return c, nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { c.laddr, serr = sysGetsockname(int(fd), Stream) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, os.NewSyscallError("getsockname", serr)
	}
	return c, nil
}

// acceptedConn wraps the stream socket uc that l accepted. Its peer's
// address is read when RemoteAddr first asks for it.
func acceptedConn(uc *net.UnixConn, laddr Addr) *Conn {
	return &Conn{uc: uc, laddr: laddr.WithType(Stream), raddr: Unnamed().WithType(Stream), peerLazy: true}
}

// Read reads data from the connection, as net.Conn's Read; on a seqpacket
// socket it reads one message (see Conn).
func (c *Conn) Read(b []byte) (int, error) {
	if c.seq != nil {
		return c.seq.recv("read", b, false, nil, nil)
	}
	return c.uc.Read(b)
}

// Write writes data to the connection, as net.Conn's Write; on a seqpacket
// socket it sends b as one message, empty messages included.
func (c *Conn) Write(b []byte) (int, error) {
	if c.seq != nil {
		return c.seq.send("write", b, nil, nil)
	}
	return c.uc.Write(b)
}

// Close closes the connection. If the connection bound a local path, the
// socket file is removed while it is still the one it bound.
func (c *Conn) Close() error {
	if c.seq != nil {
		return c.seq.close()
	}
	err := c.uc.Close()
	c.closeOnce.Do(func() {
		if c.owner != nil {
			if e := c.owner.release(); e != nil {
				c.closeErr = opError("close", c.laddr, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return c.closeErr
}

// msgConn returns the msgConn for ReadMsg and WriteMsg.
func (c *Conn) msgConn() (*msgConn, error) {
	if c.seq != nil {
		return c.seq, nil
	}
	c.msgOnce.Do(func() {
		c.msg, c.msgErr = newMsgConn(c.uc, Stream, c.laddr, c.remote(), true, false)
	})
	return c.msg, c.msgErr
}

// CloseRead shuts down the reading side of the connection.
func (c *Conn) CloseRead() error { return c.uc.CloseRead() }

// CloseWrite shuts down the writing side of the connection; the peer reads
// io.EOF after the data (or messages) already sent.
func (c *Conn) CloseWrite() error { return c.uc.CloseWrite() }

// LocalAddr returns the local address, a uds.Addr.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer's address, a uds.Addr. For a connection made
// by Dial it is the address dialed (the real path, even when a long path was
// reached through /proc); for an accepted connection it is the peer's bound
// address, usually KindUnnamed.
func (c *Conn) RemoteAddr() net.Addr { return c.remote() }

// remote returns the peer's address, reading it from the kernel the first
// time for an accepted connection (an unnamed address if the kernel no
// longer has one: the peer has gone).
func (c *Conn) remote() Addr {
	if c.seq != nil {
		return c.seq.peer()
	}
	if c.peerLazy {
		c.peerOnce.Do(func() {
			if a, err := peerName(c.uc, Stream); err == nil {
				c.raddr = a
			}
		})
	}
	return c.raddr
}

// SetDeadline sets the read and write deadlines, as net.Conn's SetDeadline.
func (c *Conn) SetDeadline(t time.Time) error {
	if c.seq != nil {
		return c.seq.setDeadline(t)
	}
	return c.uc.SetDeadline(t)
}

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.uc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.seq != nil {
		return c.seq.setWriteDeadline(t)
	}
	return c.uc.SetWriteDeadline(t)
}

// SyscallConn returns a raw network connection for the socket, for
// getsockopt, setsockopt and the like. Prefer it to File, which makes a
// second descriptor.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.uc.SyscallConn() }

// File returns a new descriptor for the connection, close-on-exec, as an
// *os.File: send it to another process (WriteMsg) and rebuild the
// connection there with FileConn. It shares the socket's non-blocking mode;
// its Fd method does not switch the socket to blocking mode. A seqpacket
// socket keeps the SO_TIMESTAMP it has by default (see SetZeroReadIsEOF):
// a program that reads it with recvmsg finds a timestamp control message
// with every message, and one with a small control buffer may not find
// room for descriptors; call SetZeroReadIsEOF(true) first to turn it off.
func (c *Conn) File() (*os.File, error) {
	f, err := dupFile(c.uc, c.laddr)
	if err != nil {
		return nil, opError("file", c.laddr, err)
	}
	return f, nil
}

// Pair returns two connected sockets of type typ, Stream or SeqPacket
// (socketpair(2)); DatagramPair makes datagram pairs. Both ends' addresses
// are unnamed. To hand one end to a child process, pass its File.
func Pair(typ SocketType) (*Conn, *Conn, error) {
	switch typ {
	case SeqPacket:
		a, b, err := msgPair(SeqPacket)
		if err != nil {
			return nil, nil, err
		}
		return seqConn(a), seqConn(b), nil
	case Stream:
	default:
		return nil, nil, opError("socketpair", Addr{typ: typ}, errPairType)
	}
	ucs, err := socketpairConns(Stream)
	if err != nil {
		return nil, nil, err
	}
	a, _ := newConn(ucs[0], Addr{}, Addr{}, false)
	b, _ := newConn(ucs[1], Addr{}, Addr{}, false)
	return a, b, nil
}

var errPairType = fmt.Errorf("%w: Pair makes stream and seqpacket pairs; use DatagramPair for datagram sockets", ErrInvalidAddr)

// joinErrors reports a and b together; either may be nil.
func joinErrors(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return multierror.Append(a, b)
}

// peerName reads the exact address of uc's peer. (Written out, not with
// control: it runs for every accepted seqpacket connection.)
func peerName(uc *net.UnixConn, typ SocketType) (Addr, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return Addr{}, err
	}
	var a Addr
	var serr error
	if err := rc.Control(func(fd uintptr) { a, serr = sysGetpeername(int(fd), typ) }); err != nil {
		return Addr{}, err
	}
	if serr != nil {
		return Addr{}, os.NewSyscallError("getpeername", serr)
	}
	return a, nil
}
