package instance

import (
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/lockfile"
	"github.com/udskit/uds/internal/sockdiag"
)

// lockBacklog is the abstract lock's listen backlog. Probes are accepted and
// closed at once, so a few slots are enough; when they are full, takers find
// the holder through sock_diag instead.
const lockBacklog = 16

// sockaddr is the abstract address a for x/sys ("@" + name: the exact name,
// with no terminating NUL).
func sockaddr(a uds.Addr) *unix.SockaddrUnix { return &unix.SockaddrUnix{Name: "@" + a.Name()} }

func lockAbstract(a uds.Addr) (*Guard, error) {
	for try := 0; try < lockfile.MaxTries; try++ {
		// Blocking until net.FileListener takes it.
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, os.NewSyscallError("socket", err)
		}
		err = unix.Bind(fd, sockaddr(a))
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
			g := &Guard{addr: a, ln: nl.(*net.UnixListener), drained: make(chan struct{})}
			go g.drain()
			return g, nil
		}
		unix.Close(fd)
		if err != unix.EADDRINUSE {
			return nil, os.NewSyscallError("bind", err)
		}
		held, free := abstractHolder(a)
		if free {
			continue // released between our bind and our probe: try again
		}
		return nil, held
	}
	return nil, errors.New("the lock keeps changing hands; gave up")
}

// abstractHolder finds who holds the abstract stream address a, or reports
// that no one does any more.
func abstractHolder(a uds.Addr) (_ *uds.InUseError, free bool) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return inUse(0, uds.HowLocked, unix.EADDRINUSE), false
	}
	defer unix.Close(fd)
	switch cerr := unix.Connect(fd, sockaddr(a)); cerr {
	case nil:
		// SO_PEERCRED names the process that listened; a child that
		// inherited the lock (uds lock's CMD) may hold it after that one
		// died: ask sock_diag then.
		pid := 0
		if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
		if pid <= 0 || unix.Kill(pid, 0) == unix.ESRCH {
			pid = 0
			if match, err := sockdiag.AbstractBound(a.Name(), unix.SOCK_STREAM); err == nil {
				pid = sockdiag.Holder(match)
			}
		}
		return inUse(pid, uds.HowLocked, unix.EADDRINUSE), false
	case unix.ECONNREFUSED, unix.EAGAIN:
		// Bound and not listening (a squatter, or a holder between bind and
		// listen), gone, or its backlog is full: ask sock_diag.
		match, err := sockdiag.AbstractBound(a.Name(), unix.SOCK_STREAM)
		if err != nil {
			return inUse(0, uds.HowLocked, cerr), false
		}
		if len(match) == 0 {
			return nil, true
		}
		how := uds.HowLocked
		if cerr == unix.ECONNREFUSED {
			how = uds.HowBound
		}
		return inUse(sockdiag.Holder(match), how, cerr), false
	default:
		return inUse(0, uds.HowLocked, cerr), false
	}
}

// drain accepts the connections other takers make to learn who holds the
// lock, and closes them.
func (g *Guard) drain() {
	defer close(g.drained)
	for {
		c, err := g.ln.Accept()
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
