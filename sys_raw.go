//go:build linux || freebsd

package uds

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux and FreeBSD: the system calls are made directly, as package syscall
// does there, with the exact address lengths and no allocation. (darwin goes
// through libSystem instead: sys_darwin.go. No platform suffix names this
// pair, hence the file's own constraint; see docs/ARCHITECTURE.md.)

// sysRecv is one recvmsg (or recvfrom) for c's read header.
func (c *msgConn) sysRecv(fd uintptr) (uintptr, syscall.Errno) {
	if c.r.hdr.Control == nil && recvfromReportsLen {
		// No control data wanted: recvfrom takes one buffer and
		// spares the kernel copying in a msghdr and an iovec.
		var namelen uintptr
		if c.r.hdr.Name != nil {
			namelen = uintptr(unsafe.Pointer(&c.r.hdr.Namelen))
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(c.r.iov.Base)), uintptr(c.r.iov.Len),
			c.r.flags, uintptr(unsafe.Pointer(c.r.hdr.Name)), namelen)
		return r, e
	}
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.r.hdr)), c.r.flags)
	return r, e
}

// sysSend is one sendmsg (or sendto) for c's write header.
func (c *msgConn) sysSend(fd uintptr) (uintptr, syscall.Errno) {
	if c.w.hdr.Control == nil {
		// No control data: sendto takes one buffer, cheaper than a
		// msghdr for the kernel. MSG_NOSIGNAL as for sendmsg.
		r, _, e := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(c.w.iov.Base)), uintptr(c.w.iov.Len),
			sendFlags, uintptr(unsafe.Pointer(c.w.hdr.Name)), uintptr(c.w.hdr.Namelen))
		return r, e
	}
	r, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&c.w.hdr)), sendFlags)
	return r, e
}

// newSocket creates a non-blocking, close-on-exec Unix socket of type typ.
func newSocket(typ SocketType) (int, error) {
	return unix.Socket(unix.AF_UNIX, sockType(typ)|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// newHandoffSocket creates a close-on-exec Unix socket of type typ that is
// still blocking: it is for sockets handed to package net through os.NewFile,
// which then neither registers the descriptor with the poller nor switches it
// back to blocking before net.FileListener or net.FileConn duplicates it (and
// makes the duplicate non-blocking): three system calls fewer per Listen.
func newHandoffSocket(typ SocketType) (int, error) {
	return unix.Socket(unix.AF_UNIX, sockType(typ)|unix.SOCK_CLOEXEC, 0)
}

// newSocketpair creates a close-on-exec socket pair of type typ,
// non-blocking if asked.
func newSocketpair(typ SocketType, nonblock bool) ([2]int, error) {
	flags := unix.SOCK_CLOEXEC
	if nonblock {
		flags |= unix.SOCK_NONBLOCK
	}
	return unix.Socketpair(unix.AF_UNIX, sockType(typ)|flags, 0)
}

// prepMsgSocket readies a socket for msgConn.
func prepMsgSocket(fd int, typ SocketType) error {
	if typ == SeqPacket {
		// A timestamp rides on every message, so a zero-length read
		// that carries none is the end of the stream, and one that
		// carries one is an empty message.
		return setRecvTimestamp(fd, true)
	}
	return nil
}

// setRecvTimestamp sets SO_TIMESTAMP.
func setRecvTimestamp(fd int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMP, v); err != nil {
		return os.NewSyscallError("setsockopt(SO_TIMESTAMP)", err)
	}
	return nil
}

// sockaddrSyscall makes bind or connect (trap) of fd to a with the exact
// address length.
func sockaddrSyscall(trap uintptr, fd int, a Addr) error {
	var sa unix.RawSockaddrUnix
	n, err := encodeSockaddr(a, &sa)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(n))
	if e != 0 {
		return e
	}
	return nil
}

// sysBind binds fd to a with the exact address length.
func sysBind(fd int, a Addr) error { return sockaddrSyscall(unix.SYS_BIND, fd, a) }

// sysConnect connects fd to a with the exact address length.
func sysConnect(fd int, a Addr) error { return sockaddrSyscall(unix.SYS_CONNECT, fd, a) }

func sockname(trap uintptr, fd int, typ SocketType) (Addr, error) {
	var sa unix.RawSockaddrUnix
	n := uint32(unsafe.Sizeof(sa))
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return Addr{}, e
	}
	return decodeSockaddr(&sa, n, typ), nil
}

// sysGetsockname returns fd's own address exactly.
func sysGetsockname(fd int, typ SocketType) (Addr, error) {
	return sockname(unix.SYS_GETSOCKNAME, fd, typ)
}

// sysGetpeername returns the address of fd's peer exactly.
func sysGetpeername(fd int, typ SocketType) (Addr, error) {
	return sockname(unix.SYS_GETPEERNAME, fd, typ)
}
