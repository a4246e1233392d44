package uds

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/sockdiag"
)

// Linux's half of path ownership (pathown_unix.go). Every decision
// about a file is made on a descriptor pinned to its inode (O_PATH), and
// every check that cannot be made fails closed with ErrUnverified:
//
//   - Stale or live: connect through the pinned inode
//     (/proc/self/fd/N) with two sockets of types the file's socket cannot
//     both have (SOCK_SEQPACKET, then SOCK_STREAM). The kernel looks the
//     socket up by inode and answers EPROTOTYPE when one of another type
//     is bound, listening or not, and ECONNREFUSED for both only when none
//     is. No file numbers are compared, the probed socket is never a
//     datagram peer (a datagram connect would change its state), and
//     sockets bound in other network namespaces are seen too. Only when
//     that cannot be done (no write permission on the file, no /proc, no
//     descriptors) is sock_diag asked, matching files as described at
//     sockdiag.File.
//   - Ours after bind: the socket is asked for its file (SIOCUNIXFILE, an
//     O_PATH descriptor of exactly that file; needs CAP_NET_ADMIN), else
//     sock_diag names it, else (no netlink) the file must be a socket of
//     our user bound by someone, in a directory where no other user can
//     put a file over ours.
//   - Mode and owner are changed through the pinned descriptor.
//   - Removal checks the file and removes it by name where no other user
//     can swap it in between (dirPrivate); elsewhere the file is first
//     moved into a new private directory (mode 0700, random name) where
//     the check and the removal cannot be raced.

// pinFile opens name in dirfd as an O_PATH descriptor of the file itself
// (a symbolic link is not followed) and stats it.
func pinFile(dirfd int, name string) (int, unix.Stat_t, error) { return sockdiag.Pin(dirfd, name) }

// pinnedPath is the name of the file pinned as fd, for connect and chmod.
func pinnedPath(fd int) string { return procFDPrefix + strconv.Itoa(fd) }

// probe tells whether the socket file at the path, seen as seen, is stale:
// (true, nil) only on positive evidence that no socket is bound to it, an
// *InUseError if one is, (false, nil) if the file is no longer the one seen
// (look again), an error wrapping ErrUnverified if it cannot tell.
func (po *pathOwner) probe(a Addr, typ SocketType, seen fileID) (stale bool, err error) {
	pfd, st, err := pinFile(po.dirfd, po.base)
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: cannot open %s to probe it, so it was not removed: %w", ErrUnverified, a.name, err)
	}
	defer unix.Close(pfd)
	if idOf(&st) != seen {
		return false, nil
	}
	return examine(a.name, typ, pfd, &st)
}

// examine asks the kernel whether a socket is bound to the socket file open
// as pfd (O_PATH, stat st), and describes it in the terms of a caller that
// expects a socket of type want; see probe.
func examine(name string, want SocketType, pfd int, st *unix.Stat_t) (stale bool, err error) {
	var res [2]error // SOCK_SEQPACKET's connect, then SOCK_STREAM's
	var cause error
	for i, typ := range [...]SocketType{SeqPacket, Stream} {
		s, err := newSocket(typ)
		if err != nil {
			cause = os.NewSyscallError("socket", err)
			break
		}
		cerr := sysConnect(s, Path(pinnedPath(pfd)))
		switch cerr {
		case nil, unix.EINPROGRESS:
			pid := probePeerPID(s)
			unix.Close(s)
			return false, liveError(pid, want, typ, findAccepting, nil)
		case unix.EAGAIN:
			unix.Close(s)
			return false, inUseOn(pfd, st, want, typ, findBacklogFull, cerr)
		}
		unix.Close(s)
		if cerr != unix.ECONNREFUSED && cerr != unix.EPROTOTYPE {
			// EACCES: no write permission on the file; ENOENT: no /proc.
			cause = os.NewSyscallError("connect", cerr)
			break
		}
		res[i] = cerr
	}
	if cause == nil {
		switch {
		case res[0] == unix.ECONNREFUSED && res[1] == unix.ECONNREFUSED:
			return true, nil
		case res[0] == unix.EPROTOTYPE && res[1] == unix.EPROTOTYPE:
			return false, inUseOn(pfd, st, want, Datagram, findBound, unix.EPROTOTYPE)
		case res[0] == unix.ECONNREFUSED:
			return false, inUseOn(pfd, st, want, SeqPacket, findNotListening, unix.ECONNREFUSED)
		default:
			return false, inUseOn(pfd, st, want, Stream, findNotListening, unix.ECONNREFUSED)
		}
	}
	bound, err := sockdiag.NewFile(pfd, st).BoundTo(context.Background())
	if err != nil {
		return false, fmt.Errorf("%w: cannot tell whether %s is stale: probing it failed (%v) and sock_diag cannot be asked (%v); nothing was removed (remove the file by hand once sure no server uses it)", ErrUnverified, name, cause, err)
	}
	if len(bound) > 0 {
		how := findNotListening
		if bound[0].Listening() {
			how = findListening
		}
		return false, liveError(sockdiag.Holder(bound), want, socketTypeOf(int(bound[0].Type)), how, errors.Unwrap(cause))
	}
	return true, nil
}

