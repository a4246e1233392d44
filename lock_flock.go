//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package uds

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func lockFile(path string) (*InstanceLock, error) {
	for try := 0; try < maxLockTries; try++ {
		writable := true
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == unix.EACCES || err == unix.EROFS {
			// Someone else's file: it can still be locked, not written.
			writable = false
			fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			if err == unix.ELOOP {
				return nil, fmt.Errorf("lock file %s is a symbolic link; not following it: %w", path, err)
			}
			return nil, &os.PathError{Op: "open lock file", Path: path, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "stat lock file", Path: path, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return nil, fmt.Errorf("lock file %s is not a regular file", path)
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			if err != unix.EWOULDBLOCK {
				unix.Close(fd)
				return nil, &os.PathError{Op: "flock", Path: path, Err: err}
			}
			pid := lockFileHolder(uint64(st.Dev), uint64(st.Ino))
			if pid == 0 {
				// The PID a uds holder wrote, read from the file we found
				// locked, not from whatever is at path by now.
				pid = livePIDInFD(fd)
			} else {
				unix.Close(fd)
			}
			return nil, &InUseError{PID: pid, How: "lock file held", Err: err}
		}
		// The file may have been replaced between open and flock; the lock
		// counts only on the file that is at path now.
		var now unix.Stat_t
		if err := unix.Lstat(path, &now); err != nil || now.Dev != st.Dev || now.Ino != st.Ino {
			unix.Close(fd)
			continue
		}
		l := &InstanceLock{file: os.NewFile(uintptr(fd), path)}
		if writable {
			l.wrotePID = writePIDIfFree(l.file)
		}
		return l, nil
	}
	return nil, errors.New("lock file keeps being replaced; gave up")
}

// writePIDIfFree writes our PID into f if it is empty or holds only a PID,
// and reports whether it did.
func writePIDIfFree(f *os.File) bool {
	var buf [32]byte
	n, _ := f.ReadAt(buf[:], 0)
	if n > 0 && parsePID(buf[:n]) == 0 {
		return false
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	// Truncating an empty file changes nothing but makes ext4 flush the
	// file on close (see pathOwner.lock).
	if n > 0 && f.Truncate(0) != nil {
		return false
	}
	_, err := f.WriteAt([]byte(pid), 0)
	return err == nil
}

// parsePID parses "1234" or "1234\n", and returns 0 for anything else.
func parsePID(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0
	}
	pid := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		pid = pid*10 + int(c-'0')
	}
	return pid
}

// livePIDInFD reads a PID from the start of the file open as fd, returns it
// if that process runs (0 otherwise), and closes fd.
func livePIDInFD(fd int) int {
	defer unix.Close(fd)
	var buf [32]byte
	n, _ := unix.Read(fd, buf[:])
	if n <= 0 {
		return 0
	}
	pid := parsePID(buf[:n])
	if pid > 0 && unix.Kill(pid, 0) == unix.ESRCH {
		return 0
	}
	return pid
}
