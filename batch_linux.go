package uds

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr from sendmmsg(2); Go pads it as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// batchCtl is the control space of one message in a batch: room for a
// timestamp, credentials and a PIDFD, like msgConn's.
const batchCtl = 128

// batchBufs are the kernel-facing arrays of one direction of batch I/O,
// grown to the largest batch seen and reused.
type batchBufs struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrUnix
	ctl   []byte
	off   int // first message of the current call
	n     int // messages in the current call
	got   int // result of the system call
	errno syscall.Errno
	fn    func(uintptr) bool
	wait  bool // writes: wait in the poller on EAGAIN
}

func (b *batchBufs) grow(n int) {
	if len(b.hdrs) >= n {
		return
	}
	b.hdrs = make([]mmsghdr, n)
	b.iovs = make([]unix.Iovec, n)
	b.names = make([]unix.RawSockaddrUnix, n)
	b.ctl = make([]byte, n*batchCtl)
}

// set points header i at buf alone, with no name and no control space, and
// returns it.
func (b *batchBufs) set(i int, buf []byte) *unix.Msghdr {
	setIov(&b.iovs[i], buf)
	b.hdrs[i] = mmsghdr{hdr: unix.Msghdr{Iov: &b.iovs[i]}}
	h := &b.hdrs[i].hdr
	h.SetIovlen(1)
	return h
}

// batchFields is msgConn's hold on its batch machinery.
type batchFields struct {
	batchOnce sync.Once
	batchSt   *batchState
}

// batchState is a socket's batch machinery, made on first use. r is
// guarded by the msgConn's rmu and w by its wmu: a batch write may wait for
// room through the socket's write deadline, like WriteTo, so the two must
// not run at once.
type batchState struct {
	r batchBufs
	w batchBufs
	// eof: the last read batch ended at what was taken for the end of
	// the connection (see readBatch); the next read reports it.
	eof bool
}

func (c *msgConn) batch() *batchState {
	c.batchOnce.Do(func() {
		b := &batchState{}
		b.r.fn = func(fd uintptr) bool {
			for {
				r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.r.hdrs[0])), uintptr(b.r.n),
					unix.MSG_TRUNC|unix.MSG_CMSG_CLOEXEC, 0, 0)
				switch e {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false
				}
				b.r.got, b.r.errno = int(r), e
				return true
			}
		}
		b.w.fn = func(fd uintptr) bool {
			for {
				r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.w.hdrs[b.w.off])), uintptr(b.w.n),
					unix.MSG_NOSIGNAL, 0, 0)
				switch e {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					if b.w.wait {
						return false
					}
				}
				b.w.got, b.w.errno = int(r), e
				return true
			}
		}
		c.batchSt = b
	})
	return c.batchSt
}

func (c *msgConn) readBatch(ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	b := c.batch()
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if b.eof {
		b.eof = false
		return 0, io.EOF
	}
	r := &b.r
	r.grow(len(ms))
	r.n = len(ms)
	wantCtl := c.typ == SeqPacket && !c.zeroEOF.Load()
	for i := range ms {
		m := &ms[i]
		h := r.set(i, m.Buf)
		if c.typ == Datagram {
			h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
			h.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		}
		if wantCtl || m.Cred != nil {
			h.Control = &r.ctl[i*batchCtl]
			h.SetControllen(batchCtl)
		}
	}
	r.errno = 0
	err := c.rc.Read(r.fn)
	defer func() {
		for i := range ms {
			r.iovs[i].Base = nil
		}
	}()
	if err != nil {
		return 0, c.opErr("read", err)
	}
	if r.errno != 0 {
		return 0, c.opErr("read", os.NewSyscallError("recvmmsg", r.errno))
	}
	n := r.got
	if c.typ == SeqPacket && n == len(ms) {
		// At the end of the connection every further recvmsg returns 0,
		// so recvmmsg fills the rest of the batch with reads of 0 bytes
		// and no control data: what came before them is the batch. A
		// batch that is not full did not reach the end. (With timestamps
		// every message has control data; without, see
		// SetZeroReadIsEOF, empty messages at the end of a full batch
		// are taken for the end.)
		end := n
		for end > 0 && r.hdrs[end-1].len == 0 && r.hdrs[end-1].hdr.Controllen == 0 {
			end--
		}
		if end < n {
			if end == 0 {
				return 0, io.EOF
			}
			// The messages before the end now, the end on the next
			// call (which, after SetZeroReadIsEOF, the kernel might
			// not report again).
			n, b.eof = end, true
		}
	}
	for i := 0; i < n; i++ {
		m := &ms[i]
		h := &r.hdrs[i].hdr
		full := int(r.hdrs[i].len)
		// With no control message this still closes nothing and reports
		// ErrNoCredentials if credentials were asked for.
		m.Err = parseControlInto(r.ctl[i*batchCtl:i*batchCtl+int(h.Controllen)], m.Cred)
		m.Len = full
		m.N = min(full, len(m.Buf))
		if full > len(m.Buf) {
			m.Err = ErrTruncated
		}
		if c.typ == Datagram {
			decodeInto(&r.names[i], h.Namelen, Datagram, &m.Addr)
		}
	}
	return n, nil
}

