//go:build linux || darwin || freebsd

package uds

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// backlogRetryLimit caps the backoff while a listener's queue is full: it
// drains fast once the server accepts.
const backlogRetryLimit = 20 * time.Millisecond

// bindLocal binds fd to the local address a of a client socket, with the
// reclaim rules for a path.
func bindLocal(fd int, a Addr, typ SocketType) (*pathOwner, error) {
	var po *pathOwner
	if a.kind == KindPath {
		var err error
		if po, err = ownPath(a, typ); err != nil {
			return nil, err
		}
	}
	if err := bindAddr(fd, a, typ, po); err != nil {
		if po != nil {
			err = joinErrors(err, po.release())
		}
		return nil, err
	}
	return po, nil
}

// localBindError is the error of a dial to a whose local address laddr
// could not be bound: it names both, the local one as the source.
func localBindError(a, laddr Addr, typ SocketType, err error) error {
	return &net.OpError{Op: "dial", Net: typ.network(), Source: laddr, Addr: a, Err: err}
}

// connectTarget returns the address to pass to connect(2) for a, opening the
// parent directory for a path longer than sun_path. The caller closes dirfd
// if it is not -1.
func connectTarget(a Addr) (target Addr, dirfd int, err error) {
	if a.kind != KindPath || len(a.name) <= MaxPathLen {
		return a, -1, nil
	}
	dir, base := filepath.Split(a.name)
	if dir == "" {
		dir = "."
	}
	dirfd, err = openDir(dir)
	if err != nil {
		return Addr{}, -1, err
	}
	return Path(procPath(dirfd, base)), dirfd, nil
}

// connectRetry connects fd to a, retrying a full backlog (and, with wait, a
// missing or refusing listener) with capped backoff until ctx ends.
func connectRetry(ctx context.Context, fd int, a Addr, wait bool) error {
	var delay time.Duration
	var last error // the last attempt's error, named when the context ends
	for {
		if cerr := ctx.Err(); cerr != nil {
			return withLastAttempt(cerr, last)
		}
		target, dirfd, err := connectTarget(a)
		if err == nil {
			err = sysConnect(fd, target)
			if dirfd >= 0 {
				unix.Close(dirfd)
			}
		}
		var limit time.Duration
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			limit = backlogRetryLimit
		case wait && (err == unix.ENOENT || err == unix.ECONNREFUSED):
			limit = waitRetryLimit
		default:
			return os.NewSyscallError("connect", err)
		}
		last = os.NewSyscallError("connect", err)
		delay = retryDelay(delay, limit)
		if cerr := sleepCtx(ctx, delay); cerr != nil {
			return withLastAttempt(cerr, last)
		}
	}
}

// setOptions sets the Dialer's socket options on fd before it connects.
func (d *Dialer) setOptions(fd int) error {
	if d.PassCred {
		if err := setPassCred(fd, false); err != nil {
			return err
		}
	}
	if d.RefuseFiles {
		return setRefuseFiles(fd)
	}
	return nil
}

// dialSocket creates a socket of type typ, binds laddr unless it is unnamed,
// connects it to a with retries, and hands it to the runtime poller.
func (d *Dialer) dialSocket(ctx context.Context, a Addr, typ SocketType, laddr Addr) (_ *net.UnixConn, _ *pathOwner, err error) {
	if err := ctx.Err(); err != nil {
		// As in net: no socket is made, no hook called, nothing bound.
		return nil, nil, err
	}
	if canDialWithNet(a, laddr) {
		uc, err := d.dialWithNet(ctx, a, typ, laddr)
		return uc, nil, err
	}
	fd, err := newSocket(typ)
	if err != nil {
		return nil, nil, os.NewSyscallError("socket", err)
	}
	var owner *pathOwner
	defer func() {
		if err != nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			if owner != nil {
				owner.release()
			}
		}
	}()
	if d.Control != nil {
		if err = d.Control(typ.network(), a.String(), setupRawConn(fd)); err != nil {
			return nil, nil, err
		}
	}
	if err = d.setOptions(fd); err != nil {
		return nil, nil, err
	}
	if laddr.kind != KindUnnamed {
		if owner, err = bindLocal(fd, laddr, typ); err != nil {
			return nil, nil, localBindError(a, laddr, typ, err)
		}
	}
	if err = connectRetry(ctx, fd, a, d.WaitForListener); err != nil {
		return nil, nil, err
	}
	uc, err := fdToUnixConn(fd, a.String())
	fd = -1
	if err != nil {
		return nil, nil, err
	}
	return uc, owner, nil
}

func (d *Dialer) dialStream(ctx context.Context, a Addr) (*Conn, error) {
	laddr := d.LocalAddr.WithType(Stream)
	uc, owner, err := d.dialSocket(ctx, a, Stream, laddr)
	if err != nil {
		return nil, err
	}
	c, err := newConn(uc, laddr, a, laddr.kind == KindAutobind || d.PassCred)
	if err != nil {
		uc.Close()
		if owner != nil {
			owner.release()
		}
		return nil, err
	}
	c.owner = owner
	return c, nil
}

