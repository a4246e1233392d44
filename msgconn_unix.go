//go:build linux || darwin || freebsd

package uds

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// msgConn carries messages on a Unix socket: recvmsg and sendmsg through
// the runtime poller, for the seqpacket Conn, the DatagramConn, and ReadMsg
// and WriteMsg on any Unix socket. Its receive half and its send half each
// have their own lock, headers, buffers and callbacks, made once per socket,
// so that a message costs no allocation and a read never waits for a write.
type msgConn struct {
	uc    *net.UnixConn
	rc    syscall.RawConn
	typ   SocketType
	laddr Addr
	raddr Addr // the connected peer; unnamed if not connected (see peer)

	// peerOnce reads an accepted seqpacket connection's peer address on
	// first use (see Conn.peerOnce).
	peerOnce sync.Once
	peerLazy bool
	conn     bool // connected
	owner    *pathOwner

	omu       sync.Mutex // guards owner.keep against close
	closeOnce sync.Once
	closeErr  error
	closing   chan struct{} // closed by close; nil for a pooled msgConn
	zeroEOF   atomic.Bool   // SEQPACKET: no timestamps; 0 bytes without control is EOF

	r recvHalf
	w sendHalf

	batchFields // recvmmsg and sendmmsg buffers (Linux)
}

// recvHalf is the receiving side of a msgConn. mu guards the rest.
type recvHalf struct {
	mu    sync.Mutex
	hdr   unix.Msghdr
	iov   unix.Iovec
	name  unix.RawSockaddrUnix
	ctl   [128]byte // timestamps and credentials
	flags uintptr
	n     int
	errno syscall.Errno
	fn    func(uintptr) bool // doRead

	// Descriptor passing (fds_unix.go), made on first use so that sockets
	// that never pass descriptors do not pay for them.
	fdctl []byte  // control space for MaxFilesPerMessage+1 descriptors and more
	fdint []int   // descriptors on their way to becoming Message.Files
	one   [1]byte // the byte of a descriptors-only stream message
}

// sendHalf is the sending side of a msgConn. mu guards the rest, except
// deadline and kick, which SetWriteDeadline uses while a write waits.
type sendHalf struct {
	mu    sync.Mutex
	hdr   unix.Msghdr
	iov   unix.Iovec
	name  unix.RawSockaddrUnix
	ctl   [credCtlSize]byte
	wait  bool // wait in the poller on EAGAIN
	n     int
	errno syscall.Errno
	fn    func(uintptr) bool // doWrite

	deadline atomic.Int64  // write deadline in Unix nanoseconds, 0 for none
	kick     chan struct{} // (1) the write deadline changed; see waitRoom
	timer    *time.Timer   // waitRoom's, made on first use
	spinEnd  time.Time     // waitRoom: when the current write stops spinning
	sleeps   int           // waitRoom: sleeps in the current write

	// Descriptor passing (fds_unix.go), made on first use.
	fdctl  []byte  // credentials and SCM_RIGHTS for up to MaxFilesPerMessage descriptors
	one    [1]byte // the NUL sent with descriptors and no data on a stream
	grab   int     // a file's descriptor, stored by grabFn
	grabFn func(uintptr)
}

func newMsgConn(uc *net.UnixConn, typ SocketType, laddr, raddr Addr, connected, lookupLocal bool) (*msgConn, error) {
	c := &msgConn{uc: uc, typ: typ, laddr: laddr.WithType(typ), raddr: raddr.WithType(typ), conn: connected,
		closing: make(chan struct{})}
	c.w.kick = make(chan struct{}, 1)
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c.rc = rc
	c.r.fn = c.doRead
	c.w.fn = c.doWrite
	err = controlRaw(rc, func(fd int) error {
		if lookupLocal {
			var err error
			if c.laddr, err = sysGetsockname(fd, typ); err != nil {
				return os.NewSyscallError("getsockname", err)
			}
		}
		return prepMsgSocket(fd, typ)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *msgConn) doRead(fd uintptr) bool {
	for {
		r, e := c.sysRecv(fd)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		c.r.n, c.r.errno = int(r), e
		return true
	}
}

func (c *msgConn) doWrite(fd uintptr) bool {
	for {
		r, e := c.sysSend(fd)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if c.w.wait {
				return false
			}
		}
		c.w.n, c.w.errno = int(r), e
		return true
	}
}

// recv reads one message into b and returns the bytes stored. For from !=
// nil it stores the sender's address, for cred != nil the sender's
// credentials (or fails with ErrNoCredentials after storing the data). With
// peek the message stays queued.
func (c *msgConn) recv(op string, b []byte, peek bool, from *Addr, cred *Cred) (n int, err error) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	var ctl []byte
	if (c.typ == SeqPacket && !c.zeroEOF.Load()) || cred != nil {
		ctl = c.r.ctl[:]
	}
	var flags uintptr
	if peek {
		flags = unix.MSG_PEEK
	}
	full, err := c.recvRaw(op, b, from, ctl, flags)
	if err != nil {
		return 0, err
	}
	// Fills cred, and closes descriptors nobody asked for.
	credErr := parseControlInto(c.r.ctl[:c.r.hdr.Controllen], cred)
	if n, err := c.recvCheck(op, b, from, full); err != nil {
		return n, err
	}
	if credErr != nil {
		return full, c.opErr(op, credErr)
	}
	return full, nil
}

