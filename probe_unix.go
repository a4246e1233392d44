//go:build linux || darwin || freebsd

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
	dirfd, err := openDir(dir)
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
			return ProbeResult{State: ProbeNotSocket, Detail: describeMode(uint32(st.Mode))}, nil
		}
		stale, err := po.probe(a, a.typ, idOf(&st))
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
		if unix.Fstatat(dirfd, po.lockName(), &lst, unix.AT_SYMLINK_NOFOLLOW) == nil && lst.Mode&unix.S_IFMT == unix.S_IFREG {
			lfd, err := unix.Openat(dirfd, po.lockName(), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			pid := 0
			if err == nil && unix.Fstat(lfd, &lst) == nil && lst.Mode&unix.S_IFMT == unix.S_IFREG {
				pid = lockFileHolder(lfd, &lst)
			}
			if err == nil {
				unix.Close(lfd)
			}
			if pid == 0 && !lockTableReadable {
				// No /proc/locks: a uds holder wrote its PID in the file,
				// and removes the file when it lets go.
				pid = readPIDFile(dirfd, po.lockName())
			}
			if pid > 0 {
				return ProbeResult{State: ProbeLive, PID: pid, Detail: "lock " + po.lockName() + " held"}, nil
			}
		}
		return ProbeResult{State: ProbeStale}, nil
	}
	return ProbeResult{State: ProbeMissing}, nil
}
