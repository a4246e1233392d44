// Package uds makes Unix domain sockets safe and complete to use from Go
// servers and clients.
//
// It plugs into the standard interfaces: a *Listener is a net.Listener (hand
// it to http.Serve or grpc.Server.Serve), a *Conn is a net.Conn and a
// syscall.Conn, and an Addr is a net.Addr. What it adds to package net:
//
//   - Exact addresses of every kind, read back byte for byte from the kernel.
//   - Listeners that reclaim a socket file left by a crashed server and never
//     remove anything else.
//   - Socket file permissions and ownership with no window and no umask
//     change.
//   - Paths longer than sun_path, on Linux.
//   - A Dialer that waits out a full backlog and, if asked, a server that has
//     not started yet.
//
// # Addresses
//
// A Unix socket address is one of four kinds:
//
//   - Path("/run/app.sock"): a socket file in the file system, protected by
//     the file's permissions.
//   - Abstract("app"): a name in Linux's abstract namespace. The name is exact
//     bytes: "app" and "app\x00" are different sockets, and the empty name is
//     valid. Abstract sockets have no file and no permissions, and they are
//     scoped to the network namespace: anyone in the namespace can connect
//     (or take the name first). Check the peer's credentials before trusting
//     one.
//   - Autobind(): a request that the kernel pick an unused abstract name (five
//     hex digits); the bound socket reads back as that abstract name.
//   - Unnamed(): the address of a socket that has none (a socket pair's ends,
//     a client that never bound).
//
// Package net reports abstract names cut at their first NUL byte and unnamed
// sockets as the abstract name "@"; uds reads them with their exact length,
// so the four kinds never read back as one another. Addr.String and ParseAddr
// are inverse to each other: "/path", "./rel", "@name" with \xNN escapes,
// "(autobind)", "(unnamed)"; ParseAddr also reads gRPC's "unix:" and
// "unix-abstract:" forms.
//
// # Reclaiming a stale path
//
// A server killed with SIGKILL leaves its socket file behind, and the next
// bind fails with "address already in use". Removing the file blindly is
// worse: if a server still serves the path, it loses it. Listen does this
// for a path:
//
//  1. It takes an exclusive flock(2) on "<path>.lock" (as PostgreSQL does
//     beside its socket) and holds it for the listener's life. Another holder
//     means ErrInUse, with its PID from /proc/locks. The lock file is checked
//     after locking to be the one at that name, so a holder that removes it
//     on Close cannot make two processes think they hold it.
//  2. It looks at the path without following it. Nothing there: go on. Not a
//     socket (a file, a directory, a symbolic link): ErrNotSocket, nothing is
//     removed or followed. A socket: it is probed with a non-blocking connect
//     of the listener's socket type. Accepted, a full backlog (EAGAIN) or
//     another socket type (EPROTOTYPE) mean live: ErrInUse, with the
//     holder's PID (SO_PEERCRED, or sock_diag and /proc). Refused
//     (ECONNREFUSED) means stale only if sock_diag shows no socket bound to
//     the file's inode, since a socket bound and not yet listening is refused
//     too. Only then is the file removed, and only if it is still the file
//     that was probed.
//  3. It creates the socket with the requested mode set before bind (the
//     kernel gives the new file that mode less the umask, never more), binds,
//     restores any bit the umask removed and sets owner and group without
//     following symbolic links, and only then listens. No connection is
//     possible before the file has its final mode. The bound file's device
//     and inode are recorded.
//  4. Close closes the socket, removes the socket file only if it still has
//     the recorded device and inode (so a server that has taken the path
//     over keeps it), and removes and releases the lock. Errors of every step
//     are reported together.
//
// Programs that do not take the lock (other languages' servers, nc, socat)
// are still detected as live by the probe; the one race left with them is a
// foreign server replacing the file between the last check and the removal
// in step 2 or 4, a window of two system calls.
//
// # Message sockets
//
// SeqPacketConn (SOCK_SEQPACKET) and DatagramConn (SOCK_DGRAM) keep message
// boundaries and never lose data silently: a message longer than the buffer
// returns the bytes that fit and an error wrapping ErrTruncated with the true
// length, PeekSize reports the next message's length, and an empty message is
// told apart from the end of a seqpacket connection (SetZeroReadIsEOF trades
// that for package net's speed). Datagram reads report
// every sender's exact address; DialDatagram autobinds so that servers can
// reply. ReadBatch and WriteBatch move many messages per system call. The
// message paths allocate nothing.
//
// # Credentials and descriptors
//
// PeerCred reads who is at the other end of any Unix connection (PID, UID,
// GID, groups, security label and, on Linux 6.5 and later, a PIDFD that pins
// the process). ListenConfig.Authorize checks every peer inside Accept, which
// is how abstract sockets, which have no file permissions, are protected.
// ListenConfig.PassCred makes the kernel attach the sender's credentials to
// every message, read with the ReadCred methods; a credential the kernel did
// not really record is ErrNoCredentials, never an identity.
//
// SendFiles and RecvFiles (and the methods on every connection type) pass
// descriptors with SCM_RIGHTS. Received descriptors are close-on-exec from
// the start; on truncation every descriptor that arrived is closed and the
// byte count is still returned; no hidden byte is added to message sockets.
// FileListener, FileConn and their siblings rebuild live sockets passed to
// another process, with their exact addresses, for zero-downtime restarts.
//
// # Errors
//
// Errors are *net.OpError values that wrap ErrInUse (as an *InUseError
// carrying the holder's PID), ErrNotSocket, ErrInvalidAddr or ErrUnsupported,
// and the system error underneath, for errors.Is and errors.As.
//
// # Platforms
//
//	feature                          linux   darwin            freebsd           windows
//	addresses: parse, print          yes     yes               yes               yes
//	abstract names, autobind         yes     ErrUnsupported    ErrUnsupported    ErrUnsupported
//	path stream listen, dial         yes     yes               yes               yes (package net)
//	datagram sockets                 yes     yes               yes               ErrUnsupported
//	seqpacket sockets                yes     ErrUnsupported    yes               ErrUnsupported
//	socket pairs, File*, Probe       yes     yes               yes               ErrUnsupported
//	stale-path reclaim, lock file    yes     yes (see below)   yes (see below)   no (bind fails)
//	Mode, Owner, Group               yes     yes (see below)   yes (see below)   ErrUnsupported
//	paths longer than sun_path       yes     ErrInvalidAddr    ErrInvalidAddr    ErrInvalidAddr
//	PeerCred, Authorize              yes     yes (no PIDFD)    yes (no PIDFD)    ErrUnsupported
//	SendFiles, RecvFiles             yes     yes               yes               ErrUnsupported
//	ReadBatch, WriteBatch            yes     one per call      one per call      ErrUnsupported
//	PassCred, ReadCred, WriteCred    yes     ErrUnsupported    ErrUnsupported    ErrUnsupported
//	RefuseFiles, PeerPIDFD           yes     ErrUnsupported    ErrUnsupported    ErrUnsupported
//	Sockets, Who, Lock (abstract)    yes     ErrUnsupported    ErrUnsupported    ErrUnsupported
//	LockFile                         yes     yes               yes               ErrUnsupported
//
// Linux is tested on every change; darwin, FreeBSD and Windows are
// cross-compiled (the package and its tests) but not run by CI. Other
// systems compile and return ErrUnsupported for every socket operation.
// Operations a platform lacks return errors that wrap ErrUnsupported and so
// errors.ErrUnsupported.
//
// Differences on darwin and FreeBSD:
//
//   - Reclaim: there is no sock_diag to tell a socket bound and not yet
//     listening from a dead one, so a refused probe is repeated three times,
//     20ms apart, before the file is taken for stale. darwin (and FreeBSD)
//     also refuse, rather than fail with EAGAIN, when a listener's backlog is
//     full: a server of another program that stays swamped for the whole
//     probe can be taken for dead and lose its path (uds servers are safe:
//     they hold the lock file). The holder's PID comes from the lock file and
//     from LOCAL_PEERPID (darwin) or cr_pid (FreeBSD 13 and later).
//   - Permissions: the kernel gives the socket file 0777 less the umask at
//     bind, so Mode, Owner and Group are applied right after bind (fchmodat
//     and fchownat, not following symbolic links). For stream and seqpacket
//     sockets this is before listen, so no connection sees the wider mode;
//     a datagram socket can receive messages in that window of two system
//     calls. Set a restrictive umask or use a private directory if that
//     matters.
//   - Dial: a full backlog is ECONNREFUSED, indistinguishable from no
//     listener, so it is retried only with WaitForListener.
//   - Messages: the kernel does not report the full length of a truncated
//     message on darwin (TruncatedError.Len is -1; PeekSize peeks with
//     growing buffers). On FreeBSD an empty seqpacket message may read as
//     the end of the connection.
//   - Descriptors: received descriptors are close-on-exec from the start on
//     FreeBSD (MSG_CMSG_CLOEXEC); darwin marks them right after recvmsg
//     while holding syscall.ForkLock, so no fork and exec of package os or
//     syscall can inherit them. On darwin an empty datagram cannot carry
//     descriptors, and the message paths allocate (they go through
//     libSystem).
//   - The parent directory is opened O_SEARCH on FreeBSD and O_RDONLY on
//     darwin (no O_PATH), so on darwin it must be readable.
package uds
