package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// Dialer holds the options for connecting to a Unix stream socket. The zero
// value is ready to use.
//
// Unlike net.Dialer, a Dialer does not fail at once when the listener's
// backlog is full (EAGAIN on Linux): it tries again with a capped backoff
// until the timeout or the context ends. darwin and FreeBSD refuse
// (ECONNREFUSED) a connection to a full backlog, which cannot be told from
// no listener: there it is retried only with WaitForListener.
type Dialer struct {
	// Timeout bounds the whole dial, retries included. Zero means no limit
	// beyond the context's. A negative Timeout, as in net.Dialer, is a
	// deadline already past: the dial fails at once with a timeout error and
	// no connection is attempted.
	Timeout time.Duration

	// WaitForListener makes the dial also retry while the socket does not
	// exist yet (ENOENT) or nothing listens on it (ECONNREFUSED), for
	// clients that may start before their server. Give the context a
	// deadline or set Timeout, or it waits as long as the server is away.
	WaitForListener bool

	// LocalAddr, if not the zero (unnamed) address, is bound before
	// connecting: Autobind() for a kernel-chosen abstract name, an abstract
	// name, or a path (created with the reclaim rules of ListenConfig and
	// removed when the connection is closed).
	LocalAddr Addr

	// Control, if not nil, is called after the socket is created and before
	// it is bound or connected, like net.Dialer.Control.
	Control func(network, address string, c syscall.RawConn) error

	// PassCred sets SO_PASSCRED on the socket before it connects, so that
	// messages the server sends carry its credentials (read them with
	// ReadMsg, Message.Cred). On Linux an unbound socket with SO_PASSCRED
	// is given an autobind name when it connects.
	PassCred bool

	// RefuseFiles makes the socket refuse descriptors (SO_PASSRIGHTS=0, set
	// before it connects): a peer that sends files fails with EPERM and
	// nothing reaches this process. Linux 6.16 and later; on older kernels
	// the dial fails with an error wrapping errors.ErrUnsupported.
	RefuseFiles bool
}

// Dial connects to the stream or seqpacket socket at a with the default
// Dialer.
func Dial(ctx context.Context, a Addr) (*Conn, error) {
	return defaultDialer.Dial(ctx, a)
}

// defaultDialer is the zero Dialer of Dial and DialDatagram, shared (a
// Dialer's methods only read it) so that a dial does not allocate one.
var defaultDialer Dialer

// Dial connects to the socket at a, with the socket type a.Type(): Stream
// (the type of Path(p) and Abstract(name)) or SeqPacket
// (a.WithType(SeqPacket)); datagram sockets are dialed with DialDatagram.
// Paths longer than MaxPathLen are
// reached on Linux through their directory's descriptor. Errors are
// *net.OpError values; a dial cut short by the context wraps the context's
// error. When the deadline (Timeout or the context's) passes, the error is a
// net.Error whose Timeout method reports true, errors.Is(err,
// context.DeadlineExceeded) holds, and, if an attempt was made, the error
// also wraps the last attempt's (syscall.EAGAIN for a full backlog,
// syscall.ENOENT or syscall.ECONNREFUSED while waiting for a listener). A
// cancelled context gives an error wrapping context.Canceled (and the last
// attempt's) that is not a timeout.
func (d *Dialer) Dial(ctx context.Context, a Addr) (*Conn, error) {
	if a.typ == Stream && d.plain() {
		return d.dialPlain(ctx, a)
	}
	return d.dial(ctx, a)
}

// dial is Dial for everything but a plain Dialer's stream (dialPlain).
func (d *Dialer) dial(ctx context.Context, a Addr) (*Conn, error) {
	switch a.typ {
	case SeqPacket:
		m, err := d.dialMsg(ctx, a, SeqPacket, d.LocalAddr)
		if err != nil {
			return nil, err
		}
		return seqConn(m), nil
	case Datagram:
		return nil, opError("dial", a, errDialDatagram)
	}
	ctx, cancel, err := d.begin(ctx, a, d.LocalAddr.WithType(Stream))
	if err != nil {
		return nil, err
	}
	defer cancel()
	c, err := d.dialStream(ctx, a)
	if err != nil {
		return nil, opError("dial", a, err)
	}
	return c, nil
}

// plain reports whether d is the zero Dialer but for WaitForListener: no
// timeout, hook, option or local address.
func (d *Dialer) plain() bool {
	return d.Timeout == 0 && d.Control == nil && !d.PassCred && !d.RefuseFiles && d.LocalAddr.kind == KindUnnamed
}

var errDialDatagram = fmt.Errorf("%w: Dial makes stream and seqpacket connections; use DialDatagram for datagram sockets", ErrInvalidAddr)

// retryDelay returns the next backoff delay: doubling from 1ms, capped.
// waitRetryLimit caps the backoff while waiting for a listener to appear.
const waitRetryLimit = 100 * time.Millisecond

// withLastAttempt is the error of a retry loop whose context ended (cerr):
// it names the last attempt's error too, if there was one. A deadline stays
// a timeout for net.OpError.Timeout, which looks only at its Err.
func withLastAttempt(cerr, last error) error {
	switch {
	case last == nil:
		return cerr
	case errors.Is(cerr, context.DeadlineExceeded):
		return &deadlineError{deadline: cerr, last: last}
	}
	return fmt.Errorf("%w (last attempt: %w)", cerr, last)
}

// deadlineError is the error of a dial whose deadline passed after at least
// one failed attempt: a timeout that wraps both the deadline and the last
// attempt's error.
type deadlineError struct {
	deadline error // context.DeadlineExceeded
	last     error
}

func (e *deadlineError) Error() string {
	return e.deadline.Error() + " (last attempt: " + e.last.Error() + ")"
}

func (e *deadlineError) Unwrap() []error { return []error{e.deadline, e.last} }

// Timeout reports true, for net.Error and net.OpError.Timeout.
func (e *deadlineError) Timeout() bool { return true }

// Temporary reports true, as context.DeadlineExceeded does.
func (e *deadlineError) Temporary() bool { return true }

func retryDelay(prev time.Duration, limit time.Duration) time.Duration {
	if prev <= 0 {
		return time.Millisecond
	}
	next := prev * 2
	if next > limit {
		next = limit
	}
	return next
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// begin checks the addresses of a dial and applies Timeout to ctx; the
// caller calls cancel when the dial is done.
func (d *Dialer) begin(ctx context.Context, a, laddr Addr) (context.Context, context.CancelFunc, error) {
	if err := validateTarget(a); err != nil {
		return nil, nil, opError("dial", a, err)
	}
	if laddr.kind != KindUnnamed {
		if err := laddr.validate(); err != nil {
			return nil, nil, &net.OpError{Op: "dial", Net: a.Network(), Source: laddr, Addr: a, Err: err}
		}
	}
	if d.Timeout != 0 {
		// A negative Timeout is a deadline already past, as in net.
		ctx, cancel := context.WithTimeout(ctx, d.Timeout)
		return ctx, cancel, nil
	}
	return ctx, func() {}, nil
}

// validateTarget checks an address to connect or send to.
func validateTarget(a Addr) error {
	if a.kind == KindAutobind {
		return errAutobindTarget
	}
	return a.validate()
}
