package uds

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// darwin: system calls go through libSystem (x/sys/unix's wrappers), as
// Apple requires and package net does. There is no SOCK_CLOEXEC,
// SOCK_NONBLOCK, MSG_CMSG_CLOEXEC or MSG_NOSIGNAL: sockets are made under
// syscall.ForkLock and marked close-on-exec before a fork can copy them,
// received descriptors likewise, and SO_NOSIGPIPE is set on every socket uds
// creates. The message paths allocate (the wrappers decode each sender's
// address into a unix.Sockaddr).

// openDir opens dir for the *at calls. darwin has no O_PATH: the directory
// must be readable.
func openDir(dir string) (int, error) {
	return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// systemSomaxconn reads the kernel's cap on listen backlogs.
func systemSomaxconn() int {
	n, err := unix.SysctlUint32("kern.ipc.somaxconn")
	if err != nil {
		return 0
	}
	return int(n)
}

// prepSocket makes a new socket non-blocking and keeps writes to a closed
// peer from raising SIGPIPE.
func prepSocket(fd int, nonblock bool) error {
	if nonblock {
		if err := unix.SetNonblock(fd, true); err != nil {
			return err
		}
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

// newSocket creates a non-blocking, close-on-exec Unix socket of type typ.
func newSocket(typ SocketType) (int, error) {
	return newSocketBlocking(typ, false)
}

// newHandoffSocket creates a close-on-exec Unix socket of type typ that is
// still blocking, for sockets handed to package net through os.NewFile.
func newHandoffSocket(typ SocketType) (int, error) {
	return newSocketBlocking(typ, true)
}

func newSocketBlocking(typ SocketType, blocking bool) (int, error) {
	if typ == SeqPacket {
		return -1, unsupported("SOCK_SEQPACKET")
	}
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_UNIX, sockType(typ), 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := prepSocket(fd, !blocking); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// newSocketpair creates a close-on-exec socket pair of type typ,
// non-blocking if asked.
func newSocketpair(typ SocketType, nonblock bool) ([2]int, error) {
	if typ == SeqPacket {
		return [2]int{-1, -1}, unsupported("SOCK_SEQPACKET")
	}
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, sockType(typ), 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fds, err
	}
	for _, fd := range fds {
		if err := prepSocket(fd, nonblock); err != nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
			return [2]int{-1, -1}, err
		}
	}
	return fds, nil
}

// prepMsgSocket readies a socket for msgConn: sockets uds did
// not create (accepted, inherited) get SO_NOSIGPIPE too.
func prepMsgSocket(fd int, _ SocketType) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1); err != nil {
		return os.NewSyscallError("setsockopt(SO_NOSIGPIPE)", err)
	}
	return nil
}

// setRecvTimestamp does nothing: darwin has no SEQPACKET sockets, the only
// ones that use it.
func setRecvTimestamp(int, bool) error { return nil }

func errnoOf(err error) syscall.Errno {
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return unix.EINVAL
}

func iovBytes(iov *unix.Iovec) []byte {
	if iov.Base == nil {
		return nil
	}
	return unsafe.Slice(iov.Base, int(iov.Len))
}

// sysRecv is one recvmsg for c's read header, through libSystem.
func (c *msgConn) sysRecv(fd uintptr) (uintptr, syscall.Errno) {
	p := iovBytes(&c.r.iov)
	var oob []byte
	if c.r.hdr.Control != nil && c.r.hdr.Controllen > 0 {
		oob = unsafe.Slice(c.r.hdr.Control, int(c.r.hdr.Controllen))
	}
	var one [1]byte
	scratch := false
	if len(p) == 0 && len(oob) > 0 {
		// The wrapper would read a hidden byte of its own; read it here,
		// to tell an empty message from one that did not fit.
		p, scratch = one[:], true
	}
	if len(oob) > 0 {
		// No fork may copy the descriptors before they are close-on-exec.
		syscall.ForkLock.RLock()
	}
	n, oobn, flags, from, err := unix.Recvmsg(int(fd), p, oob, int(c.r.flags))
	if len(oob) > 0 {
		if err == nil && oobn > 0 {
			cloexecRights(oob[:min(oobn, len(oob))])
		}
		syscall.ForkLock.RUnlock()
	}
	if err != nil {
		return 0, errnoOf(err)
	}
	c.r.hdr.Controllen = uint32(min(oobn, len(oob)))
	c.r.hdr.Flags = int32(flags)
	if scratch && n > 0 {
		n = 0
		c.r.hdr.Flags |= unix.MSG_TRUNC
	}
	if c.r.hdr.Name != nil {
		c.r.hdr.Namelen = 0
		if su, ok := from.(*unix.SockaddrUnix); ok && su.Name != "" && len(su.Name) <= MaxPathLen {
			n, _ := encodeSockaddr(Path(su.Name), &c.r.name)
			c.r.hdr.Namelen = n
		}
	}
	return uintptr(n), 0
}