// liveError is the *InUseError for a live socket of type got, found as how,
// for a caller that wanted one of type want: findOtherType if they differ.
func liveError(pid int, want, got SocketType, how finding, cause error) *InUseError {
	e := newInUseError(pid, how, cause)
	if want != got {
		e.How, e.finding, e.detail = findOtherType.how(), findOtherType, got.network()+", "+how.String()
	}
	return e
}

// inUseOn is liveError for the socket file pfd, naming the holder if
// sock_diag and /proc can find it.
func inUseOn(pfd int, st *unix.Stat_t, want, got SocketType, how finding, cause error) error {
	pid := 0
	if bound, err := sockdiag.NewFile(pfd, st).BoundTo(context.Background()); err == nil {
		pid = sockdiag.Holder(bound)
	}
	return liveError(pid, want, got, how, cause)
}

// adopt makes sure the socket file that fd's bind created is the one at the
// path in the locked directory, gives it po's mode and owner through a
// descriptor pinned to it, and records it. If the file at the path is
// another one (replaced right after bind, or the directory was swapped),
// the socket's own file is removed wherever the name led, nothing else is
// touched, and adopt fails.
func (po *pathOwner) adopt(fd int, path string) error {
	pfd, st, err := po.pinBound(fd, path)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if po.uid >= 0 || po.gid >= 0 {
		if err := unix.Fchownat(pfd, "", po.uid, po.gid, unix.AT_EMPTY_PATH); err != nil {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	if po.perm != 0 && uint32(st.Mode)&0o7777 != po.perm {
		// The umask took bits away; put them back.
		if err := chmodPinned(pfd, po.perm); err != nil {
			return &os.PathError{Op: "chmod", Path: path, Err: err}
		}
	}
	po.sock = idOf(&st)
	return nil
}

// chmodPinned changes the mode of the file open as the O_PATH descriptor
// fd: fchmodat2 (Linux 6.6) with AT_EMPTY_PATH, or chmod of its /proc name.
func chmodPinned(fd int, perm uint32) error {
	err := unix.Fchmodat(fd, "", perm, unix.AT_EMPTY_PATH)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS || err == unix.EINVAL {
		err = unix.Chmod(pinnedPath(fd), perm)
	}
	return err
}

// pinBound returns an O_PATH descriptor of the file at the path, and its
// stat, once it is known to be the file fd is bound to.
func (po *pathOwner) pinBound(fd int, path string) (int, unix.Stat_t, error) {
	// The socket names its own file where it may.
	if bfd, ok := boundFileIoctl(fd); ok {
		var st, now unix.Stat_t
		err := unix.Fstat(bfd, &st)
		if err == nil {
			err = unix.Fstatat(po.dirfd, po.base, &now, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err == nil && idOf(&st) == idOf(&now) {
			return bfd, st, nil
		}
		unix.Close(bfd)
		if err != nil && err != unix.ENOENT {
			return -1, st, &os.PathError{Op: "lstat", Path: path, Err: err}
		}
		return -1, st, po.misbound(path, idOf(&st))
	}
	pfd, st, err := pinFile(po.dirfd, po.base)
	if err != nil {
		if err == unix.ENOENT {
			err = po.misbound(path, fileID{})
		} else {
			err = &os.PathError{Op: "open", Path: path, Err: err}
		}
		return -1, st, err
	}
	ok, err := isBoundFile(po.dirfd, fd, pfd, &st)
	if err == nil && !ok {
		err = po.misbound(path, fileID{})
	}
	if err != nil {
		unix.Close(pfd)
		return -1, st, err
	}
	return pfd, st, nil
}

// isBoundFile tells whether the file open as pfd (stat st) in the directory
// dirfd is the one the socket fd is bound to, asking sock_diag. Without
// sock_diag it accepts a socket file of this user that a socket is bound to
// (a connect of another type is refused with EPROTOTYPE), in a directory
// where no other user can put a file (dirPrivate): only this user or root
// could have put another file there.
func isBoundFile(dirfd, fd, pfd int, st *unix.Stat_t) (bool, error) {
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return false, nil
	}
	var sst unix.Stat_t
	err := unix.Fstat(fd, &sst)
	var socks []sockdiag.Socket
	if err == nil {
		socks, err = sockdiag.Exact(uint32(sst.Ino), sockdiag.ShowVFS)
	}
	if err == nil {
		if len(socks) != 1 || !socks[0].HasVFS {
			return false, nil
		}
		on, err := sockdiag.NewFile(pfd, st).Bound(socks)
		if err != nil {
			return false, fmt.Errorf("%w: cannot tell whether the file at the path is the socket this process bound: %w", ErrUnverified, err)
		}
		return len(on) == 1 && int(st.Uid) == os.Geteuid(), nil
	}
	if int(st.Uid) != os.Geteuid() {
		return false, nil
	}
	if private, derr := dirPrivate(dirfd, st.Uid); derr == nil && private {
		if bound, berr := boundOtherType(fd, pfd); berr == nil {
			return bound, nil
		}
	}
	return false, fmt.Errorf("%w: cannot tell whether the file at the path is the socket this process bound: SIOCUNIXFILE needs CAP_NET_ADMIN, sock_diag cannot be asked (%v), and other users can write to the directory; listen in a directory only this user can write to, or allow AF_NETLINK", ErrUnverified, err)
}

// boundOtherType reports whether a socket is bound to the socket file open
// as pfd, by connecting to it with a socket of a type that fd (the socket
// expected there) does not have, and never a datagram one: EPROTOTYPE says
// one is, without touching it.
func boundOtherType(fd, pfd int) (bool, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return false, err
	}
	probe := Stream
	if typ == unix.SOCK_STREAM {
		probe = SeqPacket
	}
	s, err := newSocket(probe)
	if err != nil {
		return false, err
	}
	defer unix.Close(s)
	switch err := sysConnect(s, Path(pinnedPath(pfd))); err {
	case unix.EPROTOTYPE:
		return true, nil
	case unix.ECONNREFUSED, nil:
		// Nothing bound, or a socket of the probe's type: not fd.
		return false, nil
	default:
		return false, err
	}
}

// prepare readies the directory before the bind, with one look at who may
// write to it. It removes what a process that died while removing a file
// there left behind: a moveAside file of this path, or (where other users
// can write) removeAside's directories. And it fails, before anything is
// bound, where adopt would not be able to tell the file the bind creates
// from one that another user swaps in (see isBoundFile): a directory other
// users can write to, no CAP_NET_ADMIN for SIOCUNIXFILE, and no sock_diag.
// Failing after the bind would leave a socket file behind.
func (po *pathOwner) prepare() error {
	private, err := dirPrivate(po.dirfd, uint32(os.Geteuid()))
	if err != nil {
		return &os.PathError{Op: "stat directory of", Path: po.base, Err: err}
	}
	if private {
		var st unix.Stat_t
		if unix.Fstatat(po.dirfd, asideName(po.base), &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			cleanLeftover(po.dirfd, asideName(po.base))
		}
		return nil
	}
	cleanAsides(po.dirfd)
	if hasNetAdmin() {
		return nil
	}
	err = sockdiag.Available()
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: other users can write to the directory, so the socket file must be checked after bind, and neither SIOCUNIXFILE (needs CAP_NET_ADMIN) nor sock_diag (%v) can be had; listen in a directory only this user can write to (or a sticky one such as /tmp), or allow AF_NETLINK; nothing was bound", ErrUnverified, err)
}

// hasNetAdmin reports whether the process has CAP_NET_ADMIN in effect.
func hasNetAdmin() bool {
	if noUnixFileIoctl.Load() {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// dirPrivate reports whether no user other than this one and root can
// replace or remove a file owned by fileUID in the directory dirfd: the
// directory belongs to this user or to root, and either nobody else may
// write to it, or it is sticky and the file is this user's or root's.
func dirPrivate(dirfd int, fileUID uint32) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return false, err
	}
	me := uint32(os.Geteuid())
	trusted := func(uid uint32) bool { return uid == me || uid == 0 }
	if !trusted(st.Uid) {
		return false, nil
	}
	if st.Mode&0o022 == 0 {
		return true, nil
	}
	return st.Mode&unix.S_ISVTX != 0 && trusted(fileUID), nil
}

// misbound is adopt's failure when the file at the path is not the one our
// bind created: that one (if known) is removed wherever the name led.
func (po *pathOwner) misbound(path string, ours fileID) error {
	if ours != (fileID{}) {
		if dir, base := filepath.Split(path); base != "" {
			if dir == "" {
				dir = "."
			}
			if dfd, err := openDir(dir); err == nil {
				_, _ = removeIfSame(dfd, base, ours)
				unix.Close(dfd)
			}
		}
	}
	return newInUseError(0, findReplaced, nil)
}

// removeIfSame removes name in dirfd if it is the file want, and nothing
// else. The file is first moved out of the way and checked where nobody
// can swap another in, then removed; a file that turns out to be another
// is put back. Where no other user can write to the directory (see
// dirPrivate), it is moved to ".<name>.uds-rm" in the same directory
// (moveAside); elsewhere into a new private directory (removeAside).
func removeIfSame(dirfd int, name string, want fileID) (removed bool, err error) {
	var st unix.Stat_t
	switch err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == unix.ENOENT:
		return false, nil
	case err != nil:
		return false, &os.PathError{Op: "lstat", Path: name, Err: err}
	case idOf(&st) != want:
		return false, nil
	}
	private, err := dirPrivate(dirfd, st.Uid)
	if err != nil {
		return false, &os.PathError{Op: "stat directory of", Path: name, Err: err}
	}
	if !private {
		return removeAside(dirfd, name, want)
	}
	return moveAside(dirfd, name, asideName(name), want)
}

// asideName is where moveAside puts name on its way out.
func asideName(name string) string { return "." + name + ".uds-rm" }

// moveAside removes name in dirfd if it is want, moving it to aside (in
// the same directory) first: a file that another process of this user
// swaps in at the last moment is moved instead, found not to be want, and
// put back. Only this user and root can write to the directory, so aside
// is not another user's to squat; a file left there by a process that died
// in between is removed by the next claim of the path (prepare).
func moveAside(dirfd int, name, aside string, want fileID) (bool, error) {
	err := unix.Renameat2(dirfd, name, dirfd, aside, unix.RENAME_NOREPLACE)
	if err == unix.EEXIST {
		cleanLeftover(dirfd, aside)
		err = unix.Renameat2(dirfd, name, dirfd, aside, unix.RENAME_NOREPLACE)
	}
	switch err {
	case nil:
	case unix.ENOENT:
		return false, nil
	case unix.EINVAL, unix.ENOSYS:
		// No RENAME_NOREPLACE on this file system.
		return unlinkIfSame(dirfd, name, want)
	default:
		return false, &os.PathError{Op: "move aside", Path: name, Err: err}
	}
	var st unix.Stat_t
	if unix.Fstatat(dirfd, aside, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && idOf(&st) == want {
		if err := unix.Unlinkat(dirfd, aside, 0); err != nil && err != unix.ENOENT {
			return false, &os.PathError{Op: "remove", Path: aside, Err: err}
		}
		return true, nil
	}
	if err := unix.Renameat2(dirfd, aside, dirfd, name, unix.RENAME_NOREPLACE); err != nil {
		return false, fmt.Errorf("%s was replaced twice while being removed; the first replacement is kept as %s: %w", name, aside, err)
	}
	return false, nil
}

// cleanLeftover removes what a process that died in moveAside left at aside:
// a socket of this user that no socket is bound to.
func cleanLeftover(dirfd int, aside string) {
	pfd, st, err := pinFile(dirfd, aside)
	if err != nil {
		return
	}
	defer unix.Close(pfd)
	if int(st.Uid) != os.Geteuid() || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return
	}
	if stale, err := examine(aside, Stream, pfd, &st); err == nil && stale {
		_, _ = unlinkIfSame(dirfd, aside, idOf(&st))
	}
}

// removeLockFile removes the lock file name in dirfd, held locked by the
// caller, if it is still want. Where only this user and root can write to
// the directory it checks and removes: every taker creates the file with
// O_EXCL, so none puts a file over it, and the holders of two successive
// lock files can be removing at once, so they must not share moveAside's
// name. Elsewhere removeAside's private directories keep out other users.
func removeLockFile(dirfd int, name string, want fileID) (bool, error) {
	private, err := dirPrivate(dirfd, uint32(os.Geteuid()))
	if err != nil {
		return false, &os.PathError{Op: "stat directory of", Path: name, Err: err}
	}
	if private {
		return unlinkIfSame(dirfd, name, want)
	}
	return removeIfSame(dirfd, name, want)
}

// asidePrefix starts the names of the private directories removeAside
// makes; 32 random hex digits follow.
const asidePrefix = ".uds-rm-"

// removeAside removes name in the shared directory dirfd if it is want: it
// makes a private directory (mode 0700, a random name, locked with flock
// while in use), moves the file into it, checks it there, where no other
// user can touch it, and removes it; a file that turns out not to be want is
// put back. A process that dies in between leaves the private directory,
// which the next claim of a path in the directory cleans up
// (cleanAsides).
func removeAside(dirfd int, name string, want fileID) (bool, error) {
	aside, afd, err := makeAside(dirfd)
	if err != nil {
		return false, err
	}
	defer unix.Close(afd) // and its lock
	defer removeAsideDir(dirfd, aside, afd)
	// Check again now that the directory is made: the window in which
	// another user can swap a file in is one system call.
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || idOf(&st) != want {
		return false, nil
	}
	const moved = "f"
	switch err := unix.Renameat(dirfd, name, afd, moved); err {
	case nil:
	case unix.ENOENT:
		return false, nil
	default:
		return false, &os.PathError{Op: "move aside", Path: name, Err: err}
	}
	// Whatever is in hand now is want (remove it) or a file another user
	// swapped in at the last moment, which goes back. If the name is taken
	// again by then, the two are exchanged (RENAME_EXCHANGE): the one in
	// hand goes back and the one that took its place is looked at in turn.
	for try := 0; ; try++ {
		if err := unix.Fstatat(afd, moved, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return false, &os.PathError{Op: "lstat", Path: aside + "/" + moved, Err: err}
		}
		if idOf(&st) == want {
			if err := unix.Unlinkat(afd, moved, 0); err != nil {
				return false, &os.PathError{Op: "remove", Path: name, Err: err}
			}
			return true, nil
		}
		err := unix.Renameat2(afd, moved, dirfd, name, unix.RENAME_NOREPLACE)
		if err == nil {
			return false, nil
		}
		if err == unix.EEXIST && try < maxOwnTries {
			err = unix.Renameat2(afd, moved, dirfd, name, unix.RENAME_EXCHANGE)
			if err == nil || err == unix.ENOENT { // ENOENT: free again
				continue
			}
		}
		// Hand the directory that holds the file to the file's owner, who
		// can take it back from there (a process that is not root cannot,
		// and leaves it locked).
		if unix.Fchown(afd, int(st.Uid), int(st.Gid)) == nil {
			return false, fmt.Errorf("%s kept being replaced while being removed; another user's file is left in %s, now owned by uid %d: %w", name, aside, st.Uid, err)
		}
		return false, fmt.Errorf("%s kept being replaced while being removed; another user's file is left in %s: %w", name, aside, err)
	}
}

// makeAside creates a private directory in dirfd and returns its name and a
// locked descriptor of it.
func makeAside(dirfd int) (string, int, error) {
	for try := 0; try < maxOwnTries; try++ {
		var rnd [16]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return "", -1, err
		}
		name := asidePrefix + hex.EncodeToString(rnd[:])
		if err := unix.Mkdirat(dirfd, name, 0o700); err != nil {
			if err == unix.EEXIST {
				continue
			}
			return "", -1, &os.PathError{Op: "mkdir", Path: name, Err: err}
		}
		afd, err := openAside(dirfd, name, true)
		if err == nil {
			return name, afd, nil
		}
		// Another user swapped a directory of theirs in: leave it.
	}
	return "", -1, fmt.Errorf("could not make a private directory to remove a file safely; gave up after %d tries", maxOwnTries)
}

