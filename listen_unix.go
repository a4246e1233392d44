//go:build linux || darwin || freebsd

package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// setupRawConn is the syscall.RawConn handed to Control hooks: the socket is
// not in the runtime poller yet, so only Control works.
type setupRawConn int

func (c setupRawConn) Control(f func(fd uintptr)) error {
	f(uintptr(c))
	return nil
}

func (c setupRawConn) Read(func(fd uintptr) bool) error {
	return errors.New("uds: Read is not available in a Control hook")
}

func (c setupRawConn) Write(func(fd uintptr) bool) error {
	return errors.New("uds: Write is not available in a Control hook")
}

var somaxconn = sync.OnceValue(func() int {
	if n := systemSomaxconn(); n > 0 {
		return n
	}
	return unix.SOMAXCONN
})

// boundSocket is a socket created, configured and bound by bindSocket.
type boundSocket struct {
	fd    int
	addr  Addr       // the address as the caller should see it
	owner *pathOwner // for pathname sockets
}

// abort undoes bindSocket: the socket is closed, and its file (if ours)
// and the path's lock are let go; it reports what could not be undone.
func (b *boundSocket) abort() error {
	if b.fd >= 0 {
		unix.Close(b.fd)
		b.fd = -1
	}
	var err error
	if b.owner != nil {
		b.owner.keep = false
		err = b.owner.release()
		b.owner = nil
	}
	return err
}

// bindSocket creates a socket of type typ and binds it to a, running the
// path-ownership steps for paths (pathown_unix.go) and giving the file its mode and owner. The
// socket is not listening yet.
func (lc *ListenConfig) bindSocket(a Addr, typ SocketType) (_ *boundSocket, err error) {
	var uid, gid = -1, -1
	if a.kind == KindPath {
		if uid, gid, err = lookupOwner(lc.Owner, lc.Group); err != nil {
			return nil, err
		}
	}
	b := &boundSocket{fd: -1, addr: a}
	defer func() {
		if err != nil {
			err = joinErrors(err, b.abort())
		}
	}()
	if a.kind == KindPath {
		if b.owner, err = ownPath(a, typ); err != nil {
			return nil, err
		}
		b.owner.perm, b.owner.uid, b.owner.gid = lc.perm(), uid, gid
	}
	// Blocking until package net takes it (see newHandoffSocket); bind
	// and listen on a Unix socket do not block.
	b.fd, err = newHandoffSocket(typ)
	if err != nil {
		b.fd = -1
		return nil, os.NewSyscallError("socket", err)
	}
	if err = lc.setupSocket(setupRawConn(b.fd), a, typ); err != nil {
		return nil, err
	}
	if err = bindAddr(b.fd, a, typ, b.owner); err != nil {
		return nil, err
	}
	switch a.kind {
	case KindAutobind:
		var got Addr
		if got, err = sysGetsockname(b.fd, typ); err != nil {
			return nil, os.NewSyscallError("getsockname", err)
		}
		b.addr = got
	}
	b.addr = b.addr.WithType(typ)
	return b, nil
}

// bindAddr binds fd to a, through po's directory for a path longer than
// sun_path, and for a path adopts the file the bind created, giving it po's
// mode and owner (po holds the path's claim; nil for other kinds).
func bindAddr(fd int, a Addr, typ SocketType, po *pathOwner) error {
	var err error
	if a.kind == KindPath && len(a.name) > MaxPathLen {
		err = sysBind(fd, Path(procPath(po.dirfd, po.base)))
	} else {
		err = sysBind(fd, a)
	}
	if err != nil {
		return bindError(a, typ, err)
	}
	if a.kind == KindPath {
		return po.adopt(fd, a.name)
	}
	return nil
}

// setupSocket applies, to a socket not yet bound, the options that must be
// set before bind: the caller's Control hook, SO_PASSCRED/SO_PASSPIDFD,
// SO_PASSRIGHTS and, for a path, the mode the kernel gives the file.
func (lc *ListenConfig) setupSocket(c syscall.RawConn, a Addr, typ SocketType) error {
	if lc.Control != nil {
		if err := lc.Control(typ.network(), a.String(), c); err != nil {
			return err
		}
	}
	var err error
	cerr := c.Control(func(fd uintptr) {
		if lc.PassCred || lc.PassPIDFD {
			if err = setPassCred(int(fd), lc.PassPIDFD); err != nil {
				return
			}
		}
		if lc.RefuseFiles {
			if err = setRefuseFiles(int(fd)); err != nil {
				return
			}
		}
		if perm := lc.perm(); a.kind == KindPath && perm != 0 && fchmodBeforeBind {
			// The kernel creates the file with the socket inode's mode
			// less the umask: never wider than asked, from the first
			// instant.
			if e := unix.Fchmod(int(fd), perm); e != nil {
				err = os.NewSyscallError("fchmod", e)
			}
		}
	})
	if err == nil {
		err = cerr
	}
	return err
}

func (lc *ListenConfig) perm() uint32 { return uint32(lc.Mode.Perm()) }

// bindError explains a failed bind of a.
func bindError(a Addr, typ SocketType, err error) error {
	if err == unix.EADDRINUSE {
		return bindInUse(a, typ, err)
	}
	if a.kind == KindPath && (err == unix.EPERM || err == unix.EOPNOTSUPP || err == unix.EIO) {
		return fmt.Errorf("bind: %w (does the file system hold sockets?)", os.NewSyscallError("bind", err))
	}
	return os.NewSyscallError("bind", err)
}

