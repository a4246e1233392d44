//go:build linux || darwin || freebsd

package uds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/udskit/uds/internal/fdutil"
	"golang.org/x/sys/unix"
)

// fdCtlExtra is the control space kept, on top of the descriptors', for the
// control messages the kernel puts before SCM_RIGHTS: a timestamp
// (SO_TIMESTAMP, 32 bytes), credentials (SO_PASSCRED, 32), a PIDFD
// (SO_PASSPIDFD, 24) and a security label (SO_PASSSEC).
const fdCtlExtra = 192

func tooManyFiles(n int) error {
	return fmt.Errorf("%d descriptors in one message: the kernel passes at most %d per message (SCM_MAX_FD); nothing was sent: %w",
		n, MaxFilesPerMessage, syscall.EINVAL)
}

func (c *msgConn) grab(fd uintptr) { c.w.grab = int(fd) }

// fileFD returns f's descriptor without f.Fd, which would switch a
// non-blocking file to blocking mode.
func (c *msgConn) fileFD(f *os.File) (int, error) {
	if f == nil {
		return -1, os.ErrInvalid
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	c.w.grab = -1
	if err := rc.Control(c.w.grabFn); err != nil {
		return -1, err
	}
	return c.w.grab, nil
}

// writeMsg sends m: its data, to m.Addr on an unconnected datagram socket,
// with its credentials and descriptors.
func (c *msgConn) writeMsg(op string, m *Message) error {
	m.N = 0
	var to *Addr
	if c.typ == Datagram && m.Addr.kind != KindUnnamed {
		to = &m.Addr
	}
	nfd := len(m.FDs) + len(m.Files)
	switch {
	case c.typ == Datagram && to == nil && !c.conn:
		return c.opErrTo(op, m.Addr, errNoDestination)
	case len(m.FDs) > 0 && len(m.Files) > 0:
		return c.opErrTo(op, ptrAddr(to), fmt.Errorf("%w: %w", ErrInvalidAddr, errFilesAndFDs))
	case nfd > MaxFilesPerMessage:
		return c.opErrTo(op, ptrAddr(to), tooManyFiles(nfd))
	case !emptyMsgWithFDs && c.typ != Stream && len(m.Buf) == 0 && nfd > 0:
		return c.opErrTo(op, ptrAddr(to), unsupported("descriptors on an empty message (darwin's sendmsg would add a byte)"))
	case m.Cred != nil && c.typ == Stream && len(m.Buf) == 0:
		return c.opErrTo(op, ptrAddr(to), errCredNeedsData)
	}
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	ctl := c.w.ctl[:0]
	if m.Cred != nil {
		var err error
		if ctl, err = putCredControl(c.w.ctl[:], m.Cred); err != nil {
			return c.opErrTo(op, ptrAddr(to), err)
		}
	}
	if nfd > 0 {
		if c.w.fdctl == nil {
			c.w.fdctl = make([]byte, credCtlSize+unix.CmsgSpace(MaxFilesPerMessage*4))
		}
		if c.w.grabFn == nil {
			c.w.grabFn = c.grab
		}
		// The credentials, if any, go first, then SCM_RIGHTS.
		off := copy(c.w.fdctl, ctl)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c.w.fdctl[off]))
		h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_RIGHTS
		h.SetLen(unix.CmsgLen(nfd * 4))
		data := c.w.fdctl[off+unix.CmsgLen(0):]
		for i, fd := range m.FDs {
			*(*int32)(unsafe.Pointer(&data[4*i])) = int32(fd)
		}
		for i, f := range m.Files {
			fd, err := c.fileFD(f)
			if err != nil {
				return c.opErrTo(op, ptrAddr(to), fmt.Errorf("file %d of %d: %w", i+1, len(m.Files), err))
			}
			*(*int32)(unsafe.Pointer(&data[4*i])) = int32(fd)
		}
		ctl = c.w.fdctl[:off+unix.CmsgSpace(nfd*4)]
	}
	b, dummy := m.Buf, false
	if c.typ == Stream && len(b) == 0 {
		if nfd == 0 {
			return nil
		}
		// A stream carries descriptors only with data.
		b, dummy = c.w.one[:], true
	}
	n, err := c.sendLocked(op, b, to, ctl)
	// The files must stay open (no finalizer may close them) until the
	// kernel has taken its references.
	runtime.KeepAlive(m.Files)
	for err == nil && c.typ == Stream && n < len(b) {
		// Credentials and descriptors went with the first bytes; write
		// the rest as Write does.
		var k int
		k, err = c.sendLocked(op, b[n:], nil, nil)
		n += k
	}
	if !dummy {
		m.N = n
	}
	return err
}