// recvRaw makes one receive into b, with the control buffer ctl (none if
// empty) and flags besides the usual ones, and returns the message's full
// length. c.r.hdr then tells the rest. The caller holds rmu.
func (c *msgConn) recvRaw(op string, b []byte, from *Addr, ctl []byte, flags uintptr) (int, error) {
	c.setRecvBuf(b, from)
	c.r.hdr.Control = nil
	c.r.hdr.SetControllen(0)
	if len(ctl) > 0 {
		c.r.hdr.Control = &ctl[0]
		c.r.hdr.SetControllen(len(ctl))
	}
	c.r.hdr.Flags = 0
	c.r.flags = recvCloexec | flags
	if c.typ != Stream {
		c.r.flags |= recvTrunc
	}
	c.r.errno = 0
	err := c.rc.Read(c.r.fn)
	c.r.iov.Base = nil // do not keep the caller's buffer alive
	if err != nil {
		return 0, c.opErr(op, err)
	}
	if c.r.errno != 0 {
		return 0, c.opErr(op, os.NewSyscallError("recvmsg", c.r.errno))
	}
	return c.r.n, nil
}

// recvCheck reads the outcome of recvRaw into b: the end of the stream
// (0, io.EOF), the sender's address into from, and truncation (the bytes
// stored and an error wrapping ErrTruncated). A nil error means full bytes
// of a whole message are in b.
func (c *msgConn) recvCheck(op string, b []byte, from *Addr, full int) (int, error) {
	switch {
	// A SEQPACKET message carries control data (a timestamp, unless
	// SetZeroReadIsEOF) or at least MSG_CTRUNC for what did not fit; the
	// end carries neither. A stream reads 0 bytes only at its end.
	case c.typ == SeqPacket && full == 0 && c.r.hdr.Controllen == 0 && c.r.hdr.Flags&unix.MSG_CTRUNC == 0,
		c.typ == Stream && full == 0 && len(b) > 0:
		return 0, io.EOF
	}
	if from != nil {
		decodeInto(&c.r.name, c.r.hdr.Namelen, c.typ, from)
	}
	if full > len(b) {
		return len(b), c.opErr(op, &TruncatedError{Len: full, Buf: len(b)})
	}
	if c.r.hdr.Flags&unix.MSG_TRUNC != 0 && c.typ != Stream {
		// Cut without its length: darwin, and FreeBSD if it ignores
		// MSG_TRUNC on this socket.
		return full, c.opErr(op, &TruncatedError{Len: -1, Buf: len(b)})
	}
	return full, nil
}

// setZeroReadIsEOF turns the SEQPACKET timestamps off (on) or back on; see
// Conn.SetZeroReadIsEOF. The timestamps are turned on before the
// reads rely on them, and the reads stop relying on them before they are
// turned off: a message the kernel receives while SO_TIMESTAMP is on is
// stamped then if the sender did not stamp it.
func (c *msgConn) setZeroReadIsEOF(on bool) error {
	if on {
		c.zeroEOF.Store(true)
	}
	if err := controlRaw(c.rc, func(fd int) error { return setRecvTimestamp(fd, !on) }); err != nil {
		return err
	}
	if !on {
		c.zeroEOF.Store(false)
	}
	return nil
}

