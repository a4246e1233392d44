package uds

import "golang.org/x/sys/unix"

// What darwin has, in one place: the limits of addresses and the behaviour of
// its socket calls that the rest of the package adapts to (see
// docs/ARCHITECTURE.md, "Platform files").

// MaxPathLen is the longest path, in bytes, that fits in sun_path with its
// terminating NUL: 103 on darwin. Longer paths are rejected with
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

	// No MSG_NOSIGNAL (SO_NOSIGPIPE is set on every socket instead) and no
	// MSG_CMSG_CLOEXEC (received descriptors are marked under
	// syscall.ForkLock).
	sendFlags   = 0
	recvCloexec = 0
	// recvTrunc is 0: darwin does not return a datagram's full length;
	// msg_flags' MSG_TRUNC says that it was cut.
	recvTrunc = 0

	// emptyMsgWithFDs: the libSystem path adds a byte to a message that
	// carries descriptors and no data, so uds refuses to send one on a
	// datagram socket rather than change the message.
	emptyMsgWithFDs = false

	// cmsgAlignTo is the alignment of control messages: 4 bytes on darwin,
	// even on 64-bit systems.
	cmsgAlignTo = 4
)