// ownerLookupError words a failed user or group lookup for the socket file's
// owner or group (what): "socket group: unknown group x". os/user's own
// text ("group: unknown group x") would repeat the prefix; the error still
// unwraps to os/user's.
func ownerLookupError(what string, err error) error {
	return &lookupError{what: what, err: err}
}

type lookupError struct {
	what string
	err  error
}

func (e *lookupError) Error() string {
	msg := e.err.Error()
	var uu user.UnknownUserError
	var ug user.UnknownGroupError
	switch {
	case errors.As(e.err, &uu):
		msg = "unknown user " + string(uu)
	case errors.As(e.err, &ug):
		msg = "unknown group " + string(ug)
	}
	return "socket " + e.what + ": " + msg
}

func (e *lookupError) Unwrap() error { return e.err }

func lookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if n, e := strconv.Atoi(owner); e == nil && n >= 0 {
			uid = n
		} else {
			u, e := user.Lookup(owner)
			if e != nil {
				return 0, 0, ownerLookupError("owner", e)
			}
			uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if group != "" {
		if n, e := strconv.Atoi(group); e == nil && n >= 0 {
			gid = n
		} else {
			g, e := user.LookupGroup(group)
			if e != nil {
				return 0, 0, ownerLookupError("group", e)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, nil
}

func (lc *ListenConfig) backlog() int {
	if lc.Backlog > 0 {
		return lc.Backlog
	}
	return somaxconn()
}

// canListenWithNet reports whether package net can create, bind and listen
// on the socket for a (listenPathNet) instead of the raw calls of
// bindSocket. Package net binds by name and listens right after bind, so it
// can only when all four hold:
//
//   - the system takes the file's mode from the socket before bind
//     (fchmodBeforeBind: Linux), so the file is never wider than asked;
//   - a is a path: package net would read an abstract name's "@" form, and
//     autobind's empty name, otherwise (Path stores a path "@x" as "./@x");
//   - the path fits in sun_path: a longer one is bound through its
//     directory's descriptor (/proc/self/fd/N/name), which only the raw
//     calls do;
//   - no owner or group is asked for: they must be set between bind and
//     listen.
//
// Dial's counterpart is canDialWithNet.
func (lc *ListenConfig) canListenWithNet(a Addr) bool {
	return fchmodBeforeBind && a.kind == KindPath && len(a.name) <= MaxPathLen && lc.Owner == "" && lc.Group == ""
}

// listenSocket creates, binds and listens on a socket of type typ (Stream or
// SeqPacket) and hands it to the runtime poller.
func (lc *ListenConfig) listenSocket(a Addr, typ SocketType) (*net.UnixListener, Addr, *pathOwner, error) {
	if lc.canListenWithNet(a) {
		return lc.listenPathNet(a, typ)
	}
	b, err := lc.bindSocket(a, typ)
	if err != nil {
		return nil, Addr{}, nil, err
	}
	if err := unix.Listen(b.fd, lc.backlog()); err != nil {
		return nil, Addr{}, nil, joinErrors(os.NewSyscallError("listen", err), b.abort())
	}
	f := os.NewFile(uintptr(b.fd), a.String())
	b.fd = -1
	nl, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, Addr{}, nil, joinErrors(err, b.abort())
	}
	ul := nl.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // FileListener's default too; uds removes the file, never net
	return ul, b.addr, b.owner, nil
}

// listenPathNet is listenSocket for the common case on Linux, a path that
// fits in sun_path and no owner or group to set: package net creates, binds
// and listens (it then needs no duplicate of the descriptor, as
// FileListener does), between the lock and the checks of path ownership. The mode is on the socket before bind (setupSocket), so the
// file is never wider than asked; adopt only gives back what the umask
// took.
func (lc *ListenConfig) listenPathNet(a Addr, typ SocketType) (_ *net.UnixListener, _ Addr, _ *pathOwner, err error) {
	po, err := ownPath(a, typ)
	if err != nil {
		return nil, Addr{}, nil, err
	}
	po.perm = lc.perm()
	var ul *net.UnixListener
	defer func() {
		if err != nil {
			if ul != nil {
				ul.Close()
			}
			po.keep = false
			err = joinErrors(err, po.release())
		}
	}()
	nlc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return lc.setupSocket(c, a, typ)
	}}
	nl, err := nlc.Listen(context.Background(), typ.network(), a.name)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		var se *os.SyscallError
		if errors.As(err, &se) && se.Syscall == "bind" {
			err = bindError(a, typ, se.Err)
		}
		return nil, Addr{}, nil, err
	}
	ul = nl.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	rc, err := ul.SyscallConn()
	if err != nil {
		return nil, Addr{}, nil, err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = po.adopt(int(fd), a.name); serr != nil {
			return
		}
		if lc.Backlog > 0 {
			if e := unix.Listen(int(fd), lc.Backlog); e != nil {
				serr = os.NewSyscallError("listen", e)
			}
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, Addr{}, nil, err
	}
	return ul, a, po, nil
}

// packetSocket creates and binds a datagram socket and hands it to the
// runtime poller.
func (lc *ListenConfig) packetSocket(a Addr) (*net.UnixConn, Addr, *pathOwner, error) {
	b, err := lc.bindSocket(a, Datagram)
	if err != nil {
		return nil, Addr{}, nil, err
	}
	uc, err := fdToUnixConn(b.fd, a.String())
	b.fd = -1
	if err != nil {
		return nil, Addr{}, nil, joinErrors(err, b.abort())
	}
	return uc, b.addr, b.owner, nil
}

// fdToUnixConn hands fd to the runtime poller as a *net.UnixConn. fd is
// closed in every case.
func fdToUnixConn(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("descriptor is a %T, not a Unix socket", nc)
	}
	return uc, nil
}