// setRecvBuf points the read header at b and, if from is not nil, at the
// buffer for the sender's address.
func (c *msgConn) setRecvBuf(b []byte, from *Addr) {
	setIov(&c.r.iov, b)
	c.r.hdr.Iov = &c.r.iov
	c.r.hdr.SetIovlen(1)
	c.r.hdr.Name = nil
	c.r.hdr.Namelen = 0
	if from != nil {
		c.r.hdr.Name = (*byte)(unsafe.Pointer(&c.r.name))
		c.r.hdr.Namelen = uint32(unsafe.Sizeof(c.r.name))
	}
}

// setIov points iov at b (a nil base for an empty b).
func setIov(iov *unix.Iovec, b []byte) {
	iov.Base = nil
	if len(b) > 0 {
		iov.Base = &b[0]
	}
	iov.SetLen(len(b))
}

// parseControlInto reads the control messages in ctl: it fills cred (if not
// nil) from the credentials the kernel attached (SCM_CREDENTIALS and
// SCM_PIDFD on Linux), and closes every descriptor nobody asked for. It
// returns ErrNoCredentials if cred was asked for and none came.
func parseControlInto(ctl []byte, cred *Cred) error {
	if cred != nil {
		*cred = Cred{}
	}
	if _, _, gotCred := walkControl(ctl, nil, cred); cred != nil && !gotCred {
		cred.Close()
		// IDs of -1 so that code that skips the error does not read root.
		*cred = Cred{UID: -1, GID: -1}
		return ErrNoCredentials
	}
	return nil
}

// walkControl reads the control messages in ctl. It stores the descriptors
// of SCM_RIGHTS in fds, as many as fit, fills cred (if not nil) from the
// credentials the kernel attached, and closes every other descriptor (those
// that do not fit, a PIDFD nobody asked for). It returns the descriptors
// stored and seen, and whether credentials came. A header that claims more
// than arrived (darwin leaves cmsg_len untruncated) is read as far as the
// data goes.
func walkControl(ctl []byte, fds []int, cred *Cred) (nfd, seen int, gotCred bool) {
	for len(ctl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		if h.Len < unix.SizeofCmsghdr {
			break
		}
		end := cmsgEnd(h, len(ctl))
		data := ctl[min(cmsgDataOff, end):end]
		if h.Level == unix.SOL_SOCKET {
			switch h.Type {
			case unix.SCM_RIGHTS:
				for i := 0; i+4 <= len(data); i += 4 {
					fd := int(*(*int32)(unsafe.Pointer(&data[i])))
					seen++
					if nfd < len(fds) {
						fds[nfd] = fd
						nfd++
					} else {
						unix.Close(fd)
					}
				}
			default:
				if controlCred(h.Type, data, cred) {
					gotCred = true
				}
			}
		}
		next := cmsgAlign(end)
		if next > len(ctl) {
			break
		}
		ctl = ctl[next:]
	}
	return nfd, seen, gotCred
}

// cmsgDataOff is the offset of a control message's data (CMSG_DATA).
var cmsgDataOff = unix.CmsgLen(0)

// cmsgEnd returns where the control message at h ends in a buffer of n
// bytes: at its cmsg_len, or at the buffer's end if it claims more.
func cmsgEnd(h *unix.Cmsghdr, n int) int {
	if uint64(h.Len) < uint64(n) {
		return int(h.Len)
	}
	return n
}

func cmsgAlign(n int) int {
	return (n + cmsgAlignTo - 1) &^ (cmsgAlignTo - 1)
}

// send writes b as one message, to the connected peer or to to. With cred
// it attaches those credentials (SCM_CREDENTIALS).
func (c *msgConn) send(op string, b []byte, to *Addr, cred *Cred) (int, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	var ctl []byte
	if cred != nil {
		if c.typ == Stream && len(b) == 0 {
			return 0, c.opErrTo(op, ptrAddr(to), errCredNeedsData)
		}
		var err error
		if ctl, err = putCredControl(c.w.ctl[:], cred); err != nil {
			return 0, c.opErrTo(op, ptrAddr(to), err)
		}
	}
	return c.sendLocked(op, b, to, ctl)
}