func (c *msgConn) writeBatch(ms []Message) (int, error) {
	if err := c.checkBatch(ms); err != nil {
		return 0, err
	}
	addrs := c.typ == Datagram
	if len(ms) == 0 {
		return 0, nil
	}
	b := c.batch()
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	w := &b.w
	w.grow(len(ms))
	defer func() {
		for i := range w.iovs[:len(ms)] {
			w.iovs[i].Base = nil
		}
	}()
	for i := range ms {
		ms[i].N = 0 // also those after a destination that ends the batch
	}
	// A destination that cannot be encoded ends the batch there: the
	// messages before it are sent, and its error is returned after them.
	limit := len(ms)
	var prepErr error
	unconnected := false
prep:
	for i := range ms {
		m := &ms[i]
		h := w.set(i, m.Buf)
		if addrs && m.Addr.kind != KindUnnamed {
			err := validateTarget(m.Addr)
			if err == nil && m.Addr.kind == KindPath && len(m.Addr.name) > MaxPathLen {
				err = errLongBatchPath
			}
			var n uint32
			if err == nil {
				n, err = encodeSockaddr(m.Addr, &w.names[i])
			}
			if err != nil {
				limit, prepErr = i, c.opErrTo("write", m.Addr, err)
				break prep
			}
			h.Name = (*byte)(unsafe.Pointer(&w.names[i]))
			h.Namelen = n
			unconnected = true
		}
		if m.Cred != nil {
			ctl, err := putCredControl(w.ctl[i*batchCtl:(i+1)*batchCtl], m.Cred)
			if err != nil {
				limit, prepErr = i, c.opErrTo("write", m.Addr, err)
				break prep
			}
			h.Control = &ctl[0]
			h.SetControllen(len(ctl))
		}
	}
	sent, tries := 0, 0
	for sent < limit {
		w.off, w.n = sent, limit-sent
		w.wait = !unconnected
		w.errno = 0
		err := c.rc.Write(w.fn)
		if err != nil {
			return sent, c.opErrTo("write", ms[sent].Addr, err)
		}
		switch w.errno {
		case 0:
			for i := sent; i < sent+w.got; i++ {
				ms[i].N = int(w.hdrs[i].len)
			}
			sent += w.got
			tries = 0
			continue
		case unix.EAGAIN:
			// Unconnected (see batchState.w.fn), and a receiver's queue
			// is full.
			if err := c.waitRoom(tries); err != nil {
				return sent, c.opErrTo("write", ms[sent].Addr, err)
			}
			tries++
			continue
		case unix.EMSGSIZE:
			return sent, c.opErrTo("write", ms[sent].Addr, c.tooLong(len(ms[sent].Buf)))
		}
		return sent, c.opErrTo("write", ms[sent].Addr, os.NewSyscallError("sendmmsg", w.errno))
	}
	return sent, prepErr
}

var errLongBatchPath = fmt.Errorf("%w: WriteBatch takes paths of up to %d bytes; send to a longer one with WriteTo", ErrInvalidAddr, MaxPathLen)
