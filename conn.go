package uds

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"
)

// Conn is a connected Unix stream socket: a net.Conn and a syscall.Conn
// whose LocalAddr and RemoteAddr are uds.Addr values with the kernel's exact
// bytes (an abstract name with NUL bytes inside reads back whole, and an
// unnamed peer is KindUnnamed, not the abstract name "").
//
// Conn is not a net.PacketConn: stream sockets have no message boundaries
// and no per-message addresses.
type Conn struct {
	uc           *net.UnixConn
	laddr, raddr Addr
	owner        *pathOwner // a path this conn bound as its local address

	msgOnce sync.Once
	msg     *msgConn // for reads and writes with control messages
	msgErr  error

	closeOnce sync.Once
	closeErr  error
}

var (
	_ net.Conn     = (*Conn)(nil)
	_ syscall.Conn = (*Conn)(nil)
)

// newConn wraps uc. Addresses not given are read from the kernel.
func newConn(uc *net.UnixConn, laddr, raddr Addr, lookupLocal, lookupPeer bool) (*Conn, error) {
	c := &Conn{uc: uc, laddr: laddr.WithType(Stream), raddr: raddr.WithType(Stream)}
	if !lookupLocal && !lookupPeer {
		return c, nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		if lookupLocal {
			if c.laddr, serr = sysGetsockname(int(fd), Stream); serr != nil {
				serr = os.NewSyscallError("getsockname", serr)
				return
			}
		}
		if lookupPeer {
			if c.raddr, serr = sysGetpeername(int(fd), Stream); serr != nil {
				serr = os.NewSyscallError("getpeername", serr)
			}
		}
	})
	if cerr != nil {
		return nil, cerr
	}
	if serr != nil {
		return nil, serr
	}
	return c, nil
}

// Read reads data from the connection, as net.Conn's Read.
func (c *Conn) Read(b []byte) (int, error) { return c.uc.Read(b) }

// Write writes data to the connection, as net.Conn's Write.
func (c *Conn) Write(b []byte) (int, error) { return c.uc.Write(b) }

// Close closes the connection. If the connection bound a local path, the
// socket file is removed while it is still the one it bound.
func (c *Conn) Close() error {
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

// ReadCred reads data like Read and stores the sender's credentials in
// *cred. It needs SO_PASSCRED on this socket from before the data was sent
// (ListenConfig.PassCred, Dialer.PassCred or PassCred); otherwise the data is
// returned with an error wrapping ErrNoCredentials. One call returns data
// from one sender's writes only.
func (c *Conn) ReadCred(b []byte, cred *Cred) (int, error) {
	m, err := c.msgConn()
	if err != nil {
		return 0, err
	}
	return m.recv("read", b, false, nil, cred)
}

// WriteCred writes b, which must not be empty, with explicit credentials:
// cred, or this process's own if cred is nil (see SeqPacketConn.WriteCred).
func (c *Conn) WriteCred(b []byte, cred *Cred) (int, error) {
	m, err := c.msgConn()
	if err != nil {
		return 0, err
	}
	return m.send("write", b, nil, credOrOwn(cred))
}

func (c *Conn) msgConn() (*msgConn, error) {
	c.msgOnce.Do(func() {
		c.msg, c.msgErr = newMsgConn(c.uc, Stream, c.laddr, c.raddr, true, false)
	})
	return c.msg, c.msgErr
}

// CloseRead shuts down the reading side of the connection.
func (c *Conn) CloseRead() error { return c.uc.CloseRead() }

// CloseWrite shuts down the writing side of the connection; the peer reads
// EOF.
func (c *Conn) CloseWrite() error { return c.uc.CloseWrite() }

// LocalAddr returns the local address, a uds.Addr.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer's address, a uds.Addr. For a connection made
// by Dial it is the address dialed (the real path, even when a long path was
// reached through /proc); for an accepted connection it is the peer's bound
// address, usually KindUnnamed.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines, as net.Conn's SetDeadline.
func (c *Conn) SetDeadline(t time.Time) error { return c.uc.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.uc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.uc.SetWriteDeadline(t) }

// SyscallConn returns a raw network connection for the socket, for
// getsockopt, setsockopt and the like. Prefer it to File, which makes a
// second descriptor.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.uc.SyscallConn() }

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

// peerName reads the exact address of uc's peer.
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
