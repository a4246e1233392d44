//go:build linux || darwin || freebsd

package uds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// pathOwner is a pathname listener's hold on its path: the parent directory
// (so that the path is found again even after a chdir or a rename of the
// directory), the lock file, and the identity of the socket file it bound.
type pathOwner struct {
	dirfd    int    // O_PATH descriptor of the parent directory
	base     string // last element of the path
	lockfd   int    // the locked "<base>.lock", -1 if released
	lockDev  uint64 // and its identity
	lockIno  uint64
	dev, ino uint64 // the socket file we bound; ino == 0 before bind
	keep     bool   // leave the socket file on release
}

// maxClaimTries bounds the retries when files change under us.
const maxClaimTries = 16

// claimPath takes the path's lock and makes sure nothing is at the path,
// removing a stale socket and nothing else. On success the caller binds and
// then calls bound; on failure nothing is held.
func claimPath(a Addr, typ SocketType) (*pathOwner, error) {
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
	po := &pathOwner{dirfd: dirfd, base: base, lockfd: -1}
	if err := po.lock(); err != nil {
		unix.Close(dirfd)
		return nil, err
	}
	if err := po.clear(a, typ); err != nil {
		po.release() // nothing bound yet: the lock and the directory
		return nil, err
	}
	return po, nil
}

func (po *pathOwner) lockName() string { return po.base + ".lock" }

// lock takes an exclusive flock on "<base>.lock", making sure the file it
// locked is still the one at that name (a previous holder removes it while
// holding it), and writes our PID into it.
func (po *pathOwner) lock() error {
	name := po.lockName()
	fd, _, st, err := flockAt(po.dirfd, name, 0o600, false, "lock "+name)
	if err != nil {
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
	po.lockfd, po.lockDev, po.lockIno = fd, uint64(st.Dev), uint64(st.Ino)
	return nil
}

func readPIDFile(dirfd int, name string) int {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return 0
	}
	return livePIDInFD(fd)
}