// readMsg reads one message into m. No descriptor survives an error.
func (c *msgConn) readMsg(op string, m *Message) error {
	m.N, m.Len = 0, 0
	if m.Files != nil {
		m.Files = m.Files[:0]
	}
	if m.FDs != nil {
		m.FDs = m.FDs[:0]
	}
	var from *Addr
	if c.typ == Datagram {
		from = &m.Addr
	}
	room := cap(m.Files) + cap(m.FDs)
	switch {
	case cap(m.Files) > 0 && cap(m.FDs) > 0:
		return c.opErr(op, fmt.Errorf("%w: %w", ErrInvalidAddr, errFilesAndFDs))
	case m.Peek && room > 0:
		return c.opErr(op, fmt.Errorf("%w: %w", ErrInvalidAddr, errPeekFiles))
	}
	room = min(room, MaxFilesPerMessage)
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if m.Peek {
		return c.peekLocked(op, m, from)
	}
	var fds []int
	var ctl []byte
	switch {
	case room > 0:
		if c.r.fdctl == nil {
			c.r.fdctl = make([]byte, fdCtlExtra+unix.CmsgSpace((MaxFilesPerMessage+1)*4))
		}
		if cap(m.FDs) > 0 {
			fds = m.FDs[:room]
		} else {
			if c.r.fdint == nil {
				c.r.fdint = make([]int, MaxFilesPerMessage)
			}
			fds = c.r.fdint[:room]
		}
		// Room for one descriptor more than asked for, so that a message
		// with too many is seen, not silently cut by the kernel.
		ctl = c.r.fdctl[:fdCtlExtra+unix.CmsgSpace((room+1)*4)]
	default:
		// No room for descriptors, but control space all the same, so
		// that descriptors a peer sends anyway are seen, closed and
		// reported, not dropped unseen by the kernel.
		ctl = c.r.ctl[:]
	}
	b := m.Buf
	scratch := c.typ == Stream && len(b) == 0 && room > 0
	if scratch {
		// The NUL byte of a file-only stream message: reading no byte
		// would take the descriptors and leave the byte for the next read.
		b = c.r.one[:]
	}
	full, err := c.recvRaw(op, b, from, ctl, 0)
	if err != nil {
		return err
	}
	if m.Cred != nil {
		*m.Cred = Cred{}
	}
	nfd, seen, gotCred := walkControl(c.rctlUsed(ctl), fds, m.Cred)
	n, err := c.recvCheck(op, b, from, full)
	m.N, m.Len = n, full
	if te, ok := truncated(err); ok {
		m.Len = te.Len
	}
	if scratch {
		m.N, m.Len = 0, 0
	}
	if err == nil {
		if ctrunc := c.r.hdr.Flags&unix.MSG_CTRUNC != 0 && (room > 0 || seen > 0); ctrunc || seen > nfd {
			err = c.opErr(op, &TruncatedError{Len: m.Len, Buf: len(m.Buf), Files: seen, MaxFiles: room, Ctrunc: ctrunc})
		}
	}
	if err != nil {
		closeFDs(fds[:nfd])
		if m.Cred != nil {
			m.Cred.Close()
		}
		return err
	}
	if m.Cred != nil && !gotCred {
		// An error: the descriptors that came go too (see ReadMsg).
		closeFDs(fds[:nfd])
		m.Cred.Close()
		// IDs of -1 so that code that skips the error does not read root.
		*m.Cred = Cred{UID: -1, GID: -1}
		return c.opErr(op, ErrNoCredentials)
	}
	if cap(m.FDs) > 0 {
		m.FDs = m.FDs[:nfd]
	} else {
		for _, fd := range fds[:nfd] {
			m.Files = append(m.Files, os.NewFile(uintptr(fd), "scm-rights"))
		}
	}
	return nil
}

// rctlUsed returns the part of ctl the last receive filled.
func (c *msgConn) rctlUsed(ctl []byte) []byte {
	if len(ctl) == 0 {
		return nil
	}
	return ctl[:c.r.hdr.Controllen]
}

