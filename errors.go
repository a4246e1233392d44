package uds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
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
// true for it.
type InUseError struct {
	// PID is the process that holds the address, 0 if it could not be
	// learnt (another user's process, or a kernel without the means).
	PID int
	// How says how the holder was found: "lock" (the holder has the
	// address's lock file), "connect" (a probe connection was accepted),
	// "backlog full", "other socket type", "bound, not listening", "bind".
	How string
	// Err is the system error behind the finding, if there was one
	// (for example syscall.EAGAIN or syscall.EADDRINUSE).
	Err error
}

// Error describes the holder, with its command name when it can be read.
func (e *InUseError) Error() string {
	var b strings.Builder
	b.WriteString("address in use")
	if e.How != "" {
		b.WriteString(" (")
		b.WriteString(e.How)
		b.WriteString(")")
	}
	if e.PID > 0 {
		b.WriteString(" by process ")
		b.WriteString(strconv.Itoa(e.PID))
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(e.PID) + "/comm"); err == nil {
			b.WriteString(" (")
			b.WriteString(strings.TrimSpace(string(comm)))
			b.WriteString(")")
		}
	}
	return b.String()
}

// Is reports whether target is ErrInUse.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Unwrap returns the system error behind the finding.
func (e *InUseError) Unwrap() error { return e.Err }

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
