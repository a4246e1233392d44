package uds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func probe(a Addr) (ProbeResult, error) {
	if a.kind == KindAbstract {
		return probeAbstract(a)
	}
	dir, base := filepath.Split(a.name)
	if base == "" || base == "." || base == ".." {
		return ProbeResult{}, fmt.Errorf("%w: path %q does not end in a file name", ErrInvalidAddr, a.name)
	}
	if dir == "" {
		dir = "."
	}
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return ProbeResult{State: ProbeMissing, Detail: "no directory " + dir}, nil
		}
		return ProbeResult{}, &os.PathError{Op: "open directory", Path: dir, Err: err}
	}
	defer unix.Close(dirfd)
	po := &pathOwner{dirfd: dirfd, base: base, lockfd: -1}

	for try := 0; try < maxClaimTries; try++ {
		var st unix.Stat_t
		err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			return ProbeResult{State: ProbeMissing}, nil
		}
		if err != nil {
			return ProbeResult{}, &os.PathError{Op: "lstat", Path: a.name, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return ProbeResult{State: ProbeNotSocket, Detail: describeMode(st.Mode)}, nil
		}
		stale, err := po.probe(a, a.typ, st.Dev, st.Ino)
		var inUse *InUseError
		switch {
		case errors.As(err, &inUse):
			return ProbeResult{State: ProbeLive, PID: inUse.PID, Detail: inUse.How}, nil
		case err != nil:
			return ProbeResult{}, err
		case !stale:
			continue
		}
		// No socket holds the file; a server of ours may still be between
		// taking the lock and listening.
		var lst unix.Stat_t
		if unix.Fstatat(dirfd, po.lockName(), &lst, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if pid := flockHolder(lst.Dev, lst.Ino); pid > 0 {
				return ProbeResult{State: ProbeLive, PID: pid, Detail: "lock " + po.lockName() + " held"}, nil
			}
		}
		return ProbeResult{State: ProbeStale}, nil
	}
	return ProbeResult{State: ProbeMissing}, nil
}

func probeAbstract(a Addr) (ProbeResult, error) {
	fd, err := unix.Socket(unix.AF_UNIX, sockType(a.typ)|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ProbeResult{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	switch err := sysConnect(fd, a); err {
	case nil:
		pid := 0
		if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
		return ProbeResult{State: ProbeLive, PID: pid, Detail: "accepting connections"}, nil
	case unix.EAGAIN, unix.EPROTOTYPE, unix.ECONNREFUSED:
		how := map[error]string{unix.EAGAIN: "listening, backlog full", unix.EPROTOTYPE: "socket of another type", unix.ECONNREFUSED: "bound, not listening"}[err]
		var match []diagSocket
		socks, derr := diagDump(udiagShowName)
		if derr == nil {
			want := "\x00" + a.name
			for _, s := range socks {
				// Each socket type has its own abstract namespace.
				if string(s.Name) == want && int(s.Type) == sockType(a.typ) {
					match = append(match, s)
				}
			}
		}
		if err == unix.ECONNREFUSED && (derr != nil || len(match) == 0) {
			return ProbeResult{State: ProbeMissing}, nil
		}
		return ProbeResult{State: ProbeLive, PID: holderPID(match), Detail: how}, nil
	default:
		return ProbeResult{}, os.NewSyscallError("connect", err)
	}
}