// peekLocked reads the next message into m without taking it off the
// queue. The caller holds rmu.
func (c *msgConn) peekLocked(op string, m *Message, from *Addr) error {
	var ctl []byte
	if (c.typ == SeqPacket && !c.zeroEOF.Load()) || m.Cred != nil {
		ctl = c.r.ctl[:]
	}
	b := m.Buf
	for {
		full, err := c.recvRaw(op, b, from, ctl, unix.MSG_PEEK)
		if err != nil {
			return err
		}
		credErr := parseControlInto(c.rctlUsed(ctl), m.Cred)
		n, err := c.recvCheck(op, b, from, full)
		te, cut := truncated(err)
		if err != nil && !cut {
			return err
		}
		m.N, m.Len = min(n, len(m.Buf)), full
		if cut {
			m.Len = te.Len
		}
		if m.Len < 0 && len(b) < 64<<20 {
			// The kernel does not tell the length (darwin): peek into
			// larger buffers until the message fits.
			b = make([]byte, max(64<<10, 4*len(b)))
			continue
		}
		if credErr != nil {
			return c.opErr(op, credErr)
		}
		return nil
	}
}

func closeFDs(fds []int) {
	for i, fd := range fds {
		unix.Close(fd)
		fds[i] = -1
	}
}

// msgConnPool holds msgConns for connections that are not uds types
// (a *net.UnixConn, an *os.File).
var msgConnPool = sync.Pool{New: func() any {
	m := new(msgConn)
	m.r.fn, m.w.fn = m.doRead, m.doWrite
	return m
}}

// foreignMsgConn returns a pooled msgConn for c, set to its socket type.
func foreignMsgConn(c syscall.Conn) (*msgConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	st, err := controlValue(rc, func(fd int) (int, error) {
		st, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err == unix.ENOTSOCK {
			return 0, fmt.Errorf("%w: the descriptor is not a socket", ErrNotSocket)
		}
		return st, os.NewSyscallError("getsockopt(SO_TYPE)", err)
	})
	if err != nil {
		return nil, err
	}
	typ, ok := unixSocketType(st)
	if !ok {
		return nil, fmt.Errorf("uds: socket type %d is not a Unix socket type", st)
	}
	m := msgConnPool.Get().(*msgConn)
	m.rc, m.typ, m.conn = rc, typ, true
	m.laddr, m.raddr = Addr{typ: typ}, Addr{typ: typ}
	return m, nil
}

func putMsgConn(m *msgConn) {
	m.rc = nil
	msgConnPool.Put(m)
}

func unixSocketType(st int) (SocketType, bool) {
	switch st {
	case unix.SOCK_STREAM:
		return Stream, true
	case unix.SOCK_SEQPACKET:
		return SeqPacket, true
	case unix.SOCK_DGRAM:
		return Datagram, true
	}
	return 0, false
}

func (po *pathOwner) setKeep(keep bool) { po.keep = keep }

func (c *msgConn) setUnlinkOnClose(unlink bool) {
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.owner != nil {
		c.owner.setKeep(!unlink)
	}
}

// dupFile duplicates c's descriptor, close-on-exec, without the blocking
// switch of f.Fd or net's File.
func dupFile(c syscall.Conn, a Addr) (*os.File, error) {
	fd, err := fdutil.Dup(c)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), a.String()), nil
}

// fileSocket duplicates the descriptor in f and checks that it is a Unix
// socket of one of the types want that listens (or not). It returns the new
// descriptor, non-blocking, and the socket's exact addresses, whose type is
// the socket's; peer reports whether it has a peer.
func fileSocket(f *os.File, listening bool, want ...SocketType) (fd int, laddr, raddr Addr, peer bool, err error) {
	if f == nil {
		return -1, Addr{}, Addr{}, false, os.ErrInvalid
	}
	dup, err := fdutil.Dup(f)
	if err != nil {
		return -1, Addr{}, Addr{}, false, err
	}
	laddr, raddr, peer, err = checkSocket(dup, f.Name(), listening, want...)
	if err != nil {
		unix.Close(dup)
		return -1, Addr{}, Addr{}, false, err
	}
	return dup, laddr, raddr, peer, nil
}

