package uds

import (
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockBacklog is the abstract lock's listen backlog. Probes are accepted and
// closed at once, so a few slots are enough; when they are full, takers find
// the holder through sock_diag instead.
const lockBacklog = 16

func lockAbstract(a Addr) (*InstanceLock, error) {
	for try := 0; try < maxLockTries; try++ {
		fd, err := newHandoffSocket(Stream) // blocking until net.FileListener takes it
		if err != nil {
			return nil, os.NewSyscallError("socket", err)
		}
		err = sysBind(fd, a)
		if err == nil {
			if err := unix.Listen(fd, lockBacklog); err != nil {
				unix.Close(fd)
				return nil, os.NewSyscallError("listen", err)
			}
			f := os.NewFile(uintptr(fd), "lock "+a.String())
			nl, err := net.FileListener(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			l := &InstanceLock{addr: a, ln: nl.(*net.UnixListener), drained: make(chan struct{})}
			go l.drain()
			return l, nil
		}
		unix.Close(fd)
		if err != unix.EADDRINUSE {
			return nil, os.NewSyscallError("bind", err)
		}
		inUse, free := abstractLockHolder(a)
		if free {
			continue // released between our bind and our probe: try again
		}
		return nil, inUse
	}
	return nil, errors.New("the lock keeps changing hands; gave up")
}

// abstractLockHolder finds who holds the abstract stream address a, or
// reports that no one does any more.
func abstractLockHolder(a Addr) (_ *InUseError, free bool) {
	fd, err := newSocket(Stream)
	if err != nil {
		return &InUseError{How: "lock held", Err: unix.EADDRINUSE}, false
	}
	defer unix.Close(fd)
	switch cerr := sysConnect(fd, a); cerr {
	case nil:
		// SO_PEERCRED names the process that listened; a child that
		// inherited the lock (uds lock's CMD) may hold it after that one
		// died: ask sock_diag then.
		pid := probePeerPID(fd)
		if pid <= 0 || unix.Kill(pid, 0) == unix.ESRCH {
			pid = 0
			if match, err := abstractBound(a.name, unix.SOCK_STREAM); err == nil {
				pid = holderPID(match)
			}
		}
		return &InUseError{PID: pid, How: "lock held", Err: unix.EADDRINUSE}, false
	case unix.ECONNREFUSED, unix.EAGAIN:
		// Bound and not listening (a squatter, or a holder between bind and
		// listen), gone, or its backlog is full: ask sock_diag.
		match, err := abstractBound(a.name, unix.SOCK_STREAM)
		if err != nil {
			return &InUseError{How: "lock held", Err: cerr}, false
		}
		if len(match) == 0 {
			return nil, true
		}
		how := "lock held, backlog full"
		if cerr == unix.ECONNREFUSED {
			how = "name bound, not listening"
		}
		return &InUseError{PID: holderPID(match), How: how, Err: cerr}, false
	default:
		return &InUseError{How: "lock held", Err: cerr}, false
	}
}

// drain accepts the connections other takers make to learn who holds the
// lock, and closes them.
func (l *InstanceLock) drain() {
	defer close(l.drained)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or memory: let the probes wait.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c.Close()
	}
}