// sendLocked sends b with the control messages in ctl (none if empty), to
// the connected peer or to to. The caller holds wmu.
func (c *msgConn) sendLocked(op string, b []byte, to *Addr, ctl []byte) (int, error) {
	c.w.hdr.Control = nil
	c.w.hdr.SetControllen(0)
	if len(ctl) > 0 {
		c.w.hdr.Control = &ctl[0]
		c.w.hdr.SetControllen(len(ctl))
	}
	setIov(&c.w.iov, b)
	c.w.hdr.Iov = &c.w.iov
	c.w.hdr.SetIovlen(1)
	c.w.hdr.Name = nil
	c.w.hdr.Namelen = 0
	// A connected sender waits in the poller: the kernel wakes it when the
	// peer's queue has room. An unconnected one is never woken for that,
	// and waits in waitRoom.
	c.w.wait = true
	if to != nil {
		c.w.wait = false
		if err := validateTarget(*to); err != nil {
			if to.kind == KindUnnamed {
				err = errUnnamedPeer
			}
			return 0, c.opErrTo(op, *to, err)
		}
		target, dirfd, err := connectTarget(*to)
		if err != nil {
			return 0, c.opErrTo(op, *to, err)
		}
		n, err := encodeSockaddr(target, &c.w.name)
		if dirfd >= 0 {
			defer unix.Close(dirfd)
		}
		if err != nil {
			return 0, c.opErrTo(op, *to, err)
		}
		c.w.hdr.Name = (*byte)(unsafe.Pointer(&c.w.name))
		c.w.hdr.Namelen = n
	}
	defer func() { c.w.iov.Base, c.w.hdr.Control = nil, nil }() // do not keep the caller's buffers alive
	for tries := 0; ; tries++ {
		c.w.errno = 0
		if err := c.rc.Write(c.w.fn); err != nil {
			return 0, c.opErrTo(op, ptrAddr(to), err)
		}
		switch c.w.errno {
		case 0:
			return c.w.n, nil
		case unix.EAGAIN:
			// Unconnected (see doWrite), and the receiver's queue is
			// full.
			if err := c.waitRoom(tries); err != nil {
				return 0, c.opErrTo(op, ptrAddr(to), err)
			}
			continue
		case unix.EMSGSIZE:
			return 0, c.opErrTo(op, ptrAddr(to), c.tooLong(len(b)))
		}
		return 0, c.opErrTo(op, ptrAddr(to), os.NewSyscallError("sendmsg", c.w.errno))
	}
}

// Backoff of an unconnected sender that finds the receiver's queue full.
// For sendRetrySpin from the first failure the sender only yields the
// processor between tries: a receiver that is reading makes room within
// microseconds, but one that was parked in the poller takes up to some
// 100µs to wake, and a sleep would cost the sender a millisecond (below).
// Then it sleeps, sendRetryMin doubling up to sendRetryMax between tries.
// The runtime sleeps in epoll_wait, whose resolution is a millisecond: in a
// process with nothing else to do, the sleeps shorter than that last about
// a millisecond each. sendRetryMax bounds both the delay after a stalled
// receiver makes room and the CPU a blocked sender uses: each try (one
// failed sendmsg, the poller's wake-up that it causes, and the timer's)
// cost about 230µs of CPU on a 2-core VM, which is 2-4 % of a core at 10ms
// and up to 7 % at 5ms.
const (
	sendRetrySpin = 200 * time.Microsecond
	sendRetryMin  = 50 * time.Microsecond
	sendRetryMax  = 10 * time.Millisecond
)

