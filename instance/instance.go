// Package instance holds single-instance locks: a program takes one at
// start and exits if another process has it, and the kernel lets it go when
// the holder exits, whatever way it ends (exit, crash, SIGKILL). Lock uses
// an abstract socket name (Linux), LockFile a flock(2) on a file.
//
// Errors are *net.OpError values; one that reports a lock held by another
// process wraps a *uds.InUseError (errors.Is(err, uds.ErrInUse)) naming the
// holder.
package instance

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/udskit/uds"
)

// Guard is a held single-instance lock, taken by Lock or LockFile. It is
// released by Close and, whatever happens, when the process ends: exit,
// crash and SIGKILL included.
type Guard struct {
	addr uds.Addr

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
// to the abstract address uds.Abstract(name) and listens on it (Linux
// only). If another process holds the lock, Lock returns at once an error
// wrapping uds.ErrInUse: a *uds.InUseError (inside a *net.OpError) whose
// PID is the holder, learnt by connecting to the lock and reading
// SO_PEERCRED (or from sock_diag and /proc when the holder does not
// accept). Lock does not wait; a caller that wants to wait retries until
// its context ends. ctx is checked before the attempt.
//
// The kernel frees the name as soon as the socket closes: on Close, and
// when the holder exits or dies, SIGKILL included. Nothing is left behind,
// so there is no stale lock to detect or clean up. A goroutine accepts and
// at once closes the connections other takers make to learn the holder, so
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
// On other platforms Lock returns an error wrapping errors.ErrUnsupported.
func Lock(ctx context.Context, name string) (*Guard, error) {
	a := uds.Abstract(name)
	if err := a.Valid(); err != nil {
		return nil, opError("lock", a, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("lock", a, err)
	}
	g, err := lockAbstract(a)
	if err != nil {
		return nil, opError("lock", a, err)
	}
	return g, nil
}

// LockFile takes the single-instance lock on the file at path with an
// exclusive flock(2), creating the file (mode 0644) if it is missing. A
// symbolic link is not followed, and the file must be a regular file. If
// another process holds the lock, LockFile returns at once an error
// wrapping uds.ErrInUse: a *uds.InUseError (inside a *net.OpError) naming
// the holder, read from /proc/locks on Linux, or from the PID that a uds
// holder writes into the file elsewhere. LockFile does not wait; ctx is
// checked before the attempt.
//
// The holder's PID is written into the file only when the file is empty or
// holds nothing but a PID, so locking an existing file never changes its
// contents; Close empties it again. The file itself is never removed: a
// lock file removed while others wait on it would let two processes hold
// "the" lock at once. The kernel releases the lock when the holder exits or
// dies, SIGKILL included. The descriptor is close-on-exec.
//
// The lock's scope is the file: every process that can open it takes part,
// in any namespace that shares the file system. Use it where Lock's
// abstract names do not exist (darwin, FreeBSD) or are not the right scope.
// On other systems it returns an error wrapping errors.ErrUnsupported.
func LockFile(ctx context.Context, path string) (*Guard, error) {
	a := uds.Path(path)
	if path == "" {
		return nil, opError("lock", a, a.Valid()) // uds's "empty path"
	}
	if err := ctx.Err(); err != nil {
		return nil, opError("lock", a, err)
	}
	g, err := lockFile(path)
	if err != nil {
		return nil, opError("lock", a, err)
	}
	g.addr = a
	return g, nil
}

// Close releases the lock. Calling it again does nothing and returns the
// first call's result.
func (g *Guard) Close() error {
	g.once.Do(func() {
		if g.ln != nil {
			g.err = g.ln.Close()
			<-g.drained
		}
		if g.file != nil {
			if g.wrotePID {
				// Still holding the lock: no one reads a half-cleared PID.
				_ = g.file.Truncate(0)
			}
			g.err = g.file.Close()
		}
		if g.err != nil {
			g.err = opError("unlock", g.addr, g.err)
		}
	})
	return g.err
}

// File returns a new descriptor for the lock (the abstract lock's listening
// socket, or the locked file), for handing the lock to a child process
// through exec.Cmd.ExtraFiles: the kernel keeps the lock for as long as any
// process has a copy of the descriptor open, so a child that inherits it
// holds the lock even after this process exits or is killed, as flock(1)
// does for its command. Closing the returned file releases nothing while
// the Guard (or another copy) is open. The caller closes it.
func (g *Guard) File() (*os.File, error) {
	var c syscall.Conn
	switch {
	case g.ln != nil:
		c = g.ln
	case g.file != nil:
		c = g.file
	default:
		return nil, opError("file", g.addr, errors.New("no lock held"))
	}
	f, err := dupFile(c, g.addr.String())
	if err != nil {
		return nil, opError("file", g.addr, err)
	}
	return f, nil
}

// Addr returns what the lock is held on: the abstract address of a Lock, or
// the file's path (as a pathname address) of a LockFile.
func (g *Guard) Addr() uds.Addr { return g.addr }

// opError is err as the *net.OpError of operation op on a.
func opError(op string, a uds.Addr, err error) error {
	return &net.OpError{Op: op, Net: a.Network(), Addr: a, Err: err}
}
