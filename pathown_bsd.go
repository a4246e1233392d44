//go:build darwin || freebsd

package uds

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The darwin and FreeBSD half of path ownership (pathown_unix.go):
// without sock_diag and O_PATH, a refused probe is repeated before a file is
// taken for stale, and the file's mode and owner are set by name, without
// following a link, after checking its identity.

// refusedRetries is how many times a refused probe is repeated before a
// socket file is stale, refusedRetryDelay apart.
const (
	refusedRetries    = 3
	refusedRetryDelay = 20 * time.Millisecond
)

// probe tells whether the socket file seen at the path is stale. It returns
// an *InUseError if a process holds it, (false, nil) if the file vanished,
// and (true, nil) when probes of it are refused.
//
// A server between bind and listen is refused too, for as long as it takes
// to set the file's mode and owner, so a refused probe is repeated a few
// times first. A listener whose backlog is full also refuses here, so a
// server that stays swamped through every retry is taken for dead: its
// file is removed and it keeps serving the connections it has, unreachable
// by name. The lock file rules that out between uds processes; it is the
// residual risk with other servers.
func (po *pathOwner) probe(a Addr, typ SocketType, seen fileID) (stale bool, err error) {
	if typ == Datagram {
		// A datagram connect would make the probed socket our peer; a
		// stream probe finds a datagram socket as EPROTOTYPE.
		typ = Stream
	}
	for try := 0; ; try++ {
		stale, again, err := po.probeOnce(a, typ, try < refusedRetries)
		if !again {
			return stale, err
		}
		time.Sleep(refusedRetryDelay)
	}
}

// probeOnce makes one probe connection; again asks for another attempt.
func (po *pathOwner) probeOnce(a Addr, typ SocketType, retry bool) (stale, again bool, err error) {
	fd, err := newSocket(typ)
	if err != nil {
		return false, false, fmt.Errorf("%w: cannot probe %s, so it was not removed: %w", ErrUnverified, a.name, os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	switch cerr := sysConnect(fd, a); cerr {
	case nil, unix.EINPROGRESS:
		return false, false, newInUseError(probePeerPID(fd), findAccepting, nil)
	case unix.EAGAIN:
		return false, false, newInUseError(0, findBacklogFull, cerr)
	case unix.EPROTOTYPE:
		return false, false, newInUseError(0, findOtherType, cerr)
	case unix.ENOENT:
		return false, false, nil
	case unix.ECONNREFUSED:
		return !retry, retry, nil
	default:
		return false, false, fmt.Errorf("%w: probing existing socket %s failed, so it was not removed: %w", ErrUnverified, a.name, os.NewSyscallError("connect", cerr))
	}
}

// adopt records the socket file that the bind created and gives it po's
// mode and owner, without following a symbolic link that might have
// replaced it.
func (po *pathOwner) adopt(_ int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(po.dirfd, po.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || (int(st.Uid) != os.Geteuid()) {
		return fmt.Errorf("%w: %s was replaced right after bind", ErrNotSocket, path)
	}
	po.sock = idOf(&st)
	if po.uid >= 0 || po.gid >= 0 {
		if err := unix.Fchownat(po.dirfd, po.base, po.uid, po.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	if po.perm == 0 || uint32(st.Mode)&0o7777 == po.perm {
		return nil
	}
	if err := unix.Fchmodat(po.dirfd, po.base, po.perm, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// removeIfSame removes name in dirfd if it is the file want (a check and a
// removal; no atomic alternative is used here).
func removeIfSame(dirfd int, name string, want fileID) (bool, error) {
	return unlinkIfSame(dirfd, name, want)
}

// removeLockFile removes the lock file name if it is still want.
func removeLockFile(dirfd int, name string, want fileID) (bool, error) {
	return unlinkIfSame(dirfd, name, want)
}

// prepare has nothing to do here: removeIfSame leaves nothing behind, and
// adopt's checks need nothing that can be missing.
func (po *pathOwner) prepare() error { return nil }
