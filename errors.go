package uds

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"

	"github.com/udskit/uds/internal/procfs"
)

var (
	// ErrInUse means a live socket (or a live holder of the address's lock)
	// already has the address. Errors that wrap it are *InUseError values
	// inside a *net.OpError and say which process holds it where that can be
	// learnt.
	ErrInUse = errors.New("address in use")

	// ErrNotSocket means the path exists but is not a socket (a regular file,
	// a directory, a symbolic link, ...). Nothing at the path was removed or
	// followed.
	ErrNotSocket = errors.New("not a socket")

	// ErrUnverified means a check that a change to a file depends on could
	// not be made, so nothing was changed: whether a socket file is stale
	// (no socket bound to it), or whether the file at a path is the socket
	// this process bound. It happens where the kernel's means of telling are
	// out of reach: no AF_NETLINK (a seccomp filter, systemd's
	// RestrictAddressFamilies=), no descriptors left, no /proc, or a file
	// this process may not connect to. The error's text names the check and
	// what an operator can do (usually: remove the file by hand once sure no
	// server uses it, or allow AF_NETLINK).
	ErrUnverified = errors.New("cannot verify socket file")

	// ErrInvalidAddr means an address cannot be used: an empty path, a NUL
	// byte in a path, a name over the length limit, an unnamed address given
	// where a name is needed. The error's text says which and names the limit.
	ErrInvalidAddr = errors.New("invalid address")

	// ErrUnsupported means the platform lacks the feature. It wraps
	// errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("uds: %w on %s", errors.ErrUnsupported, runtime.GOOS)
)

func unsupported(what string) error {
	return fmt.Errorf("%s: %w", what, ErrUnsupported)
}

// InUseError describes who holds an address. errors.Is(err, ErrInUse) is
// true for it. It is filled in when it is made: Error reads nothing.
type InUseError struct {
	// PID is the process that holds the address, 0 if it could not be
	// learnt (another user's process, or a kernel without the means).
	PID int
	// Comm is the holder's command name (/proc/PID/comm), read when the
	// error was made; "" if it could not be read.
	Comm string
	// How says how the holder was found.
	How How
	// Err is the system error behind the finding, if there was one
	// (for example syscall.EAGAIN or syscall.EADDRINUSE).
	Err error

	detail string // for HowOtherType: the other socket's network and How
}

// newInUseError is an *InUseError for the holder pid (0 if unknown), with
// its command name.
func newInUseError(pid int, how How, err error) *InUseError {
	return &InUseError{PID: pid, Comm: procfs.Comm(pid), How: how, Err: err}
}

// Error describes the holder: "address in use (HOW) by process PID (COMM)".
func (e *InUseError) Error() string {
	var b strings.Builder
	b.WriteString("address in use")
	if how := e.how(); how != "" {
		b.WriteString(" (")
		b.WriteString(how)
		b.WriteString(")")
	}
	if e.PID > 0 {
		b.WriteString(" by process ")
		b.WriteString(strconv.Itoa(e.PID))
		if e.Comm != "" {
			b.WriteString(" (")
			b.WriteString(e.Comm)
			b.WriteString(")")
		}
	}
	return b.String()
}

// how is How in words, with what HowOtherType learnt of the other socket.
func (e *InUseError) how() string {
	if e.How == 0 {
		return ""
	}
	if e.detail != "" {
		return e.How.String() + " (" + e.detail + ")"
	}
	return e.How.String()
}

// Is reports whether target is ErrInUse.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Unwrap returns the system error behind the finding.
func (e *InUseError) Unwrap() error { return e.Err }

// How says how the holder of an address was found (InUseError.How).
type How uint8

const (
	// HowAccepting: a probe connection to the socket was accepted.
	HowAccepting How = iota + 1
	// HowBacklogFull: a listener refused a probe because its backlog is
	// full.
	HowBacklogFull
	// HowListening: the kernel (sock_diag) lists a listening socket bound
	// to the file, where a probe connection could not be made.
	HowListening
	// HowNotListening: a stream or seqpacket socket is bound to the
	// address and does not listen (yet).
	HowNotListening
	// HowBound: a socket is bound to the address: a datagram socket at a
	// path, or any socket at an abstract name that a bind found taken.
	HowBound
	// HowOtherType: a socket of another type than the one asked for is
	// bound to the path; Error says which, and in what state, where known.
	HowOtherType
	// HowLockHeld: another process holds the address's lock: a path's
	// "<path>.lock" file, or an instance lock.
	HowLockHeld
	// HowBindRace: another process bound the path between the checks and
	// this process's bind.
	HowBindRace
	// HowReplaced: the path was replaced, or its directory moved, while
	// this process was binding; nothing was kept.
	HowReplaced
)

// String says how in words ("accepting connections", "lock held", ...).
func (h How) String() string {
	switch h {
	case HowAccepting:
		return "accepting connections"
	case HowBacklogFull:
		return "listening, backlog full"
	case HowListening:
		return "listening"
	case HowNotListening:
		return "bound, not listening"
	case HowBound:
		return "bound"
	case HowOtherType:
		return "socket of another type"
	case HowLockHeld:
		return "lock held"
	case HowBindRace:
		return "bound by another process during setup"
	case HowReplaced:
		return "path replaced, or its directory moved, while binding; nothing was kept"
	}
	return fmt.Sprintf("How(%d)", uint8(h))
}

func opError(op string, a Addr, err error) error {
	if err == nil {
		return nil
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: op, Net: a.Network(), Addr: a, Err: err}
}
