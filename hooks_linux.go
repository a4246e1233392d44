package uds

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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

	// refusedRetries is how many times a refused probe is repeated before a
	// socket file is stale. None on Linux: sock_diag tells a socket bound and
	// not yet listening from a dead one.
	refusedRetries = 0

	// refusedRetryDelay is the pause between those probes.
	refusedRetryDelay = 0 * time.Millisecond

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

// socketsBoundTo asks sock_diag for the sockets bound to the file (dev,
// ino): how many there are and which process holds them.
func socketsBoundTo(dev, ino uint64) (pid, n int, err error) {
	socks, err := boundTo(dev, ino)
	if err != nil {
		return 0, 0, err
	}
	return holderPID(socks), len(socks), nil
}

// bindInUse explains EADDRINUSE from bind: for an abstract name, who holds it.
func bindInUse(a Addr, typ SocketType, cause error) error {
	if a.kind != KindAbstract {
		return &InUseError{How: "bound by another process during setup", Err: cause}
	}
	r, _ := probeAbstract(a.WithType(typ))
	return &InUseError{PID: r.PID, How: "abstract name bound", Err: cause}
}

// chmodPinned changes the mode of the socket file through an O_PATH
// descriptor of it, for kernels without fchmodat2.
func (po *pathOwner) chmodPinned(perm uint32) error {
	fd, err := unix.Openat(po.dirfd, po.base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if uint64(st.Dev) != po.dev || st.Ino != po.ino {
		return nil
	}
	return unix.Chmod(procFDPrefix+strconv.Itoa(fd), perm)
}

func probeAbstract(a Addr) (ProbeResult, error) {
	fd, err := newSocket(a.typ)
	if err != nil {
		return ProbeResult{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	switch err := sysConnect(fd, a); err {
	case nil:
		if a.typ == Datagram {
			// A datagram socket has no peer credentials: ask sock_diag.
			r := ProbeResult{State: ProbeLive, Detail: "bound"}
			if match, err := abstractBound(a.name, unix.SOCK_DGRAM); err == nil {
				r.PID = holderPID(match)
			}
			return r, nil
		}
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

// renameNoReplace renames old to new in dirfd, failing with EEXIST if new
// exists; errNoRenameNoReplace if the file system cannot do that atomically.
func renameNoReplace(dirfd int, old, new string) error {
	err := unix.Renameat2(dirfd, old, dirfd, new, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		return errNoRenameNoReplace
	}
	return err
}

// boundFile returns the device and inode of the file the socket fd is bound
// to (ok false if the kernel cannot tell). It asks the socket itself where
// it may (SIOCUNIXFILE, Linux 4.11, for callers with CAP_NET_ADMIN: a few
// microseconds), and sock_diag otherwise (which walks the namespace's socket
// table).
func boundFile(fd int) (dev, ino uint64, ok bool) {
	if dev, ino, ok := boundFileIoctl(fd); ok {
		return dev, ino, true
	}
	return boundFileDiag(fd)
}

// siocUnixFile opens the file a Unix socket is bound to, as O_PATH
// (SIOCUNIXFILE in linux/un.h; x/sys does not define it).
const siocUnixFile = unix.SIOCPROTOPRIVATE + 0

// noUnixFileIoctl is set once SIOCUNIXFILE has failed for want of kernel
// support or of CAP_NET_ADMIN, so that it is not tried again.
var noUnixFileIoctl atomic.Bool

func boundFileIoctl(fd int) (dev, ino uint64, ok bool) {
	if noUnixFileIoctl.Load() {
		return 0, 0, false
	}
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocUnixFile, 0)
	switch e {
	case 0:
	case unix.ENOTTY, unix.EINVAL, unix.EOPNOTSUPP, unix.EPERM:
		// An old kernel, or no CAP_NET_ADMIN (which a process seldom
		// gains later; sock_diag answers just the same).
		noUnixFileIoctl.Store(true)
		return 0, 0, false
	default: // ENOENT: not bound to a file
		return 0, 0, false
	}
	pfd := int(r)
	defer unix.Close(pfd)
	var st unix.Stat_t
	if unix.Fstat(pfd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true
}

func boundFileDiag(fd int) (dev, ino uint64, ok bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, 0, false
	}
	socks, err := diagExact(uint32(st.Ino), udiagShowVFS)
	if err != nil || len(socks) != 1 || !socks[0].HasVFS {
		return 0, 0, false
	}
	return socks[0].VFSDev, socks[0].VFSIno, true
}
