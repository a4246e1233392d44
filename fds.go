package uds

import (
	"fmt"
	"os"
	"syscall"
)

// MaxFilesPerMessage is the most descriptors one message may carry: Linux's
// SCM_MAX_FD. Sending more fails before anything is sent.
const MaxFilesPerMessage = 253

// msgConnFor returns the msgConn for c: the uds types' own, or, for
// other connections, a pooled one that the caller returns with putMsgConn.
func msgConnFor(c syscall.Conn) (m *msgConn, pooled bool, err error) {
	switch c := c.(type) {
	case *Conn:
		if c == nil {
			return nil, false, errNilConn(c)
		}
		m, err = c.msgConn()
		return m, false, err
	case *DatagramConn:
		if c == nil {
			return nil, false, errNilConn(c)
		}
		return c.m, false, nil
	case nil:
		return nil, false, errNilConn(c)
	}
	m, err = foreignMsgConn(c)
	return m, err == nil, err
}

// batchMsgConn returns the msgConn of a seqpacket Conn or a DatagramConn.
func batchMsgConn(c syscall.Conn) (*msgConn, error) {
	switch c := c.(type) {
	case *Conn:
		if c != nil && c.seq != nil {
			return c.seq, nil
		}
		if c != nil {
			return nil, opError("batch", c.laddr, fmt.Errorf("%w: batches need a seqpacket or datagram socket; this one is a stream", errUnsupported))
		}
	case *DatagramConn:
		if c != nil {
			return c.m, nil
		}
	}
	return nil, fmt.Errorf("uds: batches need a seqpacket *uds.Conn or a *uds.DatagramConn, not %T", c)
}

func errNilConn(c any) error { return fmt.Errorf("uds: nil connection (%T)", c) }

// File returns a new descriptor for the listening socket, close-on-exec, as
// an *os.File: send it to another process (WriteMsg) and rebuild the
// listener there with FileListener. The listener is unchanged and keeps
// accepting until it is closed; see SetUnlinkOnClose for handing a path
// over. The descriptor shares the socket's non-blocking mode, and unlike
// package net's File, its Fd method does not switch the socket to blocking
// mode.
func (l *Listener) File() (*os.File, error) {
	f, err := dupFile(l.ln, l.addr)
	if err != nil {
		return nil, opError("file", l.addr, err)
	}
	return f, nil
}

// SetUnlinkOnClose sets whether Close removes the socket file (still only
// if it is the file this listener bound), as net.UnixListener's method of
// that name. The default is true. After handing the listener to another
// process, call SetUnlinkOnClose(false) before Close, so that the path
// stays with the new owner. A listener that did not create its path
// (FileListener) never removes it.
func (l *Listener) SetUnlinkOnClose(unlink bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.owner != nil {
		l.owner.setKeep(!unlink)
	}
}

// File returns a new descriptor for the socket, close-on-exec, as an
// *os.File, for FileDatagramConn in another process. It shares the
// socket's non-blocking mode; its Fd method does not switch the socket to
// blocking mode.
func (c *DatagramConn) File() (*os.File, error) {
	f, err := dupFile(c.m.uc, c.m.laddr)
	if err != nil {
		return nil, c.m.opErr("file", err)
	}
	return f, nil
}

// SetUnlinkOnClose sets whether Close removes the socket file this socket
// bound (still only while it is that file), as Listener's method of that
// name. The default is true. A socket that did not create its path
// (FileDatagramConn) never removes it.
func (c *DatagramConn) SetUnlinkOnClose(unlink bool) { c.m.setUnlinkOnClose(unlink) }

// FileListener returns a listener for the listening stream or seqpacket
// socket in f, for example one received from another process with ReadMsg.
// Its address is the socket's exact bound address, whose type is the
// socket's. The listener never removes the socket file, which it did not
// create. f stays open, for the caller to close; the listener has its own
// descriptor. It fails if f is not a listening Unix stream or seqpacket
// socket.
func FileListener(f *os.File) (*Listener, error) { return fileListener(f) }

// FileConn returns a connection for the connected stream or seqpacket
// socket in f, with its exact local and peer addresses. f stays open, for
// the caller to close. It fails if f is not a connected Unix stream or
// seqpacket socket.
func FileConn(f *os.File) (*Conn, error) { return fileConn(f) }

// FileDatagramConn returns a datagram socket for the socket in f, bound or
// not, connected or not, with its exact addresses. It never removes a
// socket file, which it did not create. f stays open, for the caller to
// close.
func FileDatagramConn(f *os.File) (*DatagramConn, error) {
	m, err := fileMsgConn(f, Datagram)
	if err != nil {
		return nil, err
	}
	return &DatagramConn{m: m}, nil
}
