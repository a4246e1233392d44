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
// Side features are in packages of their own, so that a program links only
// what it uses: github.com/udskit/uds/udshttp has HTTP clients whose
// requests all go to one socket, and github.com/udskit/uds/activation takes
// the sockets passed by systemd's socket activation.
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
// for a path, on Linux:
//
//  1. It opens the parent directory (O_PATH) and works inside it from then
//     on, so a rename of the directory or a chdir changes nothing.
//  2. It takes an exclusive flock(2) on "<path>.lock" (as PostgreSQL does
//     beside its socket) and holds it for the listener's life. Another holder
//     means ErrInUse, with its PID from /proc/locks. The lock file must be
//     this process's own: created by it (O_EXCL), or a regular file of the
//     effective user with no other hard link. A symbolic link, a FIFO or
//     device, another user's file or a hard link planted at the name is
//     refused with an error that says which, and nothing is written to it.
//     The lock file is checked after locking to be the one at that name, so
//     a holder that removes it on Close cannot make two processes think they
//     hold it.
//  3. It looks at the path without following it. Nothing there: go on. Not a
//     socket (a file, a directory, a symbolic link): ErrNotSocket, nothing is
//     removed or followed. A socket: it is pinned (an O_PATH descriptor of
//     that inode) and probed through the pin (/proc/self/fd/N), so a link
//     swapped in is never followed. The probe connects with a SOCK_SEQPACKET
//     and then a SOCK_STREAM socket: the kernel finds the socket bound to the
//     inode, whatever its network namespace, and answers EPROTOTYPE for one
//     of another type, listening or not. Connected or a full backlog means a
//     listener of that type; EPROTOTYPE from either means a socket is bound;
//     ECONNREFUSED from both means none is, and since nothing can bind to an
//     existing file, none ever will: that is the one positive evidence of a
//     stale file. A datagram socket is never connected to (that would make
//     the probe its peer and change its state). Live means ErrInUse, with
//     the holder's PID where it can be learnt (SO_PEERCRED, or sock_diag and
//     /proc).
//  4. When the probe cannot be made (no write permission on another user's
//     socket file, no /proc, no free descriptors), sock_diag is asked which
//     sockets are bound to the file. sock_diag names a file by its file
//     system's device as the superblock has it and by the low 32 bits of its
//     inode; stat gives btrfs subvolumes a device of their own and XFS and
//     btrfs inodes above 2^32, so the device is compared through the mount
//     table (/proc/self/mountinfo) and the inode in its low 32 bits. If that
//     cannot be done either (no AF_NETLINK under seccomp, as with systemd's
//     RestrictAddressFamilies=AF_UNIX; no descriptors; an unreadable mount
//     table), Listen fails closed with ErrUnverified and removes nothing.
//  5. A stale file is removed only if it is still the file probed, and so
//     that no file swapped in at the last moment can be removed instead: it
//     is first moved aside, checked there and then removed, and anything
//     else found there is put back. In a directory only this user and root
//     can write to (or a sticky one, for a file of this user or root), the
//     aside name is ".<name>.uds-rm" beside it; where other users can write,
//     it is a new directory with a random name and mode 0700, removed again
//     at once. A process killed in between leaves these behind; the next
//     Listen of a path in that directory removes them (what they hold only
//     if it is a file of this user that is provably stale or unlocked).
//  6. It creates the socket with the requested mode set before bind (the
//     kernel gives the new file that mode less the umask, never more) and
//     binds. Then it makes sure the file at the path is the one its own
//     socket is bound to: the socket names its file where the process has
//     CAP_NET_ADMIN (SIOCUNIXFILE), sock_diag names it otherwise (compared
//     as in step 4, and it must belong to this user). Without either, the
//     file is accepted only in a directory where no other user can put a
//     file, if it is a socket of this user with a socket bound to it; in a
//     directory others can write to, Listen refuses before binding
//     (ErrUnverified). Owner, group and the bits the umask took are then set
//     through a descriptor pinned to that file, and only then does the
//     socket listen. No connection is possible before the file has its
//     final mode. The bound file's device and inode are recorded.
//  7. Close closes the socket, removes the socket file (as in step 5) only
//     if it still has the recorded device and inode, so a server that has
//     taken the path over keeps it, and removes and releases the lock.
//     Errors of every step are reported together.
//
// Programs that do not take the lock (other languages' servers, nc, socat)
// are still detected as live by the probe. What is left: a socket bound in
// another network namespace is seen by the probe but not by sock_diag, so
// where only sock_diag can be asked (step 4) it is missed; and in a
// directory where other users can write, one who swaps files at the path
// twice within a system call can make a removal take their file aside and
// find the name taken when putting it back: it is then left in the private
// directory (handed to its owner when the server runs as root) and Close
// says where.
//
// # Message sockets
//
// A Conn is a stream or a seqpacket connection, as net.UnixConn is for
// "unix" and "unixpacket": the address's Type chooses, for Listen, Dial and
// Pair alike (Path(p).WithType(SeqPacket)). Seqpacket Conns and
// DatagramConns (SOCK_DGRAM) keep message boundaries and never lose data
// silently: a message longer than the buffer returns the bytes that fit and
// an error wrapping ErrTruncated with the true length, a peek (Message.Peek)
// reports the next message's length, and an empty message is told apart
// from the end of a seqpacket connection (SetZeroReadIsEOF trades that for
// package net's speed). Datagram reads report every sender's exact address;
// DialDatagram autobinds so that servers can reply. ReadBatch and WriteBatch
// move many messages per system call. The message paths allocate nothing.
//
// # Credentials and descriptors
//
// PeerCred reads who is at the other end of any Unix connection (PID, UID,
// GID, groups, security label and, on Linux 6.5 and later, a PIDFD that pins
// the process). ListenConfig.Authorize checks every peer inside Accept, which
// is how abstract sockets, which have no file permissions, are protected.
//
// Everything that travels with a message goes through one type, Message,
// and one pair of functions, ReadMsg and WriteMsg, which take any Unix
// socket (a *Conn, a *DatagramConn, a plain *net.UnixConn, an *os.File): the
// data, the sender's or destination's address, credentials (with
// ListenConfig.PassCred the kernel attaches the sender's to every message; a
// credential the kernel did not really record is ErrNoCredentials, never an
// identity) and descriptors (SCM_RIGHTS). Received descriptors are
// close-on-exec from the start; on truncation every descriptor that arrived
// is closed and the byte count is still returned; no hidden byte is added to
// message sockets. FileListener, FileConn and FileDatagramConn rebuild live
// sockets passed to another process, with their exact addresses, for
// zero-downtime restarts.
//
// # Errors
//
// Errors are *net.OpError values that wrap the package's sentinel errors
// (ErrInUse, as an *InUseError carrying the holder's PID and How; ErrNotSocket;
// ErrUnverified; ErrInvalidAddr; ErrTruncated; ErrNoCredentials) or the
// standard library's where one says it already (errors.ErrUnsupported for a
// feature the platform or kernel lacks, os.ErrPermission for a peer a
// policy refused, os.ErrProcessDone for a peer that has exited), and the
// system error underneath, for errors.Is and errors.As.
//
// # Platforms
//
//	feature                          linux   darwin            freebsd           windows
//	addresses: parse, print          yes     yes               yes               yes
//	abstract names, autobind         yes     unsupported       unsupported       unsupported
//	path stream listen, dial         yes     yes               yes               yes (package net)
//	datagram sockets                 yes     yes               yes               unsupported
//	seqpacket sockets                yes     unsupported       yes               unsupported
//	socket pairs, File*, diag.Probe  yes     yes               yes               unsupported
//	stale-path reclaim, lock file    yes     yes (see below)   yes (see below)   no (bind fails)
//	Mode, Owner, Group               yes     yes (see below)   yes (see below)   unsupported
//	paths longer than sun_path       yes     ErrInvalidAddr    ErrInvalidAddr    ErrInvalidAddr
//	PeerCred, Authorize              yes     yes (no PIDFD)    yes (no PIDFD)    unsupported
//	Message.Files, Message.FDs       yes     yes               yes               unsupported
//	ReadBatch, WriteBatch            yes     one per call      one per call      unsupported
//	PassCred, Message.Cred           yes     unsupported       unsupported       unsupported
//	RefuseFiles, Cred.PIDFD          yes     unsupported       unsupported       unsupported
//	diag.Sockets, diag.Who           yes     unsupported       unsupported       unsupported
//	instance.Lock (abstract)         yes     unsupported       unsupported       unsupported
//	instance.LockFile                yes     yes               yes               unsupported
//
// Linux is tested on every change; darwin, FreeBSD and Windows are
// cross-compiled (the package and its tests) but not run by CI. Other
// systems compile and return an error wrapping errors.ErrUnsupported for
// every socket operation; "unsupported" in the table means such an error.
//
// Differences on darwin and FreeBSD:
//
//   - Reclaim: there is no sock_diag and no O_PATH; the probe connects by
//     name with the listener's type (a stream socket for a datagram
//     listener), and a refused probe is repeated three times, 20ms apart,
//     before the file is taken for stale. darwin (and FreeBSD)
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
//     message on darwin (TruncatedError.Len is -1; a Peek read peeks with
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