// openAside opens the private directory name in dirfd and locks it (waiting
// for the lock if wait), after checking that it is a directory of this
// user that nobody else can enter.
func openAside(dirfd int, name string, wait bool) (int, error) {
	afd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(afd, &st); err != nil || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		unix.Close(afd)
		return -1, unix.EPERM
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	if err := unix.Flock(afd, how); err != nil {
		unix.Close(afd)
		return -1, err
	}
	return afd, nil
}

// removeAsideDir removes the private directory name (open as afd), if it is
// still at that name and empty.
func removeAsideDir(dirfd int, name string, afd int) {
	var st, now unix.Stat_t
	if unix.Fstat(afd, &st) == nil && unix.Fstatat(dirfd, name, &now, unix.AT_SYMLINK_NOFOLLOW) == nil && idOf(&st) == idOf(&now) {
		_ = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	}
}

// cleanAsides removes the private directories that a process which died
// while removing a file left in the shared directory dirfd: those of this
// user that no live process holds locked, with the sockets in them that no
// socket is bound to. Anything else is left alone.
func cleanAsides(dirfd int) {
	rfd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(rfd), ".")
	defer d.Close()
	for {
		// In chunks: a directory can hold more names than are worth
		// holding in memory at once.
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if len(name) != len(asidePrefix)+32 || name[:len(asidePrefix)] != asidePrefix {
				continue
			}
			afd, err := openAside(dirfd, name, false)
			if err != nil {
				continue
			}
			cleanAside(afd)
			removeAsideDir(dirfd, name, afd)
			unix.Close(afd)
		}
		if err != nil || len(names) == 0 {
			return
		}
	}
}