// describeMode names a file type for ErrNotSocket messages.
func describeMode(mode uint32) string {
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

// clear makes sure nothing is at the path: nothing there, or a stale socket
// that it removes. Anything else is an error and is left alone.
func (po *pathOwner) clear(a Addr, typ SocketType) error {
	for try := 0; try < maxClaimTries; try++ {
		var st unix.Stat_t
		err := unix.Fstatat(po.dirfd, po.base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT {
			return nil
		}
		if err != nil {
			return &os.PathError{Op: "lstat", Path: a.name, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return fmt.Errorf("%w: %s is %s; nothing was removed", ErrNotSocket, a.name, describeMode(uint32(st.Mode)))
		}
		stale, err := po.probe(a, typ, uint64(st.Dev), uint64(st.Ino))
		if err != nil {
			return err
		}
		if !stale {
			continue // the file went away while we probed: look again
		}
		// Remove it only if it is still the file we probed; then look again.
		if _, err := removeIfSame(po.dirfd, po.base, uint64(st.Dev), uint64(st.Ino)); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s keeps changing; gave up after %d tries", a.name, maxClaimTries)
}

// probe tells whether the socket file (dev, ino) at the path is stale. It
// returns an *InUseError if a process holds it, (false, nil) if the file
// vanished, and (true, nil) only when no socket is bound to it.
//
// Where the kernel cannot list the sockets bound to a file (no sock_diag:
// darwin, FreeBSD), a refused probe is repeated a few times, refusedRetries,
// refusedRetryDelay apart, before the file is declared stale: a server
// between bind and listen is refused too, for as long as it takes to set
// the file's mode and owner. On darwin and FreeBSD a listener whose backlog
// is full also refuses, so a server that stays swamped through every retry
// is taken for dead: its file is removed and it keeps serving the
// connections it has, unreachable by name. The lock file rules that out
// between uds processes; it is the residual risk with other servers.
func (po *pathOwner) probe(a Addr, typ SocketType, dev, ino uint64) (stale bool, err error) {
	for try := 0; ; try++ {
		stale, again, err := po.probeOnce(a, typ, dev, ino, try < refusedRetries)
		if !again {
			return stale, err
		}
		time.Sleep(refusedRetryDelay)
	}
}

// probeOnce makes one probe connection; again asks for another attempt
// (a refusal with retry set and no other evidence).
func (po *pathOwner) probeOnce(a Addr, typ SocketType, dev, ino uint64, retry bool) (stale, again bool, err error) {
	fd, err := newSocket(typ)
	if err != nil {
		return false, false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	var cerr error
	if len(a.name) <= MaxPathLen {
		cerr = sysConnect(fd, a)
	} else {
		cerr = sysConnect(fd, Path(procPath(po.dirfd, po.base)))
	}
	switch cerr {
	case nil, unix.EINPROGRESS:
		if typ == Datagram {
			// A datagram socket has no listener credentials to read.
			return false, false, po.inUse(dev, ino, "bound", nil)
		}
		return false, false, &InUseError{PID: probePeerPID(fd), How: "accepting connections"}
	case unix.EAGAIN:
		return false, false, po.inUse(dev, ino, "listening, backlog full", cerr)
	case unix.EPROTOTYPE:
		return false, false, po.inUse(dev, ino, "socket of another type", cerr)
	case unix.ENOENT:
		return false, false, nil
	case unix.ECONNREFUSED:
		// Refused means stale, or bound and not listening yet. sock_diag
		// tells the two apart: a bound socket holds the file's inode.
		pid, n, derr := socketsBoundTo(dev, ino)
		if derr != nil {
			// Without sock_diag, refusal is the best evidence there is;
			// where that is normal, ask again a few times first.
			return !retry, retry, nil
		}
		if n > 0 {
			return false, false, &InUseError{PID: pid, How: "bound, not listening", Err: cerr}
		}
		return true, false, nil
	case unix.EACCES, unix.EPERM:
		pid, n, derr := socketsBoundTo(dev, ino)
		if derr == nil && n > 0 {
			return false, false, &InUseError{PID: pid, How: "bound, no permission to connect", Err: cerr}
		}
		return false, false, fmt.Errorf("cannot probe existing socket %s, so it was not removed: %w", a.name, cerr)
	}
	return false, false, fmt.Errorf("probing existing socket %s failed, so it was not removed: %w", a.name, os.NewSyscallError("connect", cerr))
}

func (po *pathOwner) inUse(dev, ino uint64, how string, cause error) error {
	pid := 0
	if p, _, err := socketsBoundTo(dev, ino); err == nil {
		pid = p
	}
	return &InUseError{PID: pid, How: how, Err: cause}
}

// bound records the socket file that our bind created.
func (po *pathOwner) bound() error {
	var st unix.Stat_t
	if err := unix.Fstatat(po.dirfd, po.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: po.base, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%w: %s was replaced right after bind", ErrNotSocket, po.base)
	}
	po.dev, po.ino = uint64(st.Dev), uint64(st.Ino)
	return nil
}

// removeSocket removes the socket file if it is still the one we bound.
func (po *pathOwner) removeSocket() error {
	if po.ino == 0 {
		return nil
	}
	_, err := removeIfSame(po.dirfd, po.base, po.dev, po.ino) // another server's file stays
	return err
}

var errNoRenameNoReplace = errors.New("no atomic no-replace rename")

var asideSeq atomic.Uint64

// removeIfSame removes name in dirfd if it is the file (dev, ino), and
// nothing else.
// Where the file system can rename without replacing, the file is first
// moved aside under a temporary name and checked there, so that a file
// another process swaps in at the last moment is put back, never removed.
// Elsewhere it checks and removes, leaving a window of two system calls.
func removeIfSame(dirfd int, name string, dev, ino uint64) (removed bool, err error) {
	aside := fmt.Sprintf(".uds-remove-%d-%d", os.Getpid(), asideSeq.Add(1))
	switch err := renameNoReplace(dirfd, name, aside); err {
	case nil:
	case unix.ENOENT:
		return false, nil
	case errNoRenameNoReplace:
		return unlinkIfSame(dirfd, name, dev, ino)
	default:
		return false, &os.PathError{Op: "rename aside", Path: name, Err: err}
	}
	var st unix.Stat_t
	if unix.Fstatat(dirfd, aside, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && uint64(st.Dev) == dev && uint64(st.Ino) == ino {
		if err := unix.Unlinkat(dirfd, aside, 0); err != nil && err != unix.ENOENT {
			return false, &os.PathError{Op: "remove", Path: aside, Err: err}
		}
		return true, nil
	}
	// Another file took the name at the last moment: put it back.
	if err := renameNoReplace(dirfd, aside, name); err != nil {
		return false, fmt.Errorf("%s was replaced twice while being removed; the first replacement is kept as %s: %w", name, aside, err)
	}
	return false, nil
}

// unlinkIfSame removes name in dirfd if it is the file (dev, ino): a check
// and a removal, with a window of two system calls in which another process
// could swap in a file of its own. removeIfSame closes that window where it
// can; unlinkIfSame is for files that nobody swaps in (see releaseLock), and
// for file systems that cannot rename without replacing.
func unlinkIfSame(dirfd int, name string, dev, ino uint64) (removed bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	if uint64(st.Dev) != dev || uint64(st.Ino) != ino {
		return false, nil
	}
	if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
		return false, &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return true, nil
}

// adopt records the socket file that the bind of fd created, after making
// sure (where the kernel can tell) that the file at the path in the locked
// directory is that socket's: if the directory was swapped for another one,
// or the file replaced right after bind, the socket's own file is removed
// wherever the name led, nothing else is touched, and adopt fails.
func (po *pathOwner) adopt(fd int, path string) error {
	dev, ino, ok := boundFile(fd)
	if !ok {
		return po.bound()
	}
	var st unix.Stat_t
	err := unix.Fstatat(po.dirfd, po.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && uint64(st.Dev) == dev && uint64(st.Ino) == ino {
		po.dev, po.ino = dev, ino
		return nil
	}
	if dir, base := filepath.Split(path); base != "" {
		if dir == "" {
			dir = "."
		}
		if dfd, err := openDir(dir); err == nil {
			_, _ = removeIfSame(dfd, base, dev, ino)
			unix.Close(dfd)
		}
	}
	return &InUseError{How: "path replaced, or its directory moved, while binding; nothing was kept"}
}

// releaseLock removes the lock file while still holding it, then unlocks.
func (po *pathOwner) releaseLock() error {
	if po.lockfd < 0 {
		return nil
	}
	// Removed while still held, and only if it is still our lock file.
	// No rename aside is needed here: the lock protocol never puts a file
	// at this name over an existing one (every taker opens the name with
	// O_CREAT and no O_EXCL, so it opens our file, finds it locked and
	// gives up), and a taker that opens the name after the unlink creates
	// a new file that the unlink cannot reach.
	_, err := unlinkIfSame(po.dirfd, po.lockName(), po.lockDev, po.lockIno)
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

func sockType(t SocketType) int {
	switch t {
	case Datagram:
		return unix.SOCK_DGRAM
	case SeqPacket:
		return unix.SOCK_SEQPACKET
	}
	return unix.SOCK_STREAM
}
