//go:build linux || darwin || freebsd

package instance

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/fdutil"
	"github.com/udskit/uds/internal/lockfile"
	"github.com/udskit/uds/internal/procfs"
)

func lockFile(path string) (*Guard, error) {
	fd, mine, _, err := lockfile.Lock(unix.AT_FDCWD, path, 0o644, false, "lock file")
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return nil, inUse(held.PID, uds.HowLocked, held.Err)
		}
		return nil, err
	}
	g := &Guard{file: os.NewFile(uintptr(fd), path)}
	if mine {
		g.wrotePID = lockfile.WritePID(g.file)
	}
	return g, nil
}

// inUse is the *uds.InUseError for a lock held by pid (0 if unknown).
func inUse(pid int, how uds.How, err error) *uds.InUseError {
	return &uds.InUseError{PID: pid, Comm: procfs.Comm(pid), How: how, Err: err}
}

// dupFile returns a new close-on-exec descriptor for c's, as a file called
// name.
func dupFile(c syscall.Conn, name string) (*os.File, error) {
	fd, err := fdutil.Dup(c)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}