func cleanAside(afd int) {
	rfd, err := unix.Openat(afd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(rfd), ".")
	names, _ := d.Readdirnames(maxOwnTries)
	d.Close()
	for _, name := range names {
		pfd, st, err := pinFile(afd, name)
		if err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFSOCK && int(st.Uid) == os.Geteuid() {
			if stale, err := examine(name, Stream, pfd, &st); err == nil && stale {
				_, _ = unlinkIfSame(afd, name, idOf(&st))
			}
		}
		unix.Close(pfd)
	}
}

// siocUnixFile opens the file a Unix socket is bound to, as O_PATH
// (SIOCUNIXFILE in linux/un.h; x/sys does not define it).
const siocUnixFile = unix.SIOCPROTOPRIVATE + 0

// noUnixFileIoctl is set once SIOCUNIXFILE has failed for want of kernel
// support or of CAP_NET_ADMIN, so that it is not tried again.
var noUnixFileIoctl atomic.Bool

// boundFileIoctl returns an O_PATH descriptor of the file the socket fd is
// bound to (ok false if it cannot be had).
func boundFileIoctl(fd int) (pfd int, ok bool) {
	if noUnixFileIoctl.Load() {
		return -1, false
	}
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocUnixFile, 0)
	switch e {
	case 0:
	case unix.ENOTTY, unix.EINVAL, unix.EOPNOTSUPP, unix.EPERM:
		// An old kernel, or no CAP_NET_ADMIN (which a process seldom
		// gains later; sock_diag answers just the same).
		noUnixFileIoctl.Store(true)
		return -1, false
	default: // ENOENT: not bound to a file
		return -1, false
	}
	pfd = int(r)
	var st unix.Stat_t
	if unix.Fstat(pfd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		unix.Close(pfd)
		return -1, false
	}
	return pfd, true
}
