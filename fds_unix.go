//go:build linux || darwin || freebsd

package uds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdCtlExtra is the control space kept, on top of the descriptors', for the
// control messages the kernel puts before SCM_RIGHTS: a timestamp
// (SO_TIMESTAMP, 32 bytes), credentials (SO_PASSCRED, 32), a PIDFD
// (SO_PASSPIDFD, 24) and a security label (SO_PASSSEC).
const fdCtlExtra = 192

// filesTruncatedError reports descriptors that could not all be received.
type filesTruncatedError struct {
	arrived int  // descriptors that reached this process (all closed)
	max     int  // the caller's maximum
	ctrunc  bool // the kernel set MSG_CTRUNC
}

func (e *filesTruncatedError) Error() string {
	if e.ctrunc {
		return fmt.Sprintf("descriptors truncated: the kernel could not deliver them all "+
			"(MSG_CTRUNC: no control space, or RLIMIT_NOFILE reached); the %d that arrived were closed", e.arrived)
	}
	return fmt.Sprintf("descriptors truncated: the message carried at least %d descriptors, more than the %d allowed; all were closed",
		e.arrived, e.max)
}

func (e *filesTruncatedError) Is(target error) bool { return target == ErrTruncated }

func tooManyFiles(n int) error {
	return fmt.Errorf("%d descriptors in one message: the kernel passes at most %d per message (SCM_MAX_FD); nothing was sent: %w",
		n, MaxFilesPerMessage, syscall.EINVAL)
}

func (c *msgConn) grab(fd uintptr) { c.wgrab = int(fd) }

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
	c.wgrab = -1
	if err := rc.Control(c.grabFn); err != nil {
		return -1, err
	}
	return c.wgrab, nil
}

// sendFDs sends b with the descriptors fds or those of files (one of them is
// empty) attached, to the connected peer or to to.
func (c *msgConn) sendFDs(op string, b []byte, to *Addr, fds []int, files []*os.File) (int, error) {
	nfd := len(fds) + len(files)
	if nfd > MaxFilesPerMessage {
		return 0, c.opErrTo(op, ptrAddr(to), tooManyFiles(nfd))
	}
	if !emptyMsgWithFDs && c.typ != Stream && len(b) == 0 && nfd > 0 {
		return 0, c.opErrTo(op, ptrAddr(to), unsupported("descriptors on an empty message (darwin's sendmsg would add a byte)"))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var ctl []byte
	if nfd > 0 {
		if c.wfdctl == nil {
			c.wfdctl = make([]byte, unix.CmsgSpace(MaxFilesPerMessage*4))
		}
		if c.grabFn == nil {
			c.grabFn = c.grab
		}
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c.wfdctl[0]))
		h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_RIGHTS
		h.SetLen(unix.CmsgLen(nfd * 4))
		data := c.wfdctl[unix.CmsgLen(0):]
		for i, fd := range fds {
			*(*int32)(unsafe.Pointer(&data[4*i])) = int32(fd)
		}
		for i, f := range files {
			fd, err := c.fileFD(f)
			if err != nil {
				return 0, c.opErrTo(op, ptrAddr(to), fmt.Errorf("file %d of %d: %w", i+1, len(files), err))
			}
			*(*int32)(unsafe.Pointer(&data[4*i])) = int32(fd)
		}
		ctl = c.wfdctl[:unix.CmsgSpace(nfd*4)]
	}
	dummy := false
	if c.typ == Stream && len(b) == 0 && nfd > 0 {
		// A stream carries descriptors only with data.
		b, dummy = c.wone[:], true
	}
	n, err := c.sendLocked(op, b, to, ctl)
	// The files must stay open (no finalizer may close them) until the
	// kernel has taken its references.
	runtime.KeepAlive(files)
	for err == nil && c.typ == Stream && n < len(b) {
		// The descriptors went with the first bytes; write the rest as
		// Write does.
		var m int
		m, err = c.sendLocked(op, b[n:], nil, nil)
		n += m
	}
	if dummy {
		n = 0
	}
	return n, err
}

// recvFDs reads data into b and at most len(fds) descriptors into fds.
func (c *msgConn) recvFDs(op string, b []byte, from *Addr, fds []int) (n, nfd int, err error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.recvFDsLocked(op, b, from, fds)
}

