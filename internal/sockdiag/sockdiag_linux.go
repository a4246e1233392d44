package sockdiag

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/procfs"
)

// What a request asks the kernel to report about each socket (the
// UDIAG_SHOW_* bits of linux/unix_diag.h; x/sys does not define them).
const (
	ShowName  = 0x01 // the bound address (Socket.Name)
	ShowVFS   = 0x02 // the socket file (Socket.VFSDev, Socket.VFSIno)
	ShowPeer  = 0x04 // the peer's inode (Socket.Peer)
	ShowIcons = 0x08 // a listener's queued connections (Socket.Icons)
	ShowRQLen = 0x10 // the queue lengths (Socket.RQueue, Socket.WQueue)
	ShowUID   = 0x40 // the creator's user (Socket.UID)

	// ShowAll is every attribute above.
	ShowAll = ShowName | ShowVFS | ShowPeer | ShowIcons | ShowRQLen | ShowUID
)

// The attribute types of the answer, and the sizes of the request and of
// the fixed part of the answer (linux/unix_diag.h).
const (
	unixDiagName  = 0
	unixDiagVFS   = 1
	unixDiagPeer  = 2
	unixDiagIcons = 3
	unixDiagRQLen = 4
	unixDiagUID   = 7

	sizeofUnixDiagReq = 24
	sizeofUnixDiagMsg = 16
)

// Socket is one Unix socket as sock_diag reports it.
type Socket struct {
	Ino    uint32 // the socket's own inode (socket:[Ino] in /proc/PID/fd)
	Type   uint8  // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
	State  uint8  // TCP_LISTEN, TCP_ESTABLISHED, TCP_CLOSE, ...
	Name   string // the bound address as sun_path bytes (abstract: leading NUL); "" if unbound
	HasVFS bool
	VFSDev uint64 // the socket file's superblock device, in stat(2)'s dev_t encoding
	VFSIno uint64 // the low 32 bits of the socket file's inode number
	Peer   uint32 // the peer socket's inode, 0 if none
	HasUID bool
	UID    uint32
	RQueue uint32
	WQueue uint32
	Icons  []uint32 // inodes of connections waiting in a listener's queue
}

// Listening reports whether s is a listening socket.
func (s *Socket) Listening() bool { return s.State == unix.BPF_TCP_LISTEN }

// ErrDumpInterrupted is a dump that may have missed sockets
// (NLM_F_DUMP_INTR): one cannot conclude from it that a socket is absent.
var ErrDumpInterrupted = errors.New("sock_diag: dump interrupted by concurrent changes")

// Dump lists every Unix socket of the network namespace, with the
// attributes in show (Show* bits). A dump that the kernel marks as
// interrupted (sockets came and went while it was taken) is taken again, up
// to three times; the last one's ErrDumpInterrupted is returned.
func Dump(show uint32) ([]Socket, error) {
	var out []Socket
	err := retry(func() error {
		out = out[:0]
		return scan(context.Background(), unix.NLM_F_DUMP, 0, show, AllStates, appendTo(&out))
	})
	return out, err
}

// retry runs dump up to three times while it fails with ErrDumpInterrupted.
func retry(dump func() error) error {
	for try := 0; ; try++ {
		err := dump()
		if err != ErrDumpInterrupted || try == 2 {
			return err
		}
	}
}

// DumpContext is Dump taken once, for as long as ctx allows: an interrupted
// dump is ErrDumpInterrupted.
func DumpContext(ctx context.Context, show uint32) ([]Socket, error) {
	var out []Socket
	err := scan(ctx, unix.NLM_F_DUMP, 0, show, AllStates, appendTo(&out))
	return out, err
}

// Scan is DumpContext for the sockets in states (a mask of 1<<TCP_*
// states; AllStates for every one), handed to fn one at a time instead of
// gathered: a caller that looks for a few sockets among a host's hundred
// thousand keeps what it wants and allocates for nothing else. The kernel
// skips the sockets of other states without formatting them. fn must copy
// the Socket to keep it.
func Scan(ctx context.Context, show, states uint32, fn func(*Socket)) error {
	return scan(ctx, unix.NLM_F_DUMP, 0, show, states, fn)
}

// AllStates selects every socket state in Scan; Connected and Unconnected
// split it in two.
const (
	AllStates   = ^uint32(0)
	Connected   = 1 << unix.BPF_TCP_ESTABLISHED
	Unconnected = AllStates &^ Connected
)

func appendTo(out *[]Socket) func(*Socket) {
	return func(s *Socket) { *out = append(*out, *s) }
}

