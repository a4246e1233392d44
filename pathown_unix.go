//go:build linux || darwin || freebsd

package uds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/lockfile"
)

// Path ownership: how a pathname socket (a listener's, or a dialer's local
// address) takes its path and gives it back. One pathOwner per path, in
// these steps:
//
//   - lock: ownPath opens the parent directory and takes "<base>.lock"
//     (takeLock), so that two uds processes never reclaim the same path at
//     once;
//   - probe: whatever is at the path is examined (probe): a socket file no
//     socket is bound to is stale, anything else is left alone;
//   - reclaim: a stale socket file is removed, and only it (clear,
//     removeIfSame);
//   - adopt: after bind, the file at the path is checked to be the one the
//     bind created (adopt);
//   - attributes: it gets the asked mode and owner, through a descriptor
//     pinned to it where the platform has one (adopt);
//   - release: the socket file (unless kept) and the lock file go
//     (release).
//
// pathown_unix.go has the steps common to Linux, darwin and FreeBSD;
// pathown_linux.go and pathown_bsd.go have probe, adopt, prepare and
// removeIfSame, each platform's way.

// pathOwner is a pathname socket's hold on its path: the parent directory
// (so that the path is found again even after a chdir or a rename of the
// directory), the lock file, and the identity of the socket file it bound.
type pathOwner struct {
	dirfd  int    // O_PATH descriptor of the parent directory
	base   string // last element of the path
	lockfd int    // the locked "<base>.lock", -1 if released
	lock   fileID // and its identity
	sock   fileID // the socket file we bound; zero before bind
	keep   bool   // leave the socket file on release

	// What adopt gives the socket file: its mode (0 leaves it) and owner
	// (-1 leaves it).
	perm     uint32
	uid, gid int
}

// fileID identifies a file: its device and inode as stat reports them.
type fileID struct{ dev, ino uint64 }

func idOf(st *unix.Stat_t) fileID { return fileID{uint64(st.Dev), uint64(st.Ino)} }

// maxOwnTries bounds the retries when files change under us.
const maxOwnTries = lockfile.MaxTries

// ownPath takes the path's lock and makes sure nothing is at the path,
// removing a stale socket and nothing else. On success the caller binds and
// then calls adopt; on failure nothing is held.
func ownPath(a Addr, typ SocketType) (*pathOwner, error) {
	dir, base := filepath.Split(a.name)
	if base == "" || base == "." || base == ".." {
		return nil, fmt.Errorf("%w: path %q does not end in a file name", ErrInvalidAddr, a.name)
	}
	if dir == "" {
		dir = "."
	}
	dirfd, err := openDir(dir)
	if err != nil {
		return nil, &os.PathError{Op: "open directory", Path: dir, Err: err}
	}
	po := &pathOwner{dirfd: dirfd, base: base, lockfd: -1, uid: -1, gid: -1}
	if err := po.takeLock(); err != nil {
		unix.Close(dirfd)
		return nil, err
	}
	if err := po.clear(a, typ); err != nil {
		// Nothing bound yet: the lock and the directory.
		return nil, joinErrors(err, po.release())
	}
	if err := po.prepare(); err != nil {
		return nil, joinErrors(err, po.release())
	}
	return po, nil
}

func (po *pathOwner) lockName() string { return po.base + ".lock" }

// takeLock takes an exclusive flock on "<base>.lock", making sure the file
// it locked is still the one at that name (a previous holder removes it
// while holding it), that it is this process's own (created here, or a
// regular file of the effective user with no other link: see
// lockfile.Lock), and writes our PID into it. A held lock is an
// *InUseError (findLockHeld).
func (po *pathOwner) takeLock() error {
	name := po.lockName()
	fd, _, st, err := lockfile.Lock(po.dirfd, name, 0o600, true, "lock file")
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return newInUseError(held.PID, findLockHeld, held.Err)
		}
		return err
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	// st was taken under the lock. Truncating a file that is already empty
	// (the usual case: a fresh lock file) changes nothing but costs much on
	// ext4, whose auto_da_alloc then flushes the PID to disk when the file
	// is closed (~200 µs per Listen+Close).
	if st.Size == 0 || unix.Ftruncate(fd, 0) == nil {
		_, _ = unix.Pwrite(fd, []byte(pid), 0)
	}
	po.lockfd, po.lock = fd, idOf(&st)
	return nil
}

// clear makes sure nothing is at the path: nothing there, or a stale socket
// that it removes. Anything else is an error and is left alone.
func (po *pathOwner) clear(a Addr, typ SocketType) error {
	for try := 0; try < maxOwnTries; try++ {
		var st unix.Stat_t
		err := unix.Fstatat(po.dirfd, po.base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			return nil
		}
		if err != nil {
			return &os.PathError{Op: "lstat", Path: a.name, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return fmt.Errorf("%w: %s is %s; nothing was removed", ErrNotSocket, a.name, lockfile.DescribeMode(uint32(st.Mode)))
		}
		stale, err := po.probe(a, typ, idOf(&st))
		if err != nil {
			return err
		}
		if !stale {
			continue // the file went away while we probed: look again
		}
		// Remove it only if it is still the file we probed; then look again.
		if _, err := removeIfSame(po.dirfd, po.base, idOf(&st)); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s keeps changing; gave up after %d tries", a.name, maxOwnTries)
}

// removeSocket removes the socket file if it is still the one we bound.
func (po *pathOwner) removeSocket() error {
	if po.sock == (fileID{}) {
		return nil
	}
	_, err := removeIfSame(po.dirfd, po.base, po.sock) // another server's file stays
	return err
}

// unlinkIfSame removes name in dirfd if it is the file want: a check and a
// removal, with a window of two system calls in which another process could
// swap in a file of its own. It is for directories where no one else can
// (see removeIfSame).
func unlinkIfSame(dirfd int, name string, want fileID) (removed bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	if idOf(&st) != want {
		return false, nil
	}
	if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
		return false, &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return true, nil
}

// releaseLock removes the lock file while still holding it, then unlocks.
func (po *pathOwner) releaseLock() error {
	if po.lockfd < 0 {
		return nil
	}
	// Removed while still held, and only if it is still our lock file.
	_, err := removeLockFile(po.dirfd, po.lockName(), po.lock)
	if e := unix.Close(po.lockfd); e != nil {
		err = joinErrors(err, os.NewSyscallError("close lock file", e))
	}
	po.lockfd = -1
	return err
}

// release is the end of a listener's hold: the socket file goes (unless
// kept), then the lock.
func (po *pathOwner) release() error {
	var err error
	if !po.keep {
		err = po.removeSocket()
	}
	err = joinErrors(err, po.releaseLock())
	if po.dirfd >= 0 {
		unix.Close(po.dirfd)
		po.dirfd = -1
	}
	return err
}