// recvFiles reads data into b and at most maxFiles descriptors, as files.
func (c *msgConn) recvFiles(op string, b []byte, from *Addr, maxFiles int) (int, []*os.File, error) {
	if maxFiles < 0 || maxFiles > MaxFilesPerMessage {
		return 0, nil, c.opErr(op, fmt.Errorf("maxFiles is %d; it must be between 0 and %d (the kernel's limit per message)", maxFiles, MaxFilesPerMessage))
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rfdint == nil {
		c.rfdint = make([]int, MaxFilesPerMessage)
	}
	n, nfd, err := c.recvFDsLocked(op, b, from, c.rfdint[:maxFiles])
	if nfd == 0 {
		return n, nil, err
	}
	files := make([]*os.File, nfd)
	for i := range files {
		files[i] = os.NewFile(uintptr(c.rfdint[i]), "scm-rights")
	}
	return n, files, err
}

// recvFDsLocked is recvFDs with rmu held. No descriptor survives an error.
func (c *msgConn) recvFDsLocked(op string, b []byte, from *Addr, fds []int) (int, int, error) {
	if len(fds) > MaxFilesPerMessage {
		fds = fds[:MaxFilesPerMessage]
	}
	if c.rfdctl == nil {
		c.rfdctl = make([]byte, fdCtlExtra+unix.CmsgSpace((MaxFilesPerMessage+1)*4))
	}
	scratch := c.typ == Stream && len(b) == 0
	if scratch {
		// The NUL byte of a file-only stream message: reading no byte
		// would take the descriptors and leave the byte for the next Read.
		b = c.rone[:]
	}
	// Room for one descriptor more than asked for, so that a message with
	// too many is seen, not silently cut by the kernel.
	full, err := c.recvRaw(op, b, from, c.rfdctl[:fdCtlExtra+unix.CmsgSpace((len(fds)+1)*4)], 0)
	if err != nil {
		return 0, 0, err
	}
	nfd, seen, _ := walkControl(c.rfdctl[:c.rhdr.Controllen], fds, nil)
	if n, err := c.recvCheck(op, b, from, full); err != nil {
		closeFDs(fds[:nfd])
		return n, 0, err
	}
	if scratch {
		full = 0
	}
	if ctrunc := c.rhdr.Flags&unix.MSG_CTRUNC != 0; ctrunc || seen > nfd {
		closeFDs(fds[:nfd])
		return full, 0, c.opErr(op, &filesTruncatedError{arrived: seen, max: len(fds), ctrunc: ctrunc})
	}
	return full, nfd, nil
}

func closeFDs(fds []int) {
	for i, fd := range fds {
		unix.Close(fd)
		fds[i] = -1
	}
}

// enginePool holds message engines for connections that are not uds types
// (a *net.UnixConn, an *os.File).
var enginePool = sync.Pool{New: func() any {
	m := new(msgConn)
	m.readFn, m.writeFn = m.doRead, m.doWrite
	return m
}}

// foreignEngine returns a pooled engine for c, set to its socket type.
func foreignEngine(c syscall.Conn) (*msgConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var st int
	var serr error
	if err := rc.Control(func(fd uintptr) { st, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) }); err != nil {
		return nil, err
	}
	if serr != nil {
		if serr == unix.ENOTSOCK {
			return nil, fmt.Errorf("%w: the descriptor is not a socket", ErrNotSocket)
		}
		return nil, os.NewSyscallError("getsockopt(SO_TYPE)", serr)
	}
	typ, ok := unixSocketType(st)
	if !ok {
		return nil, fmt.Errorf("uds: socket type %d is not a Unix socket type", st)
	}
	m := enginePool.Get().(*msgConn)
	m.rc, m.typ, m.conn = rc, typ, true
	m.laddr, m.raddr = Addr{typ: typ}, Addr{typ: typ}
	return m, nil
}

func putEngine(m *msgConn) {
	m.rc = nil
	enginePool.Put(m)
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
	fd, err := dupFD(c)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), a.String()), nil
}

// dupFD returns a new close-on-exec descriptor for c's.
func dupFD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var serr error
	if err := rc.Control(func(s uintptr) { fd, serr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", serr)
	}
	return fd, nil
}

// fileSocket duplicates the descriptor in f and checks that it is a Unix
// socket of type typ that listens (or not). It returns the new descriptor,
// non-blocking, and the socket's exact addresses; peer reports whether it
// has a peer.
func fileSocket(f *os.File, typ SocketType, listening bool) (fd int, laddr, raddr Addr, peer bool, err error) {
	if f == nil {
		return -1, Addr{}, Addr{}, false, os.ErrInvalid
	}
	dup, err := dupFD(f)
	if err != nil {
		return -1, Addr{}, Addr{}, false, err
	}
	laddr, raddr, peer, err = checkSocket(dup, f.Name(), typ, listening)
	if err != nil {
		unix.Close(dup)
		return -1, Addr{}, Addr{}, false, err
	}
	return dup, laddr, raddr, peer, nil
}

// checkSocket checks that fd is a Unix socket of type typ that listens (or
// not), makes it non-blocking and reads its addresses.
func checkSocket(fd int, name string, typ SocketType, listening bool) (laddr, raddr Addr, peer bool, err error) {
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
	if got, ok := unixSocketType(st); !ok || got != typ {
		what := fmt.Sprintf("type %d", st)
		if ok {
			what = got.String()
		}
		return Addr{}, Addr{}, false, fmt.Errorf("%s is a %s socket, not a %s socket", name, what, typ)
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
	return &net.OpError{Op: "file", Net: typ.Network(), Err: err}
}

func fileListener(f *os.File, typ SocketType, l *baseListener) error {
	fd, laddr, _, _, err := fileSocket(f, typ, true)
	if err != nil {
		return fileOpError(typ, err)
	}
	nf := os.NewFile(uintptr(fd), laddr.String())
	nl, err := net.FileListener(nf)
	nf.Close()
	if err != nil {
		return fileOpError(typ, err)
	}
	ul, ok := nl.(*net.UnixListener)
	if !ok {
		nl.Close()
		return fileOpError(typ, fmt.Errorf("descriptor is a %T, not a Unix listener", nl))
	}
	ul.SetUnlinkOnClose(false)
	l.ln, l.addr = ul, laddr
	return nil
}

func fileConn(f *os.File) (*Conn, error) {
	fd, laddr, raddr, _, err := fileSocket(f, Stream, false)
	if err != nil {
		return nil, fileOpError(Stream, err)
	}
	uc, err := fdToUnixConn(fd, laddr.String())
	if err != nil {
		return nil, fileOpError(Stream, err)
	}
	c, err := newConn(uc, laddr, raddr, false, false)
	if err != nil {
		uc.Close()
		return nil, fileOpError(Stream, err)
	}
	return c, nil
}

func fileMsgConn(f *os.File, typ SocketType) (*msgConn, error) {
	fd, laddr, raddr, peer, err := fileSocket(f, typ, false)
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
