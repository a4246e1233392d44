//go:build linux || darwin || freebsd

package uds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync"

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

func (b *boundSocket) abort() {
	if b.fd >= 0 {
		unix.Close(b.fd)
		b.fd = -1
	}
	if b.owner != nil {
		b.owner.keep = false
		b.owner.release()
		b.owner = nil
	}
}

// bindSocket creates a socket of type typ and binds it to a, running the
// reclaim algorithm for paths and giving the file its mode and owner. The
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
			b.abort()
		}
	}()
	if a.kind == KindPath {
		if b.owner, err = claimPath(a, typ); err != nil {
			return nil, err
		}
		b.owner.keep = lc.KeepPath
	}
	// Blocking until package net takes it (see newHandoffSocket); bind
	// and listen on a Unix socket do not block.
	b.fd, err = newHandoffSocket(typ)
	if err != nil {
		b.fd = -1
		return nil, os.NewSyscallError("socket", err)
	}
	if lc.Control != nil {
		if err = lc.Control(typ.Network(), a.String(), setupRawConn(b.fd)); err != nil {
			return nil, err
		}
	}
	if lc.PassCred || lc.PassPIDFD {
		if err = setPassCred(b.fd, lc.PassPIDFD); err != nil {
			return nil, err
		}
	}
	if lc.RefuseFiles {
		if err = setRefuseFiles(b.fd); err != nil {
			return nil, err
		}
	}
	perm := uint32(lc.Mode.Perm())
	if a.kind == KindPath && perm != 0 && fchmodBeforeBind {
		// The kernel creates the file with the socket inode's mode less the
		// umask: never wider than asked, from the first instant.
		if err = unix.Fchmod(b.fd, perm); err != nil {
			return nil, os.NewSyscallError("fchmod", err)
		}
	}
	switch {
	case a.kind == KindPath && len(a.name) > MaxPathLen:
		err = sysBind(b.fd, Path(procPath(b.owner.dirfd, b.owner.base)))
	default:
		err = sysBind(b.fd, a)
	}
	if err != nil {
		if err == unix.EADDRINUSE {
			return nil, bindInUse(a, typ, err)
		}
		if a.kind == KindPath && (err == unix.EPERM || err == unix.EOPNOTSUPP || err == unix.EIO) {
			return nil, fmt.Errorf("bind: %w (does the file system hold sockets?)", os.NewSyscallError("bind", err))
		}
		return nil, os.NewSyscallError("bind", err)
	}
	switch a.kind {
	case KindPath:
		if err = b.owner.adopt(b.fd, a.name); err != nil {
			return nil, err
		}
		if err = b.owner.setAttrs(perm, uid, gid); err != nil {
			return nil, err
		}
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

// setAttrs gives the socket file exactly the requested mode and owner,
// without following a symbolic link that might have replaced it.
func (po *pathOwner) setAttrs(perm uint32, uid, gid int) error {
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchownat(po.dirfd, po.base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "chown", Path: po.base, Err: err}
		}
	}
	if perm == 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(po.dirfd, po.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: po.base, Err: err}
	}
	if uint32(st.Mode)&0o7777 == perm || uint64(st.Dev) != po.dev || uint64(st.Ino) != po.ino {
		return nil
	}
	// The umask took bits away; put them back.
	err := unix.Fchmodat(po.dirfd, po.base, perm, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		// No fchmodat2 (Linux < 6.6): pin the file with O_PATH, check it is
		// ours, and change it through its /proc name.
		err = po.chmodPinned(perm)
	}
	if err != nil {
		return &os.PathError{Op: "chmod", Path: po.base, Err: err}
	}
	return nil
}

func lookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if n, e := strconv.Atoi(owner); e == nil && n >= 0 {
			uid = n
		} else {
			u, e := user.Lookup(owner)
			if e != nil {
				return 0, 0, fmt.Errorf("socket owner: %w", e)
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
				return 0, 0, fmt.Errorf("socket group: %w", e)
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

// listenSocket creates, binds and listens on a socket of type typ (Stream or
// SeqPacket) and hands it to the runtime poller.
func (lc *ListenConfig) listenSocket(a Addr, typ SocketType) (*net.UnixListener, Addr, *pathOwner, error) {
	b, err := lc.bindSocket(a, typ)
	if err != nil {
		return nil, Addr{}, nil, err
	}
	if err := unix.Listen(b.fd, lc.backlog()); err != nil {
		b.abort()
		return nil, Addr{}, nil, os.NewSyscallError("listen", err)
	}
	f := os.NewFile(uintptr(b.fd), a.String())
	b.fd = -1
	nl, err := net.FileListener(f)
	f.Close()
	if err != nil {
		b.abort()
		return nil, Addr{}, nil, err
	}
	ul := nl.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	return ul, b.addr, b.owner, nil
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
		b.abort()
		return nil, Addr{}, nil, err
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
