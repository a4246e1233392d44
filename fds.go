package uds

import (
	"fmt"
	"os"
	"syscall"
)

// MaxFilesPerMessage is the most descriptors one message may carry: Linux's
// SCM_MAX_FD. Sending more fails before anything is sent.
const MaxFilesPerMessage = 253

// SendFiles sends b with files attached (SCM_RIGHTS) on the connected Unix
// socket c: a *Conn, *SeqPacketConn, *DatagramConn, a plain *net.UnixConn or
// an *os.File holding a socket. The receiver gets its own descriptors for
// the same open files; files stay open here, to be closed by the caller, and
// must not be closed during the call. More than MaxFilesPerMessage files is
// an error, before anything is sent.
//
// On a SEQPACKET or DGRAM socket the message is exactly b, which may be
// empty: the files travel with an empty message. A stream socket cannot
// carry descriptors without data, so on a stream socket, and only when b is
// empty, one NUL byte is sent with the files (RecvFiles with an empty
// buffer reads it); the byte is not counted in the result. On a stream
// socket SendFiles writes all of b, as Write does, and the files arrive with
// its first bytes.
//
// The uds types use their own buffers and allocate nothing. For other
// connections each call asks the kernel for the socket type and allocates a
// little.
func SendFiles(c syscall.Conn, b []byte, files ...*os.File) (int, error) {
	m, pooled, err := engineFor(c)
	if err != nil {
		return 0, err
	}
	n, err := m.sendFDs("write", b, nil, nil, files)
	if pooled {
		putEngine(m)
	}
	return n, err
}

// SendFDs is SendFiles for callers that manage descriptors themselves: it
// sends b with the descriptors fds, which stay open here. It allocates
// nothing on the uds types.
func SendFDs(c syscall.Conn, b []byte, fds []int) (int, error) {
	m, pooled, err := engineFor(c)
	if err != nil {
		return 0, err
	}
	n, err := m.sendFDs("write", b, nil, fds, nil)
	if pooled {
		putEngine(m)
	}
	return n, err
}

// RecvFiles reads data into b, with at most maxFiles files (SCM_RIGHTS), from
// the connected Unix socket c (see SendFiles for the kinds of c). It returns
// the bytes read and the files that came with them, which the caller closes.
// The descriptors are close-on-exec from the moment they exist
// (MSG_CMSG_CLOEXEC; on darwin they are marked right after recvmsg under
// syscall.ForkLock), so a concurrent fork and exec cannot inherit them.
//
// No descriptor ever leaks into this process: on every error all the
// descriptors that arrived are closed and no files are returned. In
// particular, if the message carried more than maxFiles descriptors, or the
// kernel could not deliver them all (MSG_CTRUNC: no room, or the process's
// RLIMIT_NOFILE), RecvFiles returns the bytes read (they are consumed, and
// on a stream socket the stream stays in step) together with an error that
// wraps ErrTruncated. Descriptors in unexpected control messages (a PIDFD
// nobody asked for) are closed too.
//
// On a SEQPACKET or DGRAM socket one call reads one message, which may be
// empty; a message longer than b is truncated as with Read (an error
// wrapping ErrTruncated, files closed). On a stream socket a call with an
// empty b reads one byte, the NUL that SendFiles adds to files sent without
// data: use it only when the peer sends files that way. maxFiles must be
// from 0 to MaxFilesPerMessage; another value is an error, and the message
// stays queued. On a plain *net.UnixConn of type SEQPACKET an empty
// message without files cannot be told from the end of the connection and
// reads as io.EOF (a *SeqPacketConn tells them apart).
func RecvFiles(c syscall.Conn, b []byte, maxFiles int) (int, []*os.File, error) {
	m, pooled, err := engineFor(c)
	if err != nil {
		return 0, nil, err
	}
	n, files, err := m.recvFiles("read", b, nil, maxFiles)
	if pooled {
		putEngine(m)
	}
	return n, files, err
}

// RecvFDs is RecvFiles for callers that manage descriptors themselves: it
// reads data into b and at most len(fds) descriptors into fds, and returns
// the byte count and the number of descriptors stored, which the caller
// closes. The rules of RecvFiles apply; it allocates nothing on the uds
// types.
func RecvFDs(c syscall.Conn, b []byte, fds []int) (n, nfds int, err error) {
	m, pooled, err := engineFor(c)
	if err != nil {
		return 0, 0, err
	}
	n, nfds, err = m.recvFDs("read", b, nil, fds)
	if pooled {
		putEngine(m)
	}
	return n, nfds, err
}