func query(ctx context.Context, flags uint16, ino uint32, show uint32) ([]Socket, error) {
	var out []Socket
	err := scan(ctx, flags, ino, show, AllStates, appendTo(&out))
	return out, err
}

func scan(ctx context.Context, flags uint16, ino, show, states uint32, fn func(*Socket)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return os.NewSyscallError("socket(netlink sock_diag)", err)
	}
	f := os.NewFile(uintptr(fd), "sock_diag")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		f.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := request(flags, ino, show, states)
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	if serr != nil {
		return os.NewSyscallError("sendto(sock_diag)", serr)
	}

	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return err
		}
		if rerr != nil {
			return os.NewSyscallError("recvfrom(sock_diag)", rerr)
		}
		done, err := parseEach(buf[:n], fn)
		if err != nil {
			return err
		}
		if done || flags&unix.NLM_F_DUMP == 0 {
			return nil
		}
	}
}

// request builds a SOCK_DIAG_BY_FAMILY request for AF_UNIX sockets in
// states: a dump (flags NLM_F_DUMP) or the socket with inode ino.
func request(flags uint16, ino, show, states uint32) [unix.NLMSG_HDRLEN + sizeofUnixDiagReq]byte {
	var req [unix.NLMSG_HDRLEN + sizeofUnixDiagReq]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|flags)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[unix.NLMSG_HDRLEN:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], states)
	ne.PutUint32(r[8:], ino)
	ne.PutUint32(r[12:], show)
	ne.PutUint32(r[16:], ^uint32(0)) // no cookie
	ne.PutUint32(r[20:], ^uint32(0))
	return req
}

// Exact asks sock_diag about the one socket with inode ino. The kernel
// answers such a request while it is being sent (the reply is queued before
// write returns), so the reply is read without waiting and without the
// poller, into a buffer on the stack. If the reply is not there (it always
// is on the kernels this was written for), the poller path is taken.
func Exact(ino uint32, show uint32) ([]Socket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket(netlink sock_diag)", err)
	}
	defer unix.Close(fd)
	req := request(0, ino, show, AllStates)
	if _, err := unix.Write(fd, req[:]); err != nil {
		if err == unix.EAGAIN {
			return query(context.Background(), 0, ino, show)
		}
		return nil, os.NewSyscallError("write(sock_diag)", err)
	}
	var buf [2048]byte
	n, err := unix.Read(fd, buf[:])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return query(context.Background(), 0, ino, show)
	case err != nil:
		return nil, os.NewSyscallError("read(sock_diag)", err)
	case n >= len(buf):
		// Maybe cut: ask again with the large buffer.
		return query(context.Background(), 0, ino, show)
	}
	var out []Socket
	if _, err := parseMessages(buf[:n], &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Available reports whether a sock_diag socket can be opened (a seccomp
// filter or systemd's RestrictAddressFamilies= can forbid AF_NETLINK), and
// the error if not.
func Available() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return os.NewSyscallError("socket(netlink sock_diag)", err)
	}
	unix.Close(fd)
	return nil
}

// parseMessages appends the sockets of the netlink messages in b to out. It
// reports done at the end of the answer (NLMSG_DONE or NLMSG_ERROR).
func parseMessages(b []byte, out *[]Socket) (done bool, err error) {
	return parseEach(b, appendTo(out))
}

// parseEach is parseMessages handing each socket to fn.
func parseEach(b []byte, fn func(*Socket)) (done bool, err error) {
	var s Socket // one for the buffer: fn copies what it keeps
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return false, errors.New("sock_diag: malformed netlink message")
		}
		body := b[unix.NLMSG_HDRLEN:l]
		if ne.Uint16(b[6:])&unix.NLM_F_DUMP_INTR != 0 {
			return true, ErrDumpInterrupted
		}
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) >= 4 {
				if errno := -int32(ne.Uint32(body)); errno != 0 {
					return true, os.NewSyscallError("sock_diag", syscall.Errno(errno))
				}
			}
			return true, nil
		case unix.SOCK_DIAG_BY_FAMILY:
			if parseSocket(body, &s) {
				fn(&s)
			}
		}
		al := nlmAlign(l)
		if al > len(b) {
			al = len(b)
		}
		b = b[al:]
	}
	return false, nil
}

func nlmAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// parseSocket parses one struct unix_diag_msg and its attributes into s.
func parseSocket(b []byte, s *Socket) bool {
	ne := binary.NativeEndian
	if len(b) < sizeofUnixDiagMsg {
		return false
	}
	*s = Socket{Type: b[1], State: b[2], Ino: ne.Uint32(b[4:])}
	attrs := b[sizeofUnixDiagMsg:]
	for len(attrs) >= unix.SizeofRtAttr {
		l := int(ne.Uint16(attrs[0:]))
		typ := ne.Uint16(attrs[2:])
		if l < unix.SizeofRtAttr || l > len(attrs) {
			break
		}
		v := attrs[unix.SizeofRtAttr:l]
		switch typ {
		case unixDiagName:
			s.Name = string(v)
		case unixDiagVFS:
			if len(v) >= 8 {
				s.HasVFS = true
				s.VFSIno = uint64(ne.Uint32(v[0:]))
				kdev := ne.Uint32(v[4:])
				// The kernel reports its internal dev_t (major<<20 | minor);
				// stat(2) encodes it differently.
				s.VFSDev = unix.Mkdev(kdev>>20, kdev&0xfffff)
			}
		case unixDiagPeer:
			if len(v) >= 4 {
				s.Peer = ne.Uint32(v)
			}
		case unixDiagUID:
			if len(v) >= 4 {
				s.HasUID = true
				s.UID = ne.Uint32(v)
			}
		case unixDiagRQLen:
			if len(v) >= 8 {
				s.RQueue = ne.Uint32(v[0:])
				s.WQueue = ne.Uint32(v[4:])
			}
		case unixDiagIcons:
			for i := 0; i+4 <= len(v); i += 4 {
				s.Icons = append(s.Icons, ne.Uint32(v[i:]))
			}
		}
		al := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if al > len(attrs) {
			break
		}
		attrs = attrs[al:]
	}
	return true
}

// AbstractBound returns the sockets of type typ (SOCK_STREAM, ...) bound to
// the abstract name (without its leading NUL). Each socket type has its own
// abstract namespace.
func AbstractBound(name string, typ int) ([]Socket, error) {
	want := "\x00" + name
	return Find(context.Background(), ShowName, func(s *Socket) (bool, error) {
		return s.Name == want && int(s.Type) == typ, nil
	})
}

// Find returns the sockets that match keeps, from dumps (with the
// attributes in show) that keep only those, so that a host's other sockets
// cost the kernel's dump and no allocation. It asks first for the sockets
// that are not connected, where a bound socket nearly always is (listening,
// receiving datagrams, or bound and not yet listening): the kernel skips
// the connected ones (every socketpair and accepted connection, most
// sockets of a busy host) without formatting them. Only if none matches
// does it dump every socket, whatever its state, so that a socket that
// changed state between the two dumps is not missed. Dumps interrupted by
// concurrent changes are taken again as in Dump. An error from match ends
// the search with it. No match and no error means that no socket matched.
func Find(ctx context.Context, show uint32, match func(*Socket) (bool, error)) ([]Socket, error) {
	var out []Socket
	var merr error
	keep := func(s *Socket) {
		if merr != nil {
			return
		}
		ok, err := match(s)
		if err != nil {
			merr = err
		} else if ok {
			out = append(out, *s)
		}
	}
	for _, states := range [...]uint32{Unconnected, AllStates} {
		err := retry(func() error {
			out, merr = out[:0], nil
			if err := Scan(ctx, show, states, keep); err != nil {
				return err
			}
			return merr
		})
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
	return nil, nil
}

// HolderBudget bounds the time Holder spends reading /proc: a host with
// 5,000 processes and 100,000 sockets is read in about 60 ms on a 2-core
// machine, and one many times larger is not read to its end. (A variable so
// that a test can shorten it.)
var HolderBudget = 250 * time.Millisecond

// Holder returns a process holding one of socks, or 0 if none can be
// found within HolderBudget. Listening sockets are preferred. /proc/*/fd is
// read once, however many sockets there are.
func Holder(socks []Socket) int {
	if len(socks) == 0 {
		return 0
	}
	listening := make(map[uint64]bool, len(socks))
	anyListening := false
	for _, s := range socks {
		listening[uint64(s.Ino)] = s.Listening()
		anyListening = anyListening || s.Listening()
	}
	// The scan stops as soon as the answer cannot change: at the first
	// holder of a listener, or at the first holder at all when none of
	// socks listens. On a host with thousands of processes that saves
	// reading the descriptors of every process after the holder.
	ctx, stop := context.WithTimeout(context.Background(), HolderBudget)
	defer stop()
	pid := 0
	_ = procfs.ScanSocketFDs(ctx, func(p int, _ func() string, _ int, ino uint64) {
		l, ok := listening[ino]
		if !ok || (pid != 0 && !l) {
			return
		}
		pid = p
		if l || !anyListening {
			clear(listening)
			stop()
		}
	})
	return pid
}
