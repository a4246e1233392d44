package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Windows (10 1803 and later) has pathname stream sockets, served here by
// package net: Listen, Dial and Listener and Conn as on Unix, with the path
// removed on Close only while it is still the socket this listener created.
// There is no stale-path reclaim (an existing file fails the bind), no file
// mode or owner, no abstract names, no datagram or seqpacket sockets, no
// socket pairs, credentials or descriptor passing: those return errors
// wrapping errors.ErrUnsupported.

// wsaECONNREFUSED is Winsock's "connection refused".
const wsaECONNREFUSED = syscall.Errno(10061)

func checkPathLen(p string) error {
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path", ErrInvalidAddr, len(p), MaxPathLen)
	}
	return nil
}

// pathOwner is a Windows listener's hold on its path: the socket file it
// created, identified by os.SameFile (there is no inode to compare).
type pathOwner struct {
	path string
	fi   os.FileInfo // nil if the file could not be read after bind
	keep bool
}

func (po *pathOwner) setKeep(keep bool) { po.keep = keep }

// release removes the socket file if it is still the one this listener
// created, unless it is to be kept.
func (po *pathOwner) release() error {
	if po.keep || po.fi == nil {
		return nil
	}
	now, err := os.Lstat(po.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if !os.SameFile(po.fi, now) {
		return nil // another server has the path now: leave it
	}
	if err := os.Remove(po.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// windowsOptions refuses the options that Windows cannot honour.
func (lc *ListenConfig) windowsOptions() error {
	switch {
	case lc.Mode != 0, lc.Owner != "", lc.Group != "":
		return unsupported("socket file mode and owner")
	case lc.Backlog != 0:
		return unsupported("listen backlog")
	case lc.Authorize != nil:
		return unsupported("Authorize (peer credentials)")
	case lc.PassCred, lc.PassPIDFD:
		return unsupported("per-message credentials")
	case lc.RefuseFiles:
		return unsupported("RefuseFiles")
	}
	return nil
}

func (lc *ListenConfig) listenSocket(a Addr, typ SocketType) (*net.UnixListener, Addr, *pathOwner, error) {
	if typ != Stream {
		return nil, Addr{}, nil, unsupported(typ.String() + " sockets")
	}
	if a.kind != KindPath {
		return nil, Addr{}, nil, unsupported(a.kind.String() + " addresses")
	}
	if err := lc.windowsOptions(); err != nil {
		return nil, Addr{}, nil, err
	}
	nlc := net.ListenConfig{Control: lc.Control}
	nl, err := nlc.Listen(context.Background(), "unix", a.name)
	if err != nil {
		return nil, Addr{}, nil, err
	}
	ul := nl.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	po := &pathOwner{path: a.name}
	// Remember the file this bind created; Close removes only that one.
	po.fi, _ = os.Lstat(a.name)
	return ul, a.WithType(Stream), po, nil
}

func (d *Dialer) dialStream(ctx context.Context, a Addr) (*Conn, error) {
	if a.kind != KindPath {
		return nil, unsupported(a.kind.String() + " addresses")
	}
	switch {
	case d.LocalAddr.kind != KindUnnamed:
		return nil, unsupported("Dialer.LocalAddr")
	case d.PassCred:
		return nil, unsupported("per-message credentials")
	case d.RefuseFiles:
		return nil, unsupported("RefuseFiles")
	}
	nd := net.Dialer{Control: d.Control}
	var delay time.Duration
	var last error // the last attempt's error, named when the context ends
	for {
		if cerr := ctx.Err(); cerr != nil {
			return nil, withLastAttempt(cerr, last)
		}
		nc, err := nd.DialContext(ctx, "unix", a.name)
		if err == nil {
			return newConn(nc.(*net.UnixConn), Addr{}, a, false)
		}
		// The caller's opError names this package's address.
		if oe, ok := err.(*net.OpError); ok {
			err = oe.Err
		}
		if !d.WaitForListener || !notListening(err) {
			return nil, err
		}
		last = err
		delay = retryDelay(delay, waitRetryLimit)
		if cerr := sleepCtx(ctx, delay); cerr != nil {
			return nil, withLastAttempt(cerr, last)
		}
	}
}

// notListening reports whether a dial failed because the socket is missing
// or nothing listens on it.
func notListening(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case wsaECONNREFUSED, syscall.ERROR_FILE_NOT_FOUND, syscall.ERROR_PATH_NOT_FOUND, syscall.ECONNREFUSED:
		return true
	}
	return false
}

// socketpairConns: Windows has no socketpair(2).
func socketpairConns(SocketType) ([2]*net.UnixConn, error) {
	return [2]*net.UnixConn{}, unsupported("socketpair")
}

func addrOf(sa syscall.Sockaddr, err error, typ SocketType) (Addr, error) {
	if err != nil {
		return Addr{}, err
	}
	// An unnamed socket reads back as "" or, from package syscall, "@".
	if su, ok := sa.(*syscall.SockaddrUnix); ok && su.Name != "" && su.Name != "@" {
		return Path(su.Name).WithType(typ), nil
	}
	return Addr{typ: typ}, nil
}

func sysGetsockname(fd int, typ SocketType) (Addr, error) {
	sa, err := syscall.Getsockname(syscall.Handle(fd))
	return addrOf(sa, err, typ)
}

func sysGetpeername(fd int, typ SocketType) (Addr, error) {
	sa, err := syscall.Getpeername(syscall.Handle(fd))
	return addrOf(sa, err, typ)
}
