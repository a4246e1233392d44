//go:build linux || darwin || freebsd

package lockfile

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// MaxTries bounds the retries when a lock file changes hands under us.
const MaxTries = 16

// HeldError is a lock that another process holds.
type HeldError struct {
	// PID is the holder, 0 if it could not be learnt.
	PID int
	// Err is the system error of the attempt (EWOULDBLOCK).
	Err error
}

// Error says that the lock is held, and by which process if known.
func (e *HeldError) Error() string {
	if e.PID > 0 {
		return "lock held by process " + strconv.Itoa(e.PID)
	}
	return "lock held"
}

// Unwrap returns the system error.
func (e *HeldError) Unwrap() error { return e.Err }

// Lock takes an exclusive flock, without waiting, on the regular file name
// in dirfd, creating it (O_EXCL, mode perm) if it is missing. It never
// follows a symbolic link, never opens anything but a regular file for
// writing (a FIFO or device at the name is opened non-blocking and refused
// before anything is done with it), and never truncates. The lock counts
// only on the file that is at name once it is held, so a file replaced in
// between (a holder removes its lock file while still holding it) is let go
// and the new one locked. A file this process may not write (someone
// else's) is locked read-only, and mine is false for it.
//
// The caller may write into the file only if mine is true: it was created
// here, or it belongs to the effective user and has no other link (a hard
// link planted at the name by another user, to a file of this user, is not
// this process's to write). With strict, a file that is not mine is refused
// with an error that says why, after reporting a live holder as usual.
// what names the file in errors ("lock file").
//
// A held lock is a *HeldError naming the holder (Holder, else the PID in
// the file if that process runs). Lock returns the locked descriptor and
// the file as it was stat'ed under the lock.
func Lock(dirfd int, name string, perm uint32, strict bool, what string) (fd int, mine bool, st unix.Stat_t, err error) {
	for try := 0; try < MaxTries; try++ {
		created := false
		const flags = unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
		// Usually there is no lock file (its last holder removed it).
		fd, err = unix.Openat(dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|flags, perm)
		created = err == nil
		if err == unix.EEXIST || err == unix.EACCES || err == unix.EROFS {
			// It exists, or may exist where no file can be created: open
			// what is there, read-only if it may not be written.
			efd, eerr := unix.Openat(dirfd, name, unix.O_RDWR|flags, 0)
			if eerr == unix.EACCES || eerr == unix.EROFS || eerr == unix.ETXTBSY {
				efd, eerr = unix.Openat(dirfd, name, unix.O_RDONLY|flags, 0)
			}
			switch {
			case eerr != unix.ENOENT:
				fd, err = efd, eerr
			case err == unix.EEXIST:
				continue // removed in between
			}
		}
		if err != nil {
			if err == unix.ELOOP {
				return -1, false, st, fmt.Errorf("%s %s is a symbolic link; not following it: %w", what, name, err)
			}
			return -1, false, st, &os.PathError{Op: "open " + what, Path: name, Err: err}
		}
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, false, st, &os.PathError{Op: "stat " + what, Path: name, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return -1, false, st, fmt.Errorf("%s %s is %s, not a regular file; nothing was written", what, name, DescribeMode(uint32(st.Mode)))
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			if err != unix.EWOULDBLOCK {
				unix.Close(fd)
				return -1, false, st, &os.PathError{Op: "flock", Path: name, Err: err}
			}
			pid := Holder(fd, &st)
			if pid == 0 {
				// /proc/locks unreadable: the file we found locked names
				// the holder if it is a uds process (and a dead one
				// otherwise, so LivePID checks that it runs); read it
				// there, not from whatever is at name by now.
				pid = LivePID(fd) // closes fd
			} else {
				unix.Close(fd)
			}
			return -1, false, st, &HeldError{PID: pid, Err: err}
		}
		var now unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil || now.Dev != st.Dev || now.Ino != st.Ino {
			unix.Close(fd)
			continue
		}
		mine = created || (int(now.Uid) == os.Geteuid() && now.Nlink == 1)
		if strict && !mine {
			unix.Close(fd)
			why := fmt.Sprintf("belongs to uid %d", now.Uid)
			if int(now.Uid) == os.Geteuid() {
				why = fmt.Sprintf("has %d hard links", now.Nlink)
			}
			return -1, false, st, fmt.Errorf("%s %s %s, so it is not this process's to use; nothing was written (remove it if no server uses the path)", what, name, why)
		}
		return fd, mine, now, nil
	}
	return -1, false, st, fmt.Errorf("%s %s keeps being replaced; gave up after %d tries", what, name, MaxTries)
}

// WritePID writes our PID into f if it is empty or holds only a PID, and
// reports whether it did.
func WritePID(f *os.File) bool {
	var buf [32]byte
	n, _ := f.ReadAt(buf[:], 0)
	if n > 0 && parsePID(buf[:n]) == 0 {
		return false
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	// Truncating an empty file changes nothing but makes ext4 flush the
	// file on close (see the root package's pathOwner.takeLock).
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

// LivePID reads a PID from the start of the file open as fd, returns it if
// that process runs (0 otherwise), and closes fd.
func LivePID(fd int) int {
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

// ReadPID returns the live PID in the file name in dirfd (see LivePID), 0
// if there is none.
func ReadPID(dirfd int, name string) int {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return 0
	}
	return LivePID(fd)
}

// DescribeMode names a file type for error messages ("a directory", ...).
func DescribeMode(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory (a container bind mount creates one when the socket is missing)"
	case unix.S_IFLNK:
		return "a symbolic link (not followed)"
	case unix.S_IFIFO:
		return "a named pipe"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return "not a socket"
}
