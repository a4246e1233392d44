package uds

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
)

// maxLockTries bounds the retries when a lock changes hands under us.
const maxLockTries = 16

// InstanceLock is a held single-instance lock, taken by Lock or LockFile. It
// is released by Unlock (or Close) and, whatever happens, when the process
// ends: exit, crash and SIGKILL included.
type InstanceLock struct {
	addr Addr

	// An abstract lock: the listening socket and the goroutine that
	// accepts and closes the probes of other takers.
	ln      *net.UnixListener
	drained chan struct{}

	// A file lock: the locked file, and whether our PID was written in it.
	file     *os.File
	wrotePID bool

	once sync.Once
	err  error
}

// Lock takes the single-instance lock called name: it binds a stream socket
// to the abstract address Abstract(name) and listens on it (Linux only). If
// another process holds the lock, Lock returns at once an error wrapping
// ErrInUse: an *InUseError (inside a *net.OpError) whose PID is the holder,
// learnt by connecting to the lock and reading SO_PEERCRED (or from sock_diag
// and /proc when the holder does not accept). Lock does not wait; a caller
// that wants to wait retries until its context ends. ctx is checked before
// the attempt.
//
// The kernel frees the name as soon as the socket closes: on Unlock, and when
// the holder exits or dies, SIGKILL included. Nothing is left behind, so
// there is no stale lock to detect or clean up. A goroutine accepts and at
// once closes the connections other takers make to learn the holder, so
// their probes do not pile up. The socket is close-on-exec: child processes
// do not inherit the lock.
//
// Scope: abstract names belong to the network namespace. Every process in
// the same network namespace sees the lock, whatever its user or mount
// namespace; a process in another network namespace (a container with its
// own network) does not, and can hold a lock of the same name at the same
// time. Use LockFile for a lock scoped by the file system instead.
//
// Squatting: abstract names have no owner and no permissions. Any process
// in the namespace can bind the name first and so keep Lock failing (the
// error then names that process). Choose a name specific to the program and
// the user, such as "myapp-" + strconv.Itoa(os.Getuid()), and use LockFile
// with a file in a directory that only trusted users can write to when a
// squatter must not be able to block the program.
//
// On other platforms Lock returns an error wrapping ErrUnsupported.
func Lock(ctx context.Context, name string) (*InstanceLock, error) {
	a := Abstract(name)
	if err := a.validate(); err != nil {
		return nil, opError("lock", a, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("lock", a, err)
	}
	l, err := lockAbstract(a)
	if err != nil {
		return nil, opError("lock", a, err)
	}
	return l, nil
}

// LockFile takes the single-instance lock on the file at path with an
// exclusive flock(2), creating the file (mode 0644) if it is missing. A
// symbolic link is not followed, and the file must be a regular file. If
// another process holds the lock, LockFile returns at once an error wrapping
// ErrInUse: an *InUseError (inside a *net.OpError) naming the holder, read
// from /proc/locks on Linux, or from the PID that a uds holder writes into the
// file elsewhere. LockFile does not wait; ctx is checked before the attempt.
//
// The holder's PID is written into the file only when the file is empty or
// holds nothing but a PID, so locking an existing file never changes its
// contents; Unlock empties it again. The file itself is never removed: a
// lock file removed while others wait on it would let two processes hold
// "the" lock at once. The kernel releases the lock when the holder exits or
// dies, SIGKILL included. The descriptor is close-on-exec.
//
// The lock's scope is the file: every process that can open it takes part,
// in any namespace that shares the file system. Use it where Lock's abstract
// names do not exist (darwin, the BSDs) or are not the right scope. On
// Windows it returns an error wrapping ErrUnsupported.
func LockFile(ctx context.Context, path string) (*InstanceLock, error) {
	a := Path(path)
	if path == "" {
		return nil, opError("lock", a, errEmptyPath)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("lock", a, err)
	}
	l, err := lockFile(path)
	if err != nil {
		return nil, opError("lock", a, err)
	}
	l.addr = a
	return l, nil
}

// Unlock releases the lock. Calling it again does nothing and returns the
// first call's result.
func (l *InstanceLock) Unlock() error {
	l.once.Do(func() {
		if l.ln != nil {
			l.err = l.ln.Close()
			<-l.drained
		}
		if l.file != nil {
			if l.wrotePID {
				// Still holding the lock: no one reads a half-cleared PID.
				_ = l.file.Truncate(0)
			}
			l.err = l.file.Close()
		}
		if l.err != nil {
			l.err = opError("unlock", l.addr, l.err)
		}
	})
	return l.err
}

// Close releases the lock, as Unlock does.
func (l *InstanceLock) Close() error { return l.Unlock() }

// File returns a new descriptor for the lock (the abstract lock's listening
// socket, or the locked file), for handing the lock to a child process
// through exec.Cmd.ExtraFiles: the kernel keeps the lock for as long as any
// process has a copy of the descriptor open, so a child that inherits it
// holds the lock even after this process exits or is killed, as flock(1)
// does for its command. Closing the returned file releases nothing while
// the InstanceLock (or another copy) is open. The caller closes it.
func (l *InstanceLock) File() (*os.File, error) {
	var c syscall.Conn
	switch {
	case l.ln != nil:
		c = l.ln
	case l.file != nil:
		c = l.file
	default:
		return nil, opError("file", l.addr, errors.New("no lock held"))
	}
	f, err := dupFile(c, l.addr)
	if err != nil {
		return nil, opError("file", l.addr, err)
	}
	return f, nil
}

// Addr returns what the lock is held on: the abstract address of a Lock, or
// the file's path (as a pathname address) of a LockFile.
func (l *InstanceLock) Addr() Addr { return l.addr }