// checkSocket checks that fd is a Unix socket of one of the types want
// that listens (or not), makes it non-blocking and reads its addresses.
func checkSocket(fd int, name string, listening bool, want ...SocketType) (laddr, raddr Addr, peer bool, err error) {
	dom, err := socketDomain(fd)
	if err == unix.ENOTSOCK {
		return Addr{}, Addr{}, false, fmt.Errorf("%w: %s is not a socket", ErrNotSocket, name)
	}
	if err != nil {
		return Addr{}, Addr{}, false, err
	}
	if dom != unix.AF_UNIX {
		return Addr{}, Addr{}, false, fmt.Errorf("%w: %s is a socket of address family %d, not a Unix socket", ErrNotSocket, name, dom)
	}
	st, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return Addr{}, Addr{}, false, os.NewSyscallError("getsockopt(SO_TYPE)", err)
	}
	typ, ok := unixSocketType(st)
	if !ok || !slices.Contains(want, typ) {
		what := fmt.Sprintf("type %d", st)
		if ok {
			what = typ.String()
		}
		return Addr{}, Addr{}, false, fmt.Errorf("%s is a %s socket, not a %s socket", name, what, typeList(want))
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return Addr{}, Addr{}, false, os.NewSyscallError("getsockopt(SO_ACCEPTCONN)", err)
	}
	switch {
	case listening && acc == 0:
		return Addr{}, Addr{}, false, fmt.Errorf("%s is a %s socket that is not listening", name, typ)
	case !listening && acc != 0:
		return Addr{}, Addr{}, false, fmt.Errorf("%s is a listening %s socket, not a connection", name, typ)
	}
	if err = unix.SetNonblock(fd, true); err != nil {
		return Addr{}, Addr{}, false, os.NewSyscallError("setnonblock", err)
	}
	if laddr, err = sysGetsockname(fd, typ); err != nil {
		return Addr{}, Addr{}, false, os.NewSyscallError("getsockname", err)
	}
	if listening {
		return laddr, Addr{}, false, nil
	}
	raddr, err = sysGetpeername(fd, typ)
	switch {
	case err == nil:
		return laddr, raddr, true, nil
	case err == unix.ENOTCONN && typ == Datagram:
		return laddr, Addr{}, false, nil
	case err == unix.ENOTCONN:
		return Addr{}, Addr{}, false, fmt.Errorf("%s is a %s socket that is not connected", name, typ)
	}
	return Addr{}, Addr{}, false, os.NewSyscallError("getpeername", err)
}

func fileOpError(typ SocketType, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: "file", Net: typ.network(), Err: err}
}

// typeList names socket types for an error: "stream or seqpacket".
func typeList(ts []SocketType) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString(t.String())
	}
	return b.String()
}

func fileListener(f *os.File) (*Listener, error) {
	fd, laddr, _, _, err := fileSocket(f, true, Stream, SeqPacket)
	if err != nil {
		return nil, fileOpError(Stream, err)
	}
	nf := os.NewFile(uintptr(fd), laddr.String())
	nl, err := net.FileListener(nf)
	nf.Close()
	if err != nil {
		return nil, fileOpError(laddr.typ, err)
	}
	ul, ok := nl.(*net.UnixListener)
	if !ok {
		nl.Close()
		return nil, fileOpError(laddr.typ, fmt.Errorf("descriptor is a %T, not a Unix listener", nl))
	}
	ul.SetUnlinkOnClose(false)
	return &Listener{ln: ul, addr: laddr}, nil
}

func fileConn(f *os.File) (*Conn, error) {
	fd, laddr, raddr, _, err := fileSocket(f, false, Stream, SeqPacket)
	if err != nil {
		return nil, fileOpError(Stream, err)
	}
	typ := laddr.typ
	uc, err := fdToUnixConn(fd, laddr.String())
	if err != nil {
		return nil, fileOpError(typ, err)
	}
	var c *Conn
	if typ == SeqPacket {
		var m *msgConn
		if m, err = newMsgConn(uc, typ, laddr, raddr, true, false); err == nil {
			c = seqConn(m)
		}
	} else {
		c, err = newConn(uc, laddr, raddr, false)
	}
	if err != nil {
		uc.Close()
		return nil, fileOpError(typ, err)
	}
	return c, nil
}

func fileMsgConn(f *os.File, typ SocketType) (*msgConn, error) {
	fd, laddr, raddr, peer, err := fileSocket(f, false, typ)
	if err != nil {
		return nil, fileOpError(typ, err)
	}
	uc, err := fdToUnixConn(fd, laddr.String())
	if err != nil {
		return nil, fileOpError(typ, err)
	}
	m, err := newMsgConn(uc, typ, laddr, raddr, peer, false)
	if err != nil {
		uc.Close()
		return nil, fileOpError(typ, err)
	}
	return m, nil
}
