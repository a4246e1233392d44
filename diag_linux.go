package uds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The sock_diag interface for AF_UNIX, from linux/unix_diag.h. x/sys does not
// define these.
const (
	udiagShowName  = 0x01
	udiagShowVFS   = 0x02
	udiagShowPeer  = 0x04
	udiagShowIcons = 0x08
	udiagShowRQLen = 0x10
	udiagShowUID   = 0x40

	unixDiagName  = 0
	unixDiagVFS   = 1
	unixDiagPeer  = 2
	unixDiagIcons = 3
	unixDiagRQLen = 4
	unixDiagUID   = 7

	sizeofUnixDiagReq = 24
	sizeofUnixDiagMsg = 16
)

// diagSocket is one Unix socket as sock_diag reports it.
type diagSocket struct {
	Ino    uint32 // the socket's own inode (socket:[Ino] in /proc/PID/fd)
	Type   uint8  // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
	State  uint8  // TCP_LISTEN, TCP_ESTABLISHED, TCP_CLOSE, ...
	Name   []byte // the bound address as sun_path bytes (abstract: leading NUL); nil if unbound
	HasVFS bool
	VFSDev uint64 // st_dev of the socket file, in stat(2)'s encoding
	VFSIno uint64 // st_ino of the socket file
	Peer   uint32 // the peer socket's inode, 0 if none
	HasUID bool
	UID    uint32
	RQueue uint32
	WQueue uint32
	Icons  []uint32 // inodes of connections waiting in a listener's queue
}

// diagDump lists every Unix socket of the network namespace, with the
// attributes in show (udiagShow* bits).
func diagDump(show uint32) ([]diagSocket, error) {
	return diagQuery(unix.NLM_F_DUMP, 0, show)
}

func diagQuery(flags uint16, ino uint32, show uint32) ([]diagSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket(netlink sock_diag)", err)
	}
	f := os.NewFile(uintptr(fd), "sock_diag")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}

	var req [unix.NLMSG_HDRLEN + sizeofUnixDiagReq]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|flags)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[unix.NLMSG_HDRLEN:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	ne.PutUint32(r[8:], ino)
	ne.PutUint32(r[12:], show)
	ne.PutUint32(r[16:], ^uint32(0)) // no cookie
	ne.PutUint32(r[20:], ^uint32(0))

	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if werr != nil {
		return nil, werr
	}
	if serr != nil {
		return nil, os.NewSyscallError("sendto(sock_diag)", serr)
	}

	var out []diagSocket
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return nil, err
		}
		if rerr != nil {
			return nil, os.NewSyscallError("recvfrom(sock_diag)", rerr)
		}
		done, err := parseDiagMessages(buf[:n], &out)
		if err != nil {
			return nil, err
		}
		if done || flags&unix.NLM_F_DUMP == 0 {
			return out, nil
		}
	}
}

func parseDiagMessages(b []byte, out *[]diagSocket) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return false, errors.New("sock_diag: malformed netlink message")
		}
		body := b[unix.NLMSG_HDRLEN:l]
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
			if s, ok := parseDiagSocket(body); ok {
				*out = append(*out, s)
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

func parseDiagSocket(b []byte) (diagSocket, bool) {
	ne := binary.NativeEndian
	if len(b) < sizeofUnixDiagMsg {
		return diagSocket{}, false
	}
	s := diagSocket{Type: b[1], State: b[2], Ino: ne.Uint32(b[4:])}
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
			s.Name = append([]byte(nil), v...)
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
	return s, true
}

// boundTo returns the sockets bound to the file with the given device and
// inode numbers, whatever their state.
func boundTo(dev, ino uint64) ([]diagSocket, error) {
	all, err := diagDump(udiagShowVFS)
	if err != nil {
		return nil, err
	}
	var out []diagSocket
	for _, s := range all {
		if s.HasVFS && s.VFSDev == dev && s.VFSIno == ino {
			out = append(out, s)
		}
	}
	return out, nil
}

// socketHolders returns the PIDs of the processes that have a descriptor for
// the socket with inode ino, found by reading /proc/*/fd. Processes whose
// descriptors cannot be read (other users', without privilege) are skipped.
func socketHolders(ino uint32) []int {
	want := "socket:[" + strconv.FormatUint(uint64(ino), 10) + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	var buf [64]byte
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			n, err := unix.Readlink(dir+"/"+fd.Name(), buf[:])
			if err == nil && string(buf[:n]) == want {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// holderPID returns a process holding one of socks, or 0 if none can be
// found. Listening sockets are preferred.
func holderPID(socks []diagSocket) int {
	for _, listening := range []bool{true, false} {
		for _, s := range socks {
			if (s.State == unix.BPF_TCP_LISTEN) != listening {
				continue
			}
			if pids := socketHolders(s.Ino); len(pids) > 0 {
				return pids[0]
			}
		}
	}
	return 0
}

// flockHolder returns the PID that holds a flock(2) lock on the file with
// the given device and inode, read from /proc/locks, or 0.
func flockHolder(dev, ino uint64) int {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters
		// carry a "->" field first.
		if len(f) < 6 || f[1] == "->" || f[1] != "FLOCK" {
			continue
		}
		if f[5] == want {
			if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
				return pid
			}
		}
	}
	return 0
}