// cloexecRights marks every descriptor in the SCM_RIGHTS messages of ctl
// close-on-exec. A header that claims more than arrived (darwin can leave
// cmsg_len untruncated) is read as far as the data goes.
func cloexecRights(ctl []byte) {
	for len(ctl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		if h.Len < unix.SizeofCmsghdr {
			return
		}
		end := cmsgEnd(h, len(ctl))
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_RIGHTS {
			data := ctl[min(cmsgDataOff, end):end]
			for i := 0; i+4 <= len(data); i += 4 {
				unix.CloseOnExec(int(*(*int32)(unsafe.Pointer(&data[i]))))
			}
		}
		next := cmsgAlign(end)
		if next > len(ctl) {
			return
		}
		ctl = ctl[next:]
	}
}

// sysSend is one sendmsg for c's write header, through libSystem.
func (c *msgConn) sysSend(fd uintptr) (uintptr, syscall.Errno) {
	p := iovBytes(&c.w.iov)
	var oob []byte
	if c.w.hdr.Control != nil && c.w.hdr.Controllen > 0 {
		oob = unsafe.Slice(c.w.hdr.Control, int(c.w.hdr.Controllen))
	}
	var to unix.Sockaddr
	if c.w.hdr.Name != nil {
		to = &unix.SockaddrUnix{Name: decodeSockaddr(&c.w.name, c.w.hdr.Namelen, c.typ).name}
	}
	n, err := unix.SendmsgN(int(fd), p, oob, to, sendFlags)
	if err != nil {
		return 0, errnoOf(err)
	}
	return uintptr(n), 0
}

// sockaddrOf converts a to the wrapper's form, checking it as
// encodeSockaddr does.
func sockaddrOf(a Addr) (unix.Sockaddr, error) {
	var sa unix.RawSockaddrUnix
	if _, err := encodeSockaddr(a, &sa); err != nil {
		return nil, err
	}
	return &unix.SockaddrUnix{Name: a.name}, nil
}

// sysBind binds fd to a.
func sysBind(fd int, a Addr) error {
	sa, err := sockaddrOf(a)
	if err != nil {
		return err
	}
	return unix.Bind(fd, sa)
}

// sysConnect connects fd to a.
func sysConnect(fd int, a Addr) error {
	sa, err := sockaddrOf(a)
	if err != nil {
		return err
	}
	return unix.Connect(fd, sa)
}

func addrOf(sa unix.Sockaddr, err error, typ SocketType) (Addr, error) {
	if err == unix.EAFNOSUPPORT {
		// No address at all: an unnamed socket.
		return Addr{typ: typ}, nil
	}
	if err != nil {
		return Addr{}, err
	}
	if su, ok := sa.(*unix.SockaddrUnix); ok && su.Name != "" {
		return Path(su.Name).WithType(typ), nil
	}
	return Addr{typ: typ}, nil
}

// sysGetsockname returns fd's own address.
func sysGetsockname(fd int, typ SocketType) (Addr, error) {
	sa, err := unix.Getsockname(fd)
	return addrOf(sa, err, typ)
}

// sysGetpeername returns the address of fd's peer.
func sysGetpeername(fd int, typ SocketType) (Addr, error) {
	sa, err := unix.Getpeername(fd)
	return addrOf(sa, err, typ)
}

// socketDomain returns fd's address family: darwin has no SO_DOMAIN, so it
// is read from the socket's own address.
func socketDomain(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	switch {
	case err == unix.ENOTSOCK:
		return 0, err
	case err != nil:
		return 0, os.NewSyscallError("getsockname", err)
	}
	switch sa.(type) {
	case *unix.SockaddrUnix:
		return unix.AF_UNIX, nil
	case *unix.SockaddrInet4:
		return unix.AF_INET, nil
	case *unix.SockaddrInet6:
		return unix.AF_INET6, nil
	}
	return -1, nil
}