// RefuseFiles makes the Unix socket c refuse descriptors (SO_PASSRIGHTS=0,
// Linux 6.16 and later): a peer that sends files to it fails with EPERM
// and nothing reaches this process. For a listener, prefer
// ListenConfig.RefuseFiles, which sets it before the first connection. On
// older kernels and other systems it returns an error wrapping
// ErrUnsupported.
func RefuseFiles(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setRefuseFiles(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// engineFor returns the message engine for c: the uds types' own, or, for
// other connections, a pooled one that the caller returns with putEngine.
func engineFor(c syscall.Conn) (m *msgConn, pooled bool, err error) {
	errNil := func() error { return fmt.Errorf("uds: nil connection (%T)", c) }
	switch c := c.(type) {
	case *Conn:
		if c == nil {
			return nil, false, errNil()
		}
		m, err = c.msgConn()
		return m, false, err
	case *SeqPacketConn:
		if c == nil {
			return nil, false, errNil()
		}
		return c.m, false, nil
	case *DatagramConn:
		if c == nil {
			return nil, false, errNil()
		}
		return c.m, false, nil
	case nil:
		return nil, false, errNil()
	}
	m, err = foreignEngine(c)
	return m, err == nil, err
}

// WriteFiles writes b with files attached; see SendFiles. When b is empty,
// one NUL byte is sent with the files, since a stream cannot carry
// descriptors without data.
func (c *Conn) WriteFiles(b []byte, files ...*os.File) (int, error) {
	m, err := c.msgConn()
	if err != nil {
		return 0, err
	}
	return m.sendFDs("write", b, nil, nil, files)
}

// WriteFDs writes b with the descriptors fds attached; see SendFDs.
func (c *Conn) WriteFDs(b []byte, fds []int) (int, error) {
	m, err := c.msgConn()
	if err != nil {
		return 0, err
	}
	return m.sendFDs("write", b, nil, fds, nil)
}

// ReadFiles reads data into b with at most maxFiles files; see RecvFiles. An
// empty b reads the one NUL byte that WriteFiles sends with files and no
// data.
func (c *Conn) ReadFiles(b []byte, maxFiles int) (int, []*os.File, error) {
	m, err := c.msgConn()
	if err != nil {
		return 0, nil, err
	}
	return m.recvFiles("read", b, nil, maxFiles)
}

// ReadFDs reads data into b and at most len(fds) descriptors into fds; see
// RecvFDs.
func (c *Conn) ReadFDs(b []byte, fds []int) (n, nfds int, err error) {
	m, err := c.msgConn()
	if err != nil {
		return 0, 0, err
	}
	return m.recvFDs("read", b, nil, fds)
}

// WriteFiles sends b as one message with files attached; see SendFiles. The
// message may be empty: no byte is added.
func (c *SeqPacketConn) WriteFiles(b []byte, files ...*os.File) (int, error) {
	return c.m.sendFDs("write", b, nil, nil, files)
}

// WriteFDs sends b as one message with the descriptors fds attached; see
// SendFDs.
func (c *SeqPacketConn) WriteFDs(b []byte, fds []int) (int, error) {
	return c.m.sendFDs("write", b, nil, fds, nil)
}

// ReadFiles reads one message into b with at most maxFiles files; see
// RecvFiles.
func (c *SeqPacketConn) ReadFiles(b []byte, maxFiles int) (int, []*os.File, error) {
	return c.m.recvFiles("read", b, nil, maxFiles)
}

// ReadFDs reads one message into b and at most len(fds) descriptors into
// fds; see RecvFDs.
func (c *SeqPacketConn) ReadFDs(b []byte, fds []int) (n, nfds int, err error) {
	return c.m.recvFDs("read", b, nil, fds)
}

// WriteFiles sends b as one message with files attached to the connected
// peer; see SendFiles. The message may be empty.
func (c *DatagramConn) WriteFiles(b []byte, files ...*os.File) (int, error) {
	return c.m.sendFDs("write", b, nil, nil, files)
}

// WriteFDs sends b as one message with the descriptors fds attached to the
// connected peer; see SendFDs.
func (c *DatagramConn) WriteFDs(b []byte, fds []int) (int, error) {
	return c.m.sendFDs("write", b, nil, fds, nil)
}

// WriteFilesTo sends b as one message with files attached to to, or to the
// connected peer if to is the unnamed address; see SendFiles.
func (c *DatagramConn) WriteFilesTo(b []byte, to Addr, files ...*os.File) (int, error) {
	return c.m.sendFDs("write", b, destOrPeer(&to), nil, files)
}

// WriteFDsTo sends b as one message with the descriptors fds attached to
// to, or to the connected peer if to is the unnamed address; see SendFDs.
func (c *DatagramConn) WriteFDsTo(b []byte, to Addr, fds []int) (int, error) {
	return c.m.sendFDs("write", b, destOrPeer(&to), fds, nil)
}

// destOrPeer returns to, or nil (the connected peer) for the unnamed
// address.
func destOrPeer(to *Addr) *Addr {
	if to.kind == KindUnnamed {
		return nil
	}
	return to
}

// ReadFiles reads one message into b with at most maxFiles files; see
// RecvFiles.
func (c *DatagramConn) ReadFiles(b []byte, maxFiles int) (int, []*os.File, error) {
	return c.m.recvFiles("read", b, nil, maxFiles)
}

// ReadFDs reads one message into b and at most len(fds) descriptors into
// fds; see RecvFDs.
func (c *DatagramConn) ReadFDs(b []byte, fds []int) (n, nfds int, err error) {
	return c.m.recvFDs("read", b, nil, fds)
}

// ReadFilesFrom reads one message into b with at most maxFiles files, and
// stores its sender in *from (if from is not nil); see RecvFiles.
func (c *DatagramConn) ReadFilesFrom(b []byte, from *Addr, maxFiles int) (int, []*os.File, error) {
	return c.m.recvFiles("read", b, from, maxFiles)
}

// ReadFDsFrom reads one message into b and at most len(fds) descriptors
// into fds, and stores its sender in *from (if from is not nil); see
// RecvFDs. It allocates nothing unless the sender's name differs from the
// one already in *from.
func (c *DatagramConn) ReadFDsFrom(b []byte, from *Addr, fds []int) (n, nfds int, err error) {
	return c.m.recvFDs("read", b, from, fds)
}

// File returns a new descriptor for the listening socket, close-on-exec, as
// an *os.File: send it to another process (SendFiles) and rebuild the
// listener there with FileListener or FileSeqPacketListener. The listener
// is unchanged and keeps accepting until it is closed; see SetUnlinkOnClose
// for handing a path over. The descriptor shares the socket's non-blocking
// mode, and unlike package net's File, its Fd method does not switch the
// socket to blocking mode.
func (l *baseListener) File() (*os.File, error) {
	f, err := dupFile(l.ln, l.addr)
	if err != nil {
		return nil, opError("file", l.addr, err)
	}
	return f, nil
}

// SetUnlinkOnClose sets whether Close removes the socket file (still only
// if it is the file this listener bound), as net.UnixListener's method of
// that name. After handing the listener to another process, call
// SetUnlinkOnClose(false) before Close, so that the path stays with the
// new owner. The default comes from ListenConfig.KeepPath. A listener that
// did not create its path (FileListener) never removes it.
func (l *baseListener) SetUnlinkOnClose(unlink bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.owner != nil {
		l.owner.setKeep(!unlink)
	}
}

// File returns a new descriptor for the connection, close-on-exec, as an
// *os.File: send it to another process (SendFiles) and rebuild the
// connection there with FileConn. It shares the socket's non-blocking mode;
// its Fd method does not switch the socket to blocking mode.
func (c *Conn) File() (*os.File, error) {
	f, err := dupFile(c.uc, c.laddr)
	if err != nil {
		return nil, opError("file", c.laddr, err)
	}
	return f, nil
}

// File returns a new descriptor for the connection, close-on-exec, as an
// *os.File, for FileSeqPacketConn in another process. It shares the
// socket's non-blocking mode; its Fd method does not switch the socket to
// blocking mode.
func (c *SeqPacketConn) File() (*os.File, error) {
	f, err := dupFile(c.m.uc, c.m.laddr)
	if err != nil {
		return nil, c.m.opErr("file", err)
	}
	return f, nil
}

// File returns a new descriptor for the socket, close-on-exec, as an
// *os.File, for FileDatagramConn in another process. It shares the
// socket's non-blocking mode; its Fd method does not switch the socket to
// blocking mode. See SetUnlinkOnClose for handing a bound path over.
func (c *DatagramConn) File() (*os.File, error) {
	f, err := dupFile(c.m.uc, c.m.laddr)
	if err != nil {
		return nil, c.m.opErr("file", err)
	}
	return f, nil
}

// SetUnlinkOnClose sets whether Close removes the socket file this socket
// bound (still only if it is that file). After handing the socket to
// another process, call SetUnlinkOnClose(false) before Close. A socket that
// did not create its path (FileDatagramConn) never removes it.
func (c *DatagramConn) SetUnlinkOnClose(unlink bool) { c.m.setUnlinkOnClose(unlink) }

// FileListener returns a stream listener for the listening socket in f, for
// example one received from another process with RecvFiles. Its address is
// the socket's exact bound address. The listener never removes the socket
// file, which it did not create. f stays open, for the caller to close; the
// listener has its own descriptor. It fails if f is not a listening Unix
// stream socket.
func FileListener(f *os.File) (*Listener, error) {
	l := new(Listener)
	if err := fileListener(f, Stream, &l.baseListener); err != nil {
		return nil, err
	}
	return l, nil
}

// FileSeqPacketListener returns a seqpacket listener for the listening
// socket in f; see FileListener.
func FileSeqPacketListener(f *os.File) (*SeqPacketListener, error) {
	l := new(SeqPacketListener)
	if err := fileListener(f, SeqPacket, &l.baseListener); err != nil {
		return nil, err
	}
	return l, nil
}

// FileConn returns a stream connection for the connected socket in f, with
// its exact local and peer addresses. f stays open, for the caller to
// close. It fails if f is not a connected Unix stream socket.
func FileConn(f *os.File) (*Conn, error) { return fileConn(f) }

// FileSeqPacketConn returns a seqpacket connection for the connected socket
// in f; see FileConn.
func FileSeqPacketConn(f *os.File) (*SeqPacketConn, error) {
	m, err := fileMsgConn(f, SeqPacket)
	if err != nil {
		return nil, err
	}
	return &SeqPacketConn{m: m}, nil
}

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
