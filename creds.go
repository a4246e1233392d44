package uds

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
)

var (
	// ErrNoCredentials means a message carried no sender credentials: the
	// receiving socket did not have SO_PASSCRED set when the message was
	// sent (the kernel then attaches a credential with PID 0, which uds does
	// not report as an identity), or the peer is not a local process. The
	// Cred filled by a read that fails with it has PID 0 and UID and GID -1,
	// so that code that skips the error does not take the sender for root.
	ErrNoCredentials = errors.New("no sender credentials recorded")
)

// errPeerGone means the peer process has exited: its credentials would name
// a process that no longer exists (and whose PID may be reused). It wraps
// os.ErrProcessDone.
var errPeerGone = fmt.Errorf("peer process has exited: %w", os.ErrProcessDone)

// Cred is the identity of a peer process as the kernel recorded it: for a
// connection, when it connected (SO_PEERCRED); for a message, when it was
// sent (SCM_CREDENTIALS).
type Cred struct {
	PID int // process ID, in this process's PID namespace
	UID int // effective user ID
	GID int // effective group ID

	// Groups are the peer's supplementary groups (SO_PEERGROUPS); nil when
	// the kernel does not report them (per-message credentials never do).
	Groups []int

	// Label is the peer's security label (SO_PEERSEC), "" when no security
	// module labels sockets.
	Label string

	// PIDFD refers to the peer process itself, so that it can be signalled
	// or inspected without the risk that its PID was reused. It comes only
	// from the kernel (SO_PEERPIDFD, SCM_PIDFD; Linux 6.5 and later), never
	// from pidfd_open(PID), and is nil where it cannot be had. Its owner
	// closes it (Close does).
	PIDFD *os.File
}

// Close closes the PIDFD, if any.
func (c *Cred) Close() error {
	if c == nil || c.PIDFD == nil {
		return nil
	}
	err := c.PIDFD.Close()
	c.PIDFD = nil
	return err
}

// String describes the credentials, for logs.
func (c *Cred) String() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("pid=%d uid=%d gid=%d", c.PID, c.UID, c.GID)
}

// PeerCred returns the credentials of the process at the other end of a
// connected Unix socket: a *Conn, a connected *DatagramConn, or a plain
// *net.UnixConn. On Linux they hold PID, UID, GID,
// supplementary groups, the security label and, on Linux 6.5 and later, a
// PIDFD that the caller must close (Cred.Close).
//
// Where the kernel offers a PIDFD, PeerCred checks through it that the peer
// is still running and fails with an error wrapping os.ErrProcessDone if it
// has exited, rather than return a PID that may already name another
// process. On a kernel without
// SO_PEERPIDFD, Cred.PIDFD is nil.
func PeerCred(c syscall.Conn) (*Cred, error) {
	// Written out, not with control: Authorize runs it for every accepted
	// connection, and the helper's closures cost two more allocations.
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *Cred
	var serr error
	if err := rc.Control(func(fd uintptr) { cred, serr = peerCred(int(fd)) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return cred, nil
}

// SameUser returns a policy for ListenConfig.Authorize that accepts only
// peers running with this process's effective user ID. The refusals of
// SameUser, AllowUIDs and AllowGIDs wrap os.ErrPermission and say why.
func SameUser() func(*Cred) error {
	uid := os.Geteuid()
	return func(c *Cred) error {
		if c.UID != uid {
			return fmt.Errorf("%w: uid %d is not this process's uid %d", os.ErrPermission, c.UID, uid)
		}
		return nil
	}
}

// AllowUIDs returns a policy for ListenConfig.Authorize that accepts only
// peers whose effective user ID is one of uids.
func AllowUIDs(uids ...int) func(*Cred) error {
	allowed := slices.Clone(uids)
	return func(c *Cred) error {
		if !slices.Contains(allowed, c.UID) {
			return fmt.Errorf("%w: uid %d is not allowed", os.ErrPermission, c.UID)
		}
		return nil
	}
}

// AllowGIDs returns a policy for ListenConfig.Authorize that accepts only
// peers whose effective group or one of whose supplementary groups is one of
// gids.
func AllowGIDs(gids ...int) func(*Cred) error {
	allowed := slices.Clone(gids)
	return func(c *Cred) error {
		if slices.Contains(allowed, c.GID) {
			return nil
		}
		for _, g := range c.Groups {
			if slices.Contains(allowed, g) {
				return nil
			}
		}
		return fmt.Errorf("%w: none of the groups of uid %d (gid %d, %d more) is allowed", os.ErrPermission, c.UID, c.GID, len(c.Groups))
	}
}

// PassCred turns on SO_PASSCRED on a Unix socket (and SO_PASSPIDFD too with
// pidfd, on Linux 6.5 and later), so that messages sent to it from then on
// carry their sender's credentials. Messages sent before are not covered:
// prefer ListenConfig.PassCred and Dialer.PassCred, which set it at creation.
// On Linux an unbound socket with SO_PASSCRED is given an autobind name when
// it connects or sends.
func PassCred(c syscall.Conn, pidfd bool) error {
	return control(c, func(fd int) error { return setPassCred(fd, pidfd) })
}
