package uds

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// What Linux has, in one place: the limits of addresses and the behaviour of
// its socket calls that the rest of the package adapts to (see
// docs/ARCHITECTURE.md, "Platform files").

// MaxPathLen is the longest path, in bytes, that fits in sun_path with its
// terminating NUL: 107 on Linux, 103 on darwin and FreeBSD. It is also the
// longest abstract name on Linux. On Linux longer paths still work: uds
// binds and connects them through the parent directory's descriptor
// (/proc/self/fd/N/name).
const MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

const (
	// maxAbstractLen is the longest abstract name, in bytes: the whole of
	// sun_path after the leading NUL.
	maxAbstractLen    = len(unix.RawSockaddrUnix{}.Path) - 1
	abstractSupported = true

	// fchmodBeforeBind: Linux creates the socket file with the socket
	// inode's mode less the umask, so the mode can be set before bind.
	fchmodBeforeBind = true

	// sendFlags keeps a write to a closed peer from raising SIGPIPE.
	sendFlags = unix.MSG_NOSIGNAL
	// recvCloexec makes received descriptors close-on-exec atomically.
	recvCloexec = unix.MSG_CMSG_CLOEXEC
	// recvTrunc asks for a datagram's full length even when it was cut.
	recvTrunc = unix.MSG_TRUNC
	// recvfromReportsLen: recvfrom with MSG_TRUNC returns a datagram's full
	// length, so reads without control data need no msghdr.
	recvfromReportsLen = true

	// emptyMsgWithFDs: the kernel passes descriptors on an empty SEQPACKET
	// or DGRAM message.
	emptyMsgWithFDs = true

	// cmsgAlignTo is the alignment of control messages (CMSG_ALIGN).
	cmsgAlignTo = int(unsafe.Sizeof(uintptr(0)))
)
