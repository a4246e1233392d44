package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// ListenConfig holds the options for creating a listener. The zero value is
// ready to use: the socket file gets the platform's default mode, keeps the
// process's owner, and is removed on Close.
type ListenConfig struct {
	// Mode, if not zero, is the permission of a pathname socket's file
	// (for example 0600 or 0660). The file has this mode from the moment it
	// exists: on Linux the socket is given the mode before bind, and any bit
	// the umask took away is restored before the socket accepts anything.
	// The process's umask is never changed. Abstract sockets have no
	// permissions; protect them by checking the peer's credentials.
	// On darwin and FreeBSD the mode is set right after bind: before listen
	// for stream and seqpacket sockets, but a datagram socket can receive
	// messages for those two system calls. Not available on Windows.
	Mode os.FileMode

	// Owner and Group, if not empty, are the user and group (a name or a
	// numeric ID) given to a pathname socket's file before the socket
	// accepts anything. Changing the owner needs privilege.
	Owner, Group string

	// Backlog is the length of the queue of connections waiting for
	// Accept. Zero means the system's maximum (net.core.somaxconn).
	Backlog int

	// Control, if not nil, is called after the socket is created and before
	// it is bound, like net.ListenConfig.Control. network is "unix",
	// "unixgram" or "unixpacket" and address is the address's text form.
	Control func(network, address string, c syscall.RawConn) error

	// Authorize, if not nil, sees the credentials of every connecting peer
	// inside Accept (stream and seqpacket listeners). A connection it
	// refuses (returns an error for) is closed and never returned, and
	// Accept waits for the next one, so http.Serve and grpc.Server.Serve
	// keep serving. A peer whose credentials cannot be read (it has already
	// exited) is refused too. Cred.PIDFD is valid only during the call. See
	// SameUser, AllowUIDs and AllowGIDs (AllowUIDs(0) for root only). Abstract sockets have no
	// file permissions: this is how to protect them.
	Authorize func(*Cred) error

	// OnRefuse, if not nil, is told about each connection Authorize
	// refused (cred is nil if the credentials could not be read). It runs
	// inside Accept: keep it short.
	OnRefuse func(cred *Cred, err error)

	// RefuseFiles makes the socket, and every connection accepted from it,
	// refuse descriptors (SO_PASSRIGHTS=0, set before bind; Linux copies it
	// to accepted connections): a peer that sends files fails with EPERM
	// and nothing reaches this process. Use it for sockets that never expect
	// files. Linux 6.16 and later; on older kernels the listen fails with an
	// error wrapping errors.ErrUnsupported.
	RefuseFiles bool

	// PassCred sets SO_PASSCRED on the socket before it is bound (and so on
	// every connection accepted from it), so that the kernel attaches the
	// sender's credentials to each message: read them with ReadMsg
	// (Message.Cred). Setting the option later is too late for messages already
	// sent. PassPIDFD also attaches a PIDFD to each message (SO_PASSPIDFD,
	// Linux 6.5 and later).
	PassCred, PassPIDFD bool
}

// Listener is a Unix stream or seqpacket socket listener: a net.Listener
// whose Accept returns *Conn values with exact addresses, of the listener's
// socket type (its Addr's Type). Pathname listeners hold the path's lock
// file ("<path>.lock") for their lifetime, and Close removes the socket file
// only while it is still theirs.
type Listener struct {
	ln        *net.UnixListener
	addr      Addr
	owner     *pathOwner // nil for abstract and inherited sockets
	authorize func(*Cred) error
	onRefuse  func(*Cred, error)

	mu        sync.Mutex // guards owner.keep against Close
	closeOnce sync.Once
	closeErr  error
}

var (
	_ net.Listener = (*Listener)(nil)
	_ syscall.Conn = (*Listener)(nil)
)

// Listen announces on the address a with the default configuration. See
// ListenConfig.Listen.
func Listen(ctx context.Context, a Addr) (*Listener, error) {
	var lc ListenConfig
	return lc.Listen(ctx, a)
}

