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
//
// Its frame, and those of the functions it calls up to package net's
// socket call, are kept small: a dial runs at the bottom of whatever stack
// the caller has, and 1.3 KB more than net.Dialer there grew a client's
// 8 KB goroutine stack at every dial (and let the GC shrink it back between
// dials), 9 % of the CPU in a connect churn (BENCHMARKS.md).
func (d *Dialer) dialSocket(ctx context.Context, a Addr, typ SocketType, laddr Addr) (*net.UnixConn, *pathOwner, error) {
	if err := ctx.Err(); err != nil {
		// As in net: no socket is made, no hook called, nothing bound.
		return nil, nil, err
	}
	if canDialWithNet(a, laddr) {
		uc, err := d.dialWithNet(ctx, a, typ, laddr)
		return uc, nil, err
	}
	return d.dialRaw(ctx, a, typ, laddr)
}

// dialRaw is dialSocket without package net: raw socket, bind and connect
// calls, then the runtime poller.
func (d *Dialer) dialRaw(ctx context.Context, a Addr, typ SocketType, laddr Addr) (_ *net.UnixConn, _ *pathOwner, err error) {
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

// dialPlain is Dial's stream dial for a plain Dialer (see plain): the
// common case, made with as few frames between the caller and package net
// as possible (see dialSocket).
func (d *Dialer) dialPlain(ctx context.Context, a Addr) (*Conn, error) {
	if err := validateTarget(a); err != nil {
		return nil, opError("dial", a, err)
	}
	var uc *net.UnixConn
	err := ctx.Err() // as in net: no socket is made for a context already done
	switch {
	case err != nil:
	case canDialWithNet(a, Addr{}):
		uc, err = d.dialWithNet(ctx, a, Stream, Addr{})
	default:
		uc, _, err = d.dialRaw(ctx, a, Stream, Addr{})
	}
	if err != nil {
		return nil, opError("dial", a, err)
	}
	return newConn(uc, Addr{}, a, false) // no lookup: cannot fail
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
	nd := &plainNetDialer
	if d.Control != nil || d.PassCred || d.RefuseFiles || laddr.kind != KindUnnamed {
		nd = d.netDialer(a, typ, laddr)
	}
	target := a.name
	if a.kind == KindAbstract {
		target = "@" + a.name
	}
	var r dialRetry
	for {
		if err := ctx.Err(); err != nil {
			return nil, withLastAttempt(err, r.last)
		}
		c, err := nd.DialContext(ctx, typ.network(), target)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		if err = r.wait(ctx, err, d.WaitForListener); err != nil {
			return nil, err
		}
	}
}

// plainNetDialer dials for a Dialer with no hook, option or local address;
// shared, as net.Dialer's methods only read it.
var plainNetDialer net.Dialer

// netDialer returns a net.Dialer whose Control hook runs d's Control, sets
// d's options and binds the local address exactly (package net treats an
// empty name as no address, so it cannot autobind). Not inlined, to keep
// its closure off dialWithNet's frame (see dialSocket).
//
//go:noinline
func (d *Dialer) netDialer(a Addr, typ SocketType, laddr Addr) *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
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
	}}
}

// dialRetry is the state of dialWithNet's retries: the backoff and the last
// attempt's error.
type dialRetry struct {
	delay time.Duration
	last  error // named when the context ends
}

// wait decides on a failed attempt (err, from net.Dialer): it returns the
// error to give up with, or nil after waiting for the next try (a full
// backlog, or with waitListener a missing listener).
func (r *dialRetry) wait(ctx context.Context, err error, waitListener bool) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return withLastAttempt(cerr, r.last) // the context ended during this attempt
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		// net's own deadline, taken from ctx, can fire before ctx
		// reports it: its "i/o timeout" matches
		// context.DeadlineExceeded, and ctx.Err may still be nil.
		return withLastAttempt(context.DeadlineExceeded, r.last)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	var limit time.Duration
	switch {
	case errno == unix.EINTR:
		return nil
	case errno == unix.EAGAIN:
		limit = backlogRetryLimit
	case waitListener && (errno == unix.ENOENT || errno == unix.ECONNREFUSED):
		limit = waitRetryLimit
	default:
		if bare, ok := err.(syscall.Errno); ok {
			return os.NewSyscallError("connect", bare)
		}
		return err
	}
	r.last = os.NewSyscallError("connect", errno)
	r.delay = retryDelay(r.delay, limit)
	if cerr := sleepCtx(ctx, r.delay); cerr != nil {
		return withLastAttempt(cerr, r.last)
	}
	return nil
}