// socketpairConns makes a non-blocking socket pair of type typ and hands
// both ends to the runtime poller; on failure nothing stays open.
func socketpairConns(typ SocketType) ([2]*net.UnixConn, error) {
	var ucs [2]*net.UnixConn
	fds, err := newSocketpair(typ, true)
	if err != nil {
		return ucs, os.NewSyscallError("socketpair", err)
	}
	for i, fd := range fds {
		if ucs[i], err = fdToUnixConn(fd, "socketpair"); err != nil { // closes fd in every case
			if i == 0 {
				unix.Close(fds[1])
			} else {
				ucs[0].Close()
			}
			return [2]*net.UnixConn{}, err
		}
	}
	return ucs, nil
}

// dialMsg dials a message socket (SeqPacket or Datagram) bound to laddr.
func (d *Dialer) dialMsg(ctx context.Context, a Addr, typ SocketType, laddr Addr) (*msgConn, error) {
	a = a.WithType(typ)
	laddr = laddr.WithType(typ)
	ctx, cancel, err := d.begin(ctx, a, laddr)
	if err != nil {
		return nil, err
	}
	defer cancel()
	uc, owner, err := d.dialSocket(ctx, a, typ, laddr)
	if err != nil {
		return nil, opError("dial", a, err)
	}
	// With SO_PASSCRED the kernel autobinds an unbound socket on connect.
	m, err := newMsgConn(uc, typ, laddr, a, true, laddr.kind == KindAutobind || d.PassCred)
	if err != nil {
		uc.Close()
		if owner != nil {
			owner.release()
		}
		return nil, opError("dial", a, err)
	}
	m.owner = owner
	return m, nil
}

// canDialWithNet reports whether package net can make the connection
// exactly: it encodes abstract names with their full length on connect (only
// reading them back is lossy), but cannot reach paths longer than sun_path or
// bind a local path with the path-ownership rules (pathown_unix.go). Listen's
// counterpart is canListenWithNet.
func canDialWithNet(a, laddr Addr) bool {
	if a.kind == KindPath && len(a.name) > MaxPathLen {
		return false
	}
	return laddr.kind != KindPath
}

// dialWithNet connects through net.Dialer, which hands the socket to the
// runtime poller without the descriptor copy that net.FileConn makes. The
// Control hook binds the local address exactly (package net treats an empty
// name as no address, so it cannot autobind) and sets SO_PASSCRED. Full
// backlogs and, with WaitForListener, missing listeners are retried with
// capped backoff, a new socket each time.
func (d *Dialer) dialWithNet(ctx context.Context, a Addr, typ SocketType, laddr Addr) (*net.UnixConn, error) {
	nd := net.Dialer{}
	if d.Control != nil || d.PassCred || d.RefuseFiles || laddr.kind != KindUnnamed {
		nd.Control = func(_, _ string, c syscall.RawConn) error {
			if d.Control != nil {
				if err := d.Control(typ.network(), a.String(), c); err != nil {
					return err
				}
			}
			var serr error
			err := c.Control(func(fd uintptr) {
				if serr = d.setOptions(int(fd)); serr != nil {
					return
				}
				if laddr.kind != KindUnnamed {
					if err := sysBind(int(fd), laddr); err != nil {
						serr = localBindError(a, laddr, typ, bindError(laddr, typ, err))
					}
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	target := a.name
	if a.kind == KindAbstract {
		target = "@" + a.name
	}
	var delay time.Duration
	var last error // the last attempt's error, named when the context ends
	ended := func(cerr error) error { return withLastAttempt(cerr, last) }
	for {
		if err := ctx.Err(); err != nil {
			return nil, ended(err)
		}
		c, err := nd.DialContext(ctx, typ.network(), target)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		if oe, ok := err.(*net.OpError); ok {
			err = oe.Err
		}
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, ended(cerr) // the context ended during this attempt
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			// net's own deadline, taken from ctx, can fire before ctx
			// reports it: its "i/o timeout" matches
			// context.DeadlineExceeded, and ctx.Err may still be nil.
			return nil, ended(context.DeadlineExceeded)
		}
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return nil, err
		}
		var limit time.Duration
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			limit = backlogRetryLimit
		case d.WaitForListener && (errno == unix.ENOENT || errno == unix.ECONNREFUSED):
			limit = waitRetryLimit
		default:
			if bare, ok := err.(syscall.Errno); ok {
				return nil, os.NewSyscallError("connect", bare)
			}
			return nil, err
		}
		last = os.NewSyscallError("connect", errno)
		delay = retryDelay(delay, limit)
		if cerr := sleepCtx(ctx, delay); cerr != nil {
			return nil, ended(cerr)
		}
	}
}