// waitRoom waits before an unconnected sender's next try, the tries-th
// (from 0) of the current write to find the receiver's queue full. Linux
// wakes no unconnected sender when a receiver reads, and the poller is no
// help either: each failed sendmsg frees its buffer, and that makes the
// sender's own socket report writable, so a wait in the poller would
// return at once, and the sender spin. waitRoom sleeps instead (see
// sendRetryMax), and returns at once when the write deadline changes
// (w.kick), with os.ErrDeadlineExceeded when it has passed, and with
// net.ErrClosed when the socket is closed. The caller holds wmu.
func (c *msgConn) waitRoom(tries int) error {
	if tries == 0 {
		// A change before this write began is no news.
		select {
		case <-c.w.kick:
		default:
		}
	}
	left, ok := c.writeTimeLeft()
	if !ok {
		return os.ErrDeadlineExceeded
	}
	now := time.Now()
	if tries == 0 {
		c.w.spinEnd = now.Add(sendRetrySpin)
		c.w.sleeps = 0
	}
	if now.Before(c.w.spinEnd) {
		runtime.Gosched()
		return nil
	}
	d := sendRetryMax
	if c.w.sleeps < 16 {
		d = min(sendRetryMin<<c.w.sleeps, sendRetryMax)
	}
	c.w.sleeps++
	if left > 0 {
		d = min(d, left)
	}
	if c.w.timer == nil {
		c.w.timer = time.NewTimer(d)
	} else {
		c.w.timer.Reset(d)
	}
	select {
	case <-c.w.timer.C:
	case <-c.w.kick:
		c.w.timer.Stop()
	case <-c.closing:
		c.w.timer.Stop()
		return net.ErrClosed
	}
	if _, ok := c.writeTimeLeft(); !ok {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// writeTimeLeft returns the time until the write deadline, 0 if there is
// none, and false if it has passed.
func (c *msgConn) writeTimeLeft() (time.Duration, bool) {
	dl := c.w.deadline.Load()
	if dl == 0 {
		return 0, true
	}
	left := time.Until(time.Unix(0, dl))
	return left, left > 0
}

// tooLong explains EMSGSIZE with the largest message the socket sends.
func (c *msgConn) tooLong(n int) error {
	max := -1
	_ = c.rc.Control(func(fd uintptr) {
		if sb, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF); err == nil {
			// The kernel refuses messages longer than the send buffer less
			// 32 bytes (af_unix.c).
			max = sb - 32
		}
	})
	return &MessageSizeError{Len: n, Max: max}
}

func ptrAddr(a *Addr) Addr {
	if a == nil {
		return Addr{}
	}
	return *a
}

func (c *msgConn) opErr(op string, err error) error {
	return c.opErrTo(op, Addr{}, err)
}

func (c *msgConn) opErrTo(op string, to Addr, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	e := &net.OpError{Op: op, Net: c.typ.network(), Source: c.laddr, Err: err}
	switch {
	case to.kind != KindUnnamed:
		e.Addr = to.WithType(c.typ)
	case c.conn:
		e.Addr = c.peer()
	}
	return e
}

func (c *msgConn) close() error {
	err := c.uc.Close()
	c.closeOnce.Do(func() {
		if c.closing != nil {
			close(c.closing) // releases a writer in waitRoom
		}
		if c.owner != nil {
			c.omu.Lock()
			e := c.owner.release()
			c.omu.Unlock()
			if e != nil {
				c.closeErr = &net.OpError{Op: "close", Net: c.typ.network(), Addr: c.laddr, Err: e}
			}
		}
	})
	if err != nil {
		return err
	}
	return c.closeErr
}

func (c *msgConn) setDeadline(t time.Time) error {
	c.storeWriteDeadline(t)
	err := c.uc.SetDeadline(t)
	c.kickWriter()
	return err
}

func (c *msgConn) setWriteDeadline(t time.Time) error {
	c.storeWriteDeadline(t)
	err := c.uc.SetWriteDeadline(t)
	c.kickWriter()
	return err
}

func (c *msgConn) storeWriteDeadline(t time.Time) {
	if t.IsZero() {
		c.w.deadline.Store(0)
	} else {
		c.w.deadline.Store(t.UnixNano())
	}
}

// kickWriter tells a writer in waitRoom that the write deadline changed.
func (c *msgConn) kickWriter() {
	select {
	case c.w.kick <- struct{}{}:
	default: // a kick is pending already
	}
}

func (c *msgConn) remote() net.Addr {
	if !c.conn {
		return nil
	}
	return c.peer()
}

// peer returns the connected peer's address, reading it from the kernel the
// first time for an accepted connection.
func (c *msgConn) peer() Addr {
	if c.peerLazy {
		c.peerOnce.Do(func() {
			if a, err := peerName(c.uc, c.typ); err == nil {
				c.raddr = a
			}
		})
	}
	return c.raddr
}

// msgPair makes a socket pair of type typ.
func msgPair(typ SocketType) (*msgConn, *msgConn, error) {
	ucs, err := socketpairConns(typ)
	if err != nil {
		return nil, nil, err
	}
	var ends [2]*msgConn
	for i, uc := range ucs {
		if ends[i], err = newMsgConn(uc, typ, Addr{}, Addr{}, true, false); err != nil {
			ucs[0].Close()
			ucs[1].Close()
			return nil, nil, err
		}
	}
	return ends[0], ends[1], nil
}
