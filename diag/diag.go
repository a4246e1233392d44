// Package diag reports on the Unix sockets of the system: which sockets
// exist and which processes hold them (Sockets, like "ss -xp"), which serve
// an address (Who), and whether an address is served, free or stale (Probe).
//
// Sockets and Who need Linux's sock_diag and /proc; Probe works on Linux,
// darwin and FreeBSD. Elsewhere they return errors wrapping
// errors.ErrUnsupported. Errors are *net.OpError values.
package diag

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/udskit/uds"
)

// SocketState is the state of a Unix socket as the kernel reports it. Its
// values are the kernel's own (the TCP state numbers that AF_UNIX borrows).
type SocketState uint8

const (
	// StateEstablished is a connected socket: an accepted connection, a
	// client that connected, either end of a socket pair, or a datagram
	// socket that connected to a peer.
	StateEstablished SocketState = 1
	// StateConnecting is a stream socket in the middle of connect.
	StateConnecting SocketState = 2
	// StateUnconnected is a socket that is neither listening nor connected:
	// a bound datagram socket, a stream socket bound and not yet listening,
	// a socket whose peer went away.
	StateUnconnected SocketState = 7
	// StateListen is a listening socket.
	StateListen SocketState = 10
)

// String returns "established", "connecting", "unconnected", "listen", or
// "state(N)" for a number this package does not know.
func (s SocketState) String() string {
	switch s {
	case StateEstablished:
		return "established"
	case StateConnecting:
		return "connecting"
	case StateUnconnected:
		return "unconnected"
	case StateListen:
		return "listen"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Socket is one Unix socket of the network namespace, as Sockets and Who
// report it (Linux's sock_diag, with processes found in /proc).
type Socket struct {
	// Addr is the address the socket is bound to, byte for byte as the
	// kernel holds it (an abstract name may contain NUL bytes), with the
	// socket's type. It is Unnamed for sockets that never bound. A
	// connection accepted by a listener carries the listener's address.
	Addr uds.Addr
	// Type is the socket type (also Addr.Type()).
	Type uds.SocketType
	// State says whether the socket listens, is connected or neither.
	State SocketState
	// Inode is the socket's inode number: the N of "socket:[N]" in
	// /proc/PID/fd, what ss prints after the address.
	Inode uint64
	// FileDev and FileIno identify the file a pathname socket is bound to,
	// as the kernel reports them: FileDev is the device of the file
	// system's superblock (what /proc/self/mountinfo lists; stat(2) gives
	// each btrfs subvolume a device of its own instead), and FileIno the
	// low 32 bits of the inode number (all of it below 2^32; XFS and btrfs
	// numbers can be larger). They stay those of the file the socket
	// created, even after the file is removed or renamed. Both are 0 for
	// abstract and unnamed sockets.
	FileDev, FileIno uint64
	// UID is the user that created the socket, -1 if the kernel did not say.
	UID int
	// RQueue and WQueue are the receive and send queue lengths in bytes;
	// for a listener, RQueue is the number of connections waiting to be
	// accepted and WQueue the backlog, as in ss's Recv-Q and Send-Q.
	RQueue, WQueue uint32
	// Peer is the inode of the socket this one is connected to, 0 if none.
	// It is 0 too for a client whose connection waits in a listener's queue:
	// the server's end has no inode until it is accepted.
	Peer uint64
	// Pending lists, for a listener, the inodes of the client sockets whose
	// connections wait in its queue, not yet accepted.
	Pending []uint64
	// Procs are the processes that have a descriptor for the socket, one
	// entry per descriptor. It is empty when no process has one (a
	// connection not yet accepted) or when the processes cannot be read
	// (another user's, without privilege).
	Procs []Proc
	// Shadowed is true for a pathname socket that clients can no longer
	// reach by its name: the file it was bound to was removed or replaced
	// (typically by a second server that removed the path and bound its
	// own socket there). Sockets sets it for sockets bound to absolute
	// paths; Who sets it for sockets bound to the path it was asked about.
	Shadowed bool
	// FilePath is, for a socket bound through a directory descriptor (its
	// Addr is "/proc/self/fd/N/NAME": how this package binds a path longer
	// than sun_path), the path of the socket's file, learnt from a holder's
	// descriptor N and checked against FileDev and FileIno. It is empty
	// for other sockets, and when the path cannot be learnt (the holder
	// closed the directory, or cannot be read without privilege).
	FilePath string
}

// Proc is a process that has a descriptor for a socket.
type Proc struct {
	// PID is the process ID.
	PID int
	// Comm is the process's command name (/proc/PID/comm), "" if it could
	// not be read.
	Comm string
	// FD is the descriptor number in that process.
	FD int
}

// Sockets lists every Unix socket of the calling process's network namespace
// with the processes holding them, like "ss -xp": type, state, exact address,
// socket file, owner, queue lengths, peer, pending connections. Sockets that
// other network namespaces hold (containers) are not seen. The processes are
// found with one pass over /proc/*/fd; those that cannot be read (other
// users', without privilege) are left out. The list is in inode order.
//
// It needs Linux's sock_diag (NETLINK_SOCK_DIAG); elsewhere it returns an
// error wrapping errors.ErrUnsupported.
func Sockets(ctx context.Context) ([]Socket, error) {
	return listSockets(ctx)
}

// Who returns the sockets serving the address a, with their processes.
//
// For a pathname address, the path's file is looked up with lstat (a
// symbolic link is not followed) and the sockets bound to that file (device
// and inode) are returned: relative paths, renamed files and paths reached
// through another directory all resolve. Sockets whose bound name is the
// path's text but that are bound to another file, because the path was
// removed or replaced since, are returned too, with Shadowed set: a second
// "nc -lU PATH" removes the first one's file and binds its own, and Who
// reports both, the first as shadowed.
//
// For an abstract address, the sockets bound to exactly that name are
// returned: one per socket type at most, as each type has its own abstract
// namespace. Who ignores a's socket type.
//
// Connections accepted by a listener carry the listener's address; Who leaves
// them out while their listener is open. Sockets that serve the address come
// first, listeners first among them. An empty result with a nil error means
// nothing serves a.
//
// It needs Linux's sock_diag; elsewhere it returns an error wrapping
// errors.ErrUnsupported.
func Who(ctx context.Context, a uds.Addr) ([]Socket, error) {
	if err := a.Valid(); err != nil {
		return nil, opError("who", a, err)
	}
	if a.Kind() != uds.KindPath && a.Kind() != uds.KindAbstract {
		return nil, opError("who", a, fmt.Errorf("%w: %s names no socket", uds.ErrInvalidAddr, a))
	}
	socks, err := whoServes(ctx, a)
	if err != nil {
		return nil, opError("who", a, err)
	}
	return socks, nil
}

// opError is err as the *net.OpError of operation op on a.
func opError(op string, a uds.Addr, err error) error {
	return &net.OpError{Op: op, Net: a.Network(), Addr: a, Err: err}
}

// unsupported is an error wrapping errors.ErrUnsupported for what.
func unsupported(what string) error {
	return fmt.Errorf("%s: %w", what, errors.ErrUnsupported)
}