// Listen announces on the address a, which must be a path, an abstract
// name or Autobind, with the socket type a.Type(): Stream (the type of
// Path(p) and Abstract(name)) or SeqPacket (a.WithType(SeqPacket)). A
// datagram socket has no connections to accept: use ListenDatagram.
//
// For a path it reclaims a stale socket file left by a process that died, and
// never removes anything else: it takes an exclusive lock on "<path>.lock"
// (failing with ErrInUse and the holder's PID if another process has it, and
// refusing a lock file that is not its own), fails with ErrNotSocket if
// something other than a socket is at the path (symbolic links are not
// followed), asks the kernel whether a socket is bound to an existing socket
// file, and fails with ErrInUse if one is (accepting, with a full backlog,
// of another socket type, or bound and not yet listening). Only a socket
// file the kernel says no socket is bound to is removed; where that cannot
// be learnt, Listen fails with ErrUnverified and removes nothing. The
// package documentation has the steps.
//
// Errors are *net.OpError values wrapping ErrInUse (as an *InUseError),
// ErrNotSocket, ErrUnverified, ErrInvalidAddr or the system error.
func (lc *ListenConfig) Listen(ctx context.Context, a Addr) (*Listener, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError("listen", a, err)
	}
	if a.typ == Datagram {
		return nil, opError("listen", a, errListenDatagram)
	}
	if err := a.validate(); err != nil {
		return nil, opError("listen", a, err)
	}
	if err := lc.validate(); err != nil {
		return nil, opError("listen", a, err)
	}
	ul, laddr, owner, err := lc.listenSocket(a, a.typ)
	if err != nil {
		return nil, opError("listen", a, err)
	}
	return &Listener{ln: ul, addr: laddr, owner: owner, authorize: lc.Authorize, onRefuse: lc.OnRefuse}, nil
}

var errListenDatagram = fmt.Errorf("%w: a datagram socket has no connections to accept: use ListenDatagram", ErrInvalidAddr)

// Accept waits for and returns the next connection, a *Conn of the
// listener's socket type (c.(*uds.Conn) for its methods). Its LocalAddr is
// the listener's address and its RemoteAddr the peer's exact address
// (usually unnamed: clients rarely bind).
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.acceptConn()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// acceptConn is Accept with the connection's own type.
func (l *Listener) acceptConn() (*Conn, error) {
	uc, err := l.accept()
	if err != nil {
		return nil, err
	}
	var c *Conn
	if l.addr.typ == SeqPacket {
		var m *msgConn
		if m, err = newMsgConn(uc, SeqPacket, l.addr, Unnamed(), true, false); err == nil {
			m.peerLazy = true // read on first use, as for a stream
			c = seqConn(m)
		}
	} else {
		c = acceptedConn(uc, l.addr)
	}
	if err != nil {
		uc.Close()
		return nil, opError("accept", l.addr, err)
	}
	return c, nil
}

func (l *Listener) accept() (*net.UnixConn, error) {
	for {
		uc, err := l.ln.AcceptUnix()
		if err != nil {
			var oe *net.OpError
			if errors.As(err, &oe) {
				e := *oe
				e.Addr = l.addr
				return nil, &e
			}
			return nil, err
		}
		if l.authorize == nil || l.admit(uc) {
			return uc, nil
		}
	}
}

// admit runs the Authorize hook on a new connection and closes it if
// refused.
func (l *Listener) admit(uc *net.UnixConn) bool {
	cred, err := PeerCred(uc)
	if err == nil {
		err = l.authorize(cred)
		cred.Close()
	}
	if err == nil {
		return true
	}
	uc.Close()
	if l.onRefuse != nil {
		l.onRefuse(cred, err)
	}
	return false
}

// Addr returns the listener's address, a uds.Addr: the path as given (not
// the /proc path a long path was bound through), or the exact abstract name
// (the kernel's choice for Autobind).
func (l *Listener) Addr() net.Addr { return l.addr }

// SetDeadline sets the deadline for Accept. A zero time means no deadline.
func (l *Listener) SetDeadline(t time.Time) error { return l.ln.SetDeadline(t) }

// SyscallConn returns a raw network connection for the listening socket.
func (l *Listener) SyscallConn() (syscall.RawConn, error) { return l.ln.SyscallConn() }

// Close stops the listener. For a pathname listener it then removes the
// socket file if it is still the one this listener bound (unless
// SetUnlinkOnClose(false) was called) and releases and removes the lock
// file. Errors of every step are
// reported together. Close is safe to call more than once; later calls
// return the first call's result.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		err := l.ln.Close()
		if l.owner != nil {
			l.mu.Lock()
			err = joinErrors(err, l.owner.release())
			l.mu.Unlock()
		}
		if err != nil {
			l.closeErr = opError("close", l.addr, err)
		}
	})
	return l.closeErr
}

// validate checks the options that do not depend on the address.
func (lc *ListenConfig) validate() error {
	if lc.Backlog < 0 {
		return fmt.Errorf("invalid Backlog %d: use 0 for the system's maximum or a positive length", lc.Backlog)
	}
	if extra := lc.Mode &^ os.ModePerm; extra != 0 {
		return fmt.Errorf("invalid Mode %v: only permission bits (0o777) apply to a socket file, not %v", lc.Mode, extra)
	}
	return nil
}
