package uds

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// What FreeBSD has, in one place: the limits of addresses and the behaviour of
// its socket calls that the rest of the package adapts to (see
// docs/ARCHITECTURE.md, "Platform files").

// MaxPathLen is the longest path, in bytes, that fits in sun_path with its
// terminating NUL: 103 on FreeBSD. Longer paths are rejected with
// ErrInvalidAddr (Linux's /proc/self/fd trick does not exist here).
const MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

const (
	// No abstract namespace.
	maxAbstractLen    = 0
	abstractSupported = false

	// fchmodBeforeBind: the socket file is created with 0777 less the umask
	// whatever the socket's mode, so the mode is set right after bind
	// (before listen for stream and seqpacket sockets).
	fchmodBeforeBind = false

	// sendFlags keeps a write to a closed peer from raising SIGPIPE.
	sendFlags = unix.MSG_NOSIGNAL
	// recvCloexec makes received descriptors close-on-exec atomically.
	recvCloexec = unix.MSG_CMSG_CLOEXEC
	// recvTrunc asks for a datagram's full length even when it was cut.
	recvTrunc = unix.MSG_TRUNC
	// recvfromReportsLen is false: a read always goes through recvmsg,
	// whose msg_flags say whether a message was cut even if the kernel does
	// not return its full length for MSG_TRUNC.
	recvfromReportsLen = false

	// emptyMsgWithFDs: the kernel passes descriptors on an empty SEQPACKET
	// or DGRAM message.
	emptyMsgWithFDs = true

	// cmsgAlignTo is the alignment of control messages (CMSG_ALIGN).
	cmsgAlignTo = int(unsafe.Sizeof(uintptr(0)))
)
