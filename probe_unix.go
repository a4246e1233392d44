//go:build linux || darwin || freebsd

package uds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/addrprobe"
	"github.com/udskit/uds/internal/lockfile"
)

// The probe behind diag.Probe (see package addrprobe): what is at an
// address, found as Listen's path ownership would find it, without changing
// anything.

func init() {
	addrprobe.Func = func(abstract bool, name string, typ uint8) (addrprobe.Result, error) {
		if abstract {
			return probeAbstract(Abstract(name).WithType(SocketType(typ)))
		}
		return probePath(Path(name).WithType(SocketType(typ)))
	}
}

// probePath probes the path a: no lock is taken, and a stale socket file
// is reported, not removed.
func probePath(a Addr) (addrprobe.Result, error) {
	dir, base := filepath.Split(a.name)
	if base == "" || base == "." || base == ".." {
		return addrprobe.Result{}, fmt.Errorf("%w: path %q does not end in a file name", ErrInvalidAddr, a.name)
	}
	if dir == "" {
		dir = "."
	}
	dirfd, err := openDir(dir)
	if err != nil {
		if err == unix.ENOENT {
			return addrprobe.Result{State: addrprobe.Missing, Detail: "no directory " + dir}, nil
		}
		return addrprobe.Result{}, &os.PathError{Op: "open directory", Path: dir, Err: err}
	}
	defer unix.Close(dirfd)
	po := &pathOwner{dirfd: dirfd, base: base, lockfd: -1}

	for try := 0; try < maxOwnTries; try++ {
		var st unix.Stat_t
		err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			return addrprobe.Result{State: addrprobe.Missing}, nil
		}
		if err != nil {
			return addrprobe.Result{}, &os.PathError{Op: "lstat", Path: a.name, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return addrprobe.Result{State: addrprobe.NotSocket, Detail: lockfile.DescribeMode(uint32(st.Mode))}, nil
		}
		stale, err := po.probe(a, a.typ, idOf(&st))
		var inUse *InUseError
		switch {
		case errors.As(err, &inUse):
			return addrprobe.Result{State: addrprobe.Live, PID: inUse.PID, Detail: inUse.what()}, nil
		case err != nil:
			return addrprobe.Result{}, err
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
				pid = lockfile.Holder(lfd, &lst)
			}
			if err == nil {
				unix.Close(lfd)
			}
			if pid == 0 && !lockfile.TableReadable {
				// No /proc/locks: a uds holder wrote its PID in the file,
				// and removes the file when it lets go.
				pid = lockfile.ReadPID(dirfd, po.lockName())
			}
			if pid > 0 {
				return addrprobe.Result{State: addrprobe.Live, PID: pid, Detail: "lock " + po.lockName() + " held"}, nil
			}
		}
		return addrprobe.Result{State: addrprobe.Stale}, nil
	}
	return addrprobe.Result{State: addrprobe.Missing}, nil
}
