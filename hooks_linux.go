package uds

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux side of the shared socket code (listen_unix.go, stale_unix.go,
// probe_unix.go, msgconn_unix.go, fds_unix.go): the things only Linux has,
// sock_diag, SO_PEERCRED, O_PATH and /proc among them.

const (
	// fchmodBeforeBind: Linux creates the socket file with the socket
	// inode's mode less the umask, so the mode can be set before bind.
	fchmodBeforeBind = true

	// lockTableReadable: /proc/locks names the holder of a flock.
	lockTableReadable = true

	// recvfromReportsLen: recvfrom with MSG_TRUNC returns a datagram's full
	// length, so reads without control data need no msghdr.
	recvfromReportsLen = true
)

// setSunLen does nothing: Linux's sockaddr_un has no length field.
func setSunLen(*unix.RawSockaddrUnix, uint32) {}

// openDir opens dir as an O_PATH descriptor, for the *at calls and the
// /proc/self/fd/N/name form of long paths.
func openDir(dir string) (int, error) {
	return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// systemSomaxconn reads the kernel's cap on listen backlogs.
func systemSomaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// probePeerPID returns the PID of the listener a probe connected to
// (SO_PEERCRED), 0 if it cannot be read.
func probePeerPID(fd int) int {
	if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
		return int(cred.Pid)
	}
	return 0
}

// bindInUse explains EADDRINUSE from bind: for an abstract name, who holds it.
func bindInUse(a Addr, typ SocketType, cause error) error {
	if a.kind != KindAbstract {
		return &InUseError{How: "bound by another process during setup", Err: cause}
	}
	r, _ := probeAbstract(a.WithType(typ))
	return &InUseError{PID: r.PID, How: "abstract name bound", Err: cause}
}

// probeAbstract tells whether a socket of a's type is bound to the abstract
// name. A datagram socket is never connected to (that would make it our
// peer and change its state): sock_diag is asked instead.
func probeAbstract(a Addr) (ProbeResult, error) {
	if a.typ == Datagram {
		match, err := abstractBound(a.name, unix.SOCK_DGRAM)
		if err != nil {
			return ProbeResult{}, fmt.Errorf("%w: a datagram socket is found only through sock_diag, which cannot be asked: %w", ErrUnverified, err)
		}
		if len(match) == 0 {
			return ProbeResult{State: ProbeMissing}, nil
		}
		return ProbeResult{State: ProbeLive, PID: holderPID(match), Detail: "bound"}, nil
	}
	fd, err := newSocket(a.typ)
	if err != nil {
		return ProbeResult{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	switch err := sysConnect(fd, a); err {
	case nil:
		return ProbeResult{State: ProbeLive, PID: probePeerPID(fd), Detail: "accepting connections"}, nil
	case unix.EAGAIN, unix.EPROTOTYPE, unix.ECONNREFUSED:
		how := "bound, not listening"
		switch err {
		case unix.EAGAIN:
			how = "listening, backlog full"
		case unix.EPROTOTYPE:
			how = "socket of another type"
		}
		// Each socket type has its own abstract namespace.
		match, derr := abstractBound(a.name, sockType(a.typ))
		if err == unix.ECONNREFUSED && (derr != nil || len(match) == 0) {
			return ProbeResult{State: ProbeMissing}, nil
		}
		return ProbeResult{State: ProbeLive, PID: holderPID(match), Detail: how}, nil
	default:
		return ProbeResult{}, os.NewSyscallError("connect", err)
	}
}

// cmsgAlignTo is the alignment of control messages (CMSG_ALIGN).
const cmsgAlignTo = int(unsafe.Sizeof(uintptr(0)))

// credCtlSize is the control space for one SCM_CREDENTIALS message.
const credCtlSize = unix.SizeofCmsghdr + 16

// controlCred reads a control message of type typ that is not SCM_RIGHTS:
// SCM_CREDENTIALS into cred (if not nil; it reports whether it did), and
// SCM_PIDFD, whose descriptor goes to cred or is closed.
func controlCred(typ int32, data []byte, cred *Cred) bool {
	switch typ {
	case unix.SCM_CREDENTIALS:
		if cred != nil && len(data) >= unix.SizeofUcred {
			uc := (*unix.Ucred)(unsafe.Pointer(&data[0]))
			if uc.Pid != 0 {
				cred.PID, cred.UID, cred.GID = int(uc.Pid), int(uc.Uid), int(uc.Gid)
				return true
			}
		}
	case unix.SCM_PIDFD:
		if len(data) >= 4 {
			fd := int(*(*int32)(unsafe.Pointer(&data[0])))
			if cred != nil && cred.PIDFD == nil {
				cred.PIDFD = os.NewFile(uintptr(fd), "pidfd")
			} else {
				unix.Close(fd)
			}
		}
	}
	return false
}

// putCredControl writes an SCM_CREDENTIALS message for cred into buf and
// returns it.
func putCredControl(buf []byte, cred *Cred) ([]byte, error) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&buf[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_CREDENTIALS
	h.SetLen(unix.CmsgLen(unix.SizeofUcred))
	uc := (*unix.Ucred)(unsafe.Pointer(&buf[unix.SizeofCmsghdr]))
	uc.Pid, uc.Uid, uc.Gid = int32(cred.PID), uint32(cred.UID), uint32(cred.GID)
	return buf[:unix.CmsgSpace(unix.SizeofUcred)], nil
}

// setRefuseFiles sets SO_PASSRIGHTS to 0 on fd.
func setRefuseFiles(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSRIGHTS, 0); err != nil {
		if err == unix.ENOPROTOOPT {
			return unsupported("SO_PASSRIGHTS (Linux 6.16 or later)")
		}
		return os.NewSyscallError("setsockopt(SO_PASSRIGHTS)", err)
	}
	return nil
}

// socketDomain returns fd's address family (SO_DOMAIN).
func socketDomain(fd int) (int, error) {
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil && err != unix.ENOTSOCK {
		err = os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	return dom, err
}

// siocUnixFile opens the file a Unix socket is bound to, as O_PATH
// (SIOCUNIXFILE in linux/un.h; x/sys does not define it).
const siocUnixFile = unix.SIOCPROTOPRIVATE + 0

// noUnixFileIoctl is set once SIOCUNIXFILE has failed for want of kernel
// support or of CAP_NET_ADMIN, so that it is not tried again.
var noUnixFileIoctl atomic.Bool

// boundFileIoctl returns an O_PATH descriptor of the file the socket fd is
// bound to (ok false if it cannot be had).
func boundFileIoctl(fd int) (pfd int, ok bool) {
	if noUnixFileIoctl.Load() {
		return -1, false
	}
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocUnixFile, 0)
	switch e {
	case 0:
	case unix.ENOTTY, unix.EINVAL, unix.EOPNOTSUPP, unix.EPERM:
		// An old kernel, or no CAP_NET_ADMIN (which a process seldom
		// gains later; sock_diag answers just the same).
		noUnixFileIoctl.Store(true)
		return -1, false
	default: // ENOENT: not bound to a file
		return -1, false
	}
	pfd = int(r)
	var st unix.Stat_t
	if unix.Fstat(pfd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		unix.Close(pfd)
		return -1, false
	}
	return pfd, true
}
