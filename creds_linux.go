package uds

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func peerCred(fd int) (*Cred, error) {
	uc, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_PEERCRED)", err)
	}
	if uc.Pid == 0 {
		// Nothing was recorded: the socket is not connected, or is a
		// datagram socket connected with connect(2), which records none
		// (socket pairs do record their creator).
		return nil, fmt.Errorf("%w: the kernel recorded no peer (SO_PEERCRED is empty: an unconnected socket, or a datagram socket, which records none on connect)", ErrNoCredentials)
	}
	c := &Cred{PID: int(uc.Pid), UID: int(uc.Uid), GID: int(uc.Gid)}
	if c.Groups, err = peerGroups(fd); err != nil {
		return nil, err
	}
	label, err := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_PEERSEC)
	switch err {
	case nil:
		c.Label = label
	case unix.ENOPROTOOPT, unix.EOPNOTSUPP:
		// No security module labels sockets.
	default:
		return nil, os.NewSyscallError("getsockopt(SO_PEERSEC)", err)
	}
	f, err := peerPIDFD(fd)
	switch {
	case err == nil:
		c.PIDFD = f
	case errors.Is(err, errUnsupported):
		// A kernel before 6.5: the PID cannot be pinned.
	default:
		return nil, err
	}
	return c, nil
}

// peerGroups reads SO_PEERGROUPS, growing the buffer when the kernel says
// ERANGE (it then reports the size it needs).
func peerGroups(fd int) ([]int, error) {
	var small [32]uint32
	buf := small[:]
	for {
		n := uint32(len(buf) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch e {
		case 0:
			groups := make([]int, n/4)
			for i := range groups {
				groups[i] = int(buf[i])
			}
			return groups, nil
		case unix.ERANGE:
			if int(n/4) <= len(buf) {
				return nil, os.NewSyscallError("getsockopt(SO_PEERGROUPS)", e)
			}
			buf = make([]uint32, n/4)
		case unix.ENOPROTOOPT:
			return nil, nil
		default:
			return nil, os.NewSyscallError("getsockopt(SO_PEERGROUPS)", e)
		}
	}
}

func peerPIDFD(fd int) (*os.File, error) {
	pidfd, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	switch err {
	case nil:
	case unix.ENOPROTOOPT:
		return nil, unsupported("SO_PEERPIDFD (Linux 6.5 or later)")
	case unix.EINVAL, unix.ESRCH:
		return nil, errPeerGone
	case unix.ENODATA:
		return nil, fmt.Errorf("%w: the kernel recorded no peer process", ErrNoCredentials)
	default:
		return nil, os.NewSyscallError("getsockopt(SO_PEERPIDFD)", err)
	}
	if exited(pidfd) {
		unix.Close(pidfd)
		return nil, errPeerGone
	}
	return os.NewFile(uintptr(pidfd), "pidfd"), nil
}

// exited reports whether the process of pidfd has exited: a pidfd polls
// readable from then on.
func exited(pidfd int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0
	}
}

// setPassCred turns on SO_PASSCRED (and SO_PASSPIDFD with pidfd) on a new
// socket.
func setPassCred(fd int, pidfd bool) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return os.NewSyscallError("setsockopt(SO_PASSCRED)", err)
	}
	if pidfd {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSPIDFD, 1); err != nil {
			if err == unix.ENOPROTOOPT {
				return unsupported("SO_PASSPIDFD (Linux 6.5 or later)")
			}
			return os.NewSyscallError("setsockopt(SO_PASSPIDFD)", err)
		}
	}
	return nil
}
