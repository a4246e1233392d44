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
)

// errors.ErrUnsupported means the platform (or the kernel) lacks a feature: the
// errors made with unsupported wrap it, and so errors.ErrUnsupported.
var errUnsupported = fmt.Errorf("uds: %w on %s", errors.ErrUnsupported, runtime.GOOS)

func unsupported(what string) error {
	return fmt.Errorf("%s: %w", what, errUnsupported)
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
	// How says what holds the address.
	How How
	// Err is the system error behind the finding, if there was one
	// (for example syscall.EAGAIN or syscall.EADDRINUSE).
	Err error

	finding finding // what the probe saw, in more detail than How
	detail  string  // for findOtherType: the other socket's network and finding
}

// newInUseError is an *InUseError for the holder pid (0 if unknown), with
// its command name.
func newInUseError(pid int, f finding, err error) *InUseError {
	return &InUseError{PID: pid, Comm: procfs.Comm(pid), How: f.how(), Err: err, finding: f}
}

// Error describes the holder: "address in use (WHAT) by process PID (COMM)",
// where WHAT is what the probe saw ("listening, backlog full", "bound, not
// listening", ...) or How.
func (e *InUseError) Error() string {
	var b strings.Builder
	b.WriteString("address in use")
	if what := e.what(); what != "" {
		b.WriteString(" (")
		b.WriteString(what)
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

// what is what was found in words, with what findOtherType learnt of the
// other socket.
func (e *InUseError) what() string {
	switch {
	case e.finding == 0:
		return string(e.How)
	case e.detail != "":
		return e.finding.String() + " (" + e.detail + ")"
	}
	return e.finding.String()
}

// Unwrap returns ErrInUse and the system error behind the finding.
func (e *InUseError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInUse}
	}
	return []error{ErrInUse, e.Err}
}

// How says what holds an address (InUseError.How). Its values are words,
// for logs; the error's text says in more detail what the probe saw.
type How string

const (
	// HowServing: a socket of the type asked for listens at the address.
	// It accepted a probe connection, refused one because its backlog is
	// full, or the kernel (sock_diag) lists it listening.
	HowServing How = "serving"
	// HowBound: a socket is bound to the address but serves no connection
	// of the type asked for: a stream or seqpacket socket that does not
	// listen (yet), a datagram socket, or a socket of another type.
	HowBound How = "bound"
	// HowLocked: another process holds the address's lock: a path's
	// "<path>.lock" file, or an instance lock.
	HowLocked How = "locked"
	// HowRaced: the address changed while it was being claimed: another
	// process bound the path between the checks and this process's bind, or
	// the path was replaced, or its directory moved, while binding. Nothing
	// was kept; trying again may succeed.
	HowRaced How = "raced"
)

// finding is what a probe or a claim saw of an address's holder.
type finding uint8

const (
	findAccepting    finding = iota + 1 // a probe connection was accepted
	findBacklogFull                     // a listener refused a probe: its backlog is full
	findListening                       // sock_diag lists a listening socket bound to the file
	findNotListening                    // a stream or seqpacket socket is bound and does not listen
	findBound                           // a datagram socket, or a socket at an abstract name a bind found taken
	findOtherType                       // a socket of another type than the one asked for
	findLockHeld                        // another process holds the lock
	findBindRace                        // another process bound the path during setup
	findReplaced                        // the path was replaced, or its directory moved, while binding
)

// how is the finding's How.
func (f finding) how() How {
	switch f {
	case findAccepting, findBacklogFull, findListening:
		return HowServing
	case findLockHeld:
		return HowLocked
	case findBindRace, findReplaced:
		return HowRaced
	}
	return HowBound
}

// String says what was found in words ("accepting connections", "lock
// held", ...).
func (f finding) String() string {
	switch f {
	case findAccepting:
		return "accepting connections"
	case findBacklogFull:
		return "listening, backlog full"
	case findListening:
		return "listening"
	case findNotListening:
		return "bound, not listening"
	case findBound:
		return "bound"
	case findOtherType:
		return "socket of another type"
	case findLockHeld:
		return "lock held"
	case findBindRace:
		return "bound by another process during setup"
	case findReplaced:
		return "path replaced, or its directory moved, while binding; nothing was kept"
	}
	return fmt.Sprintf("finding(%d)", uint8(f))
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
