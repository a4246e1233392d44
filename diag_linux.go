package uds

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

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

// diagDump lists every Unix socket of the network namespace, with the
// attributes in show (udiagShow* bits).
// A dump that the kernel marks as interrupted (sockets came and went while
// it was taken) is taken again, up to three times.
func diagDump(show uint32) ([]diagSocket, error) {
	for try := 0; ; try++ {
		socks, err := diagQuery(context.Background(), unix.NLM_F_DUMP, 0, show)
		if err != errDumpInterrupted || try == 2 {
			return socks, err
		}
	}
}

// errDumpInterrupted is a dump that may have missed sockets
// (NLM_F_DUMP_INTR): one cannot conclude from it that a socket is absent.
var errDumpInterrupted = errors.New("sock_diag: dump interrupted by concurrent changes")

func diagQuery(ctx context.Context, flags uint16, ino uint32, show uint32) ([]diagSocket, error) {
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		f.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := diagRequest(flags, ino, show)
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
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
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

// diagRequest builds a SOCK_DIAG_BY_FAMILY request for AF_UNIX sockets in
// every state: a dump (flags NLM_F_DUMP) or the socket with inode ino.
func diagRequest(flags uint16, ino uint32, show uint32) [unix.NLMSG_HDRLEN + sizeofUnixDiagReq]byte {
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
	return req
}

// diagExact asks sock_diag about the one socket with inode ino. The kernel
// answers such a request while it is being sent (the reply is queued before
// write returns), so the reply is read without waiting and without the
// poller, into a buffer on the stack. If the reply is not there (it always
// is on the kernels this was written for), the poller path is taken.
func diagExact(ino uint32, show uint32) ([]diagSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket(netlink sock_diag)", err)
	}
	defer unix.Close(fd)
	req := diagRequest(0, ino, show)
	if _, err := unix.Write(fd, req[:]); err != nil {
		if err == unix.EAGAIN {
			return diagQuery(context.Background(), 0, ino, show)
		}
		return nil, os.NewSyscallError("write(sock_diag)", err)
	}
	var buf [2048]byte
	n, err := unix.Read(fd, buf[:])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return diagQuery(context.Background(), 0, ino, show)
	case err != nil:
		return nil, os.NewSyscallError("read(sock_diag)", err)
	case n >= len(buf):
		// Maybe cut: ask again with the large buffer.
		return diagQuery(context.Background(), 0, ino, show)
	}
	var out []diagSocket
	if _, err := parseDiagMessages(buf[:n], &out); err != nil {
		return nil, err
	}
	return out, nil
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
		if ne.Uint16(b[6:])&unix.NLM_F_DUMP_INTR != 0 {
			return true, errDumpInterrupted
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
	return s, true
}

// holderPID returns a process holding one of socks, or 0 if none can be
// found. Listening sockets are preferred. /proc/*/fd is read once, however
// many sockets there are.
func holderPID(socks []diagSocket) int {
	if len(socks) == 0 {
		return 0
	}
	listening := make(map[uint64]bool, len(socks))
	for _, s := range socks {
		listening[uint64(s.Ino)] = s.State == unix.BPF_TCP_LISTEN
	}
	pid := 0
	_ = scanProcFDs(context.Background(), func(p int, _ func() string, _ int, ino uint64) {
		l, ok := listening[ino]
		if !ok {
			return
		}
		if pid == 0 || l {
			pid = p
		}
		if l {
			// The first holder of a listener wins; nothing beats it.
			clear(listening)
		}
	})
	return pid
}

// abstractBound returns the sockets of type typ (SOCK_STREAM, ...) bound to
// the abstract name (without its leading NUL). Each socket type has its own
// abstract namespace.
func abstractBound(name string, typ int) ([]diagSocket, error) {
	socks, err := diagDump(udiagShowName)
	if err != nil {
		return nil, err
	}
	want := "\x00" + name
	return slices.DeleteFunc(socks, func(s diagSocket) bool {
		return s.Name != want || int(s.Type) != typ
	}), nil
}

// lockFileHolder returns the PID that holds a flock(2) lock on the file open
// as fd (stat st), read from /proc/locks, or 0. /proc/locks names the file
// by its superblock's device, which is not stat's on btrfs (superDev).
func lockFileHolder(fd int, st *unix.Stat_t) int {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	data, err := io.ReadAll(io.LimitReader(f, maxProcLocks))
	f.Close()
	if err != nil {
		return 0
	}
	if pid := locksHolder(data, uint64(st.Dev), st.Ino); pid != 0 {
		return pid
	}
	if sdev, err := superDev(fd); err == nil && sdev != uint64(st.Dev) {
		return locksHolder(data, sdev, st.Ino)
	}
	return 0
}

// maxProcLocks bounds the part of /proc/locks read (some 100,000 locks).
const maxProcLocks = 8 << 20

// locksHolder finds the holder of a FLOCK lock on (dev, ino) in the text of
// /proc/locks.
func locksHolder(data []byte, dev, ino uint64) int {
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters
		// carry a "->" field first, so their f[1] is not "FLOCK".
		if len(f) < 6 || f[1] != "FLOCK" {
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

// udiagShowAll is every attribute Sockets reports.
const udiagShowAll = udiagShowName | udiagShowVFS | udiagShowPeer | udiagShowIcons | udiagShowRQLen | udiagShowUID

func listSockets(ctx context.Context) ([]Socket, error) {
	all, err := diagQuery(ctx, unix.NLM_F_DUMP, 0, udiagShowAll)
	if err != nil {
		return nil, err
	}
	socks := make([]Socket, len(all))
	for i := range all {
		socks[i] = all[i].export()
	}
	sortSockets(socks)
	markShadowed(socks)
	if err := addProcs(ctx, socks); err != nil {
		return nil, err
	}
	resolveFDPaths(socks)
	return socks, nil
}

// resolveFDPaths sets FilePath on the sockets bound through a directory
// descriptor ("/proc/self/fd/N/NAME", see bindAddr): the directory is what
// descriptor N of a process holding the socket refers to, and the path is
// kept only if the file there is the socket's own (FileDev, FileIno).
func resolveFDPaths(socks []Socket) {
	for i := range socks {
		s := &socks[i]
		if s.Addr.kind != KindPath || s.FileIno == 0 || !strings.HasPrefix(s.Addr.name, procFDPrefix) {
			continue
		}
		fdText, base, ok := strings.Cut(s.Addr.name[len(procFDPrefix):], "/")
		if _, err := strconv.Atoi(fdText); !ok || err != nil || base == "" {
			continue
		}
		for _, p := range s.Procs {
			dir, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/fd/" + fdText)
			if err != nil || !strings.HasPrefix(dir, "/") {
				continue // gone, or not a directory ("socket:[N]", ...)
			}
			path := filepath.Join(dir, base)
			f := openPathFile(path)
			held := f.err == nil && f.holds(s.FileDev, s.FileIno)
			f.close()
			if held {
				s.FilePath = path
				break
			}
		}
	}
}

func sortSockets(socks []Socket) {
	slices.SortFunc(socks, func(a, b Socket) int { return cmp.Compare(a.Inode, b.Inode) })
}

// export turns the kernel's answer into a Socket, without its processes.
func (s *diagSocket) export() Socket {
	typ := socketType(s.Type)
	out := Socket{
		Addr:   decodeDiagName(s.Name, typ),
		Type:   typ,
		State:  SocketState(s.State),
		Inode:  uint64(s.Ino),
		UID:    -1,
		RQueue: s.RQueue,
		WQueue: s.WQueue,
		Peer:   uint64(s.Peer),
	}
	if s.HasVFS {
		out.FileDev, out.FileIno = s.VFSDev, s.VFSIno
	}
	if s.HasUID {
		out.UID = int(s.UID)
	}
	if len(s.Icons) > 0 {
		out.Pending = make([]uint64, len(s.Icons))
		for i, ino := range s.Icons {
			out.Pending[i] = uint64(ino)
		}
	}
	return out
}

func socketType(t uint8) SocketType {
	switch t {
	case unix.SOCK_DGRAM:
		return Datagram
	case unix.SOCK_SEQPACKET:
		return SeqPacket
	}
	return Stream
}

// decodeDiagName decodes UNIX_DIAG_NAME: sun_path's bytes, exactly as long
// as the kernel keeps them. An abstract name starts with NUL and is taken
// whole (it may contain more NULs); a path ends at its first NUL (the kernel
// keeps the terminating NUL that bind counted).
func decodeDiagName(name string, typ SocketType) Addr {
	switch {
	case name == "":
		return Addr{typ: typ}
	case name[0] == 0:
		return Addr{kind: KindAbstract, typ: typ, name: name[1:]}
	}
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return Path(name).WithType(typ)
}

// markShadowed sets Shadowed on sockets bound to an absolute path whose file
// is gone or is another one now. Relative names depend on the binder's
// working directory and /proc/self/... names on the binder itself, so they
// are left alone, and so is a path that cannot be looked at.
func markShadowed(socks []Socket) {
	files := map[string]*pathFile{}
	defer func() {
		for _, f := range files {
			f.close()
		}
	}()
	for i := range socks {
		s := &socks[i]
		name := s.Addr.name
		if s.Addr.kind != KindPath || s.FileIno == 0 || !strings.HasPrefix(name, "/") || strings.HasPrefix(name, "/proc/") {
			continue
		}
		f, ok := files[name]
		if !ok {
			f = openPathFile(name)
			files[name] = f
		}
		if f.err == nil {
			s.Shadowed = !f.holds(s.FileDev, s.FileIno)
		}
	}
}

// pathFile is the socket file at a path, pinned, for comparing with the
// file sock_diag says a socket is bound to.
type pathFile struct {
	fd   int // O_PATH descriptor, -1 if no socket file is there
	st   unix.Stat_t
	sdev uint64 // superDev, once asked
	err  error  // the path could not be looked at
}

func openPathFile(name string) *pathFile {
	fd, st, err := pinFile(unix.AT_FDCWD, name)
	f := &pathFile{fd: -1, st: st}
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK:
		f.fd = fd
	case err == nil:
		unix.Close(fd)
	case err != unix.ENOENT && err != unix.ENOTDIR:
		f.err = &os.PathError{Op: "open", Path: name, Err: err}
	}
	return f
}

// holds reports whether the socket file at the path is the file that
// sock_diag names (dev, ino): see socketsOnFile.
func (f *pathFile) holds(dev, ino uint64) bool {
	if f.fd < 0 || uint32(ino) != uint32(f.st.Ino) {
		return false
	}
	if dev == uint64(f.st.Dev) {
		return true
	}
	if f.sdev == 0 {
		sdev, err := superDev(f.fd)
		if err != nil {
			return false
		}
		f.sdev = sdev
	}
	return dev == f.sdev
}

func (f *pathFile) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

func whoServes(ctx context.Context, a Addr) ([]Socket, error) {
	all, err := diagQuery(ctx, unix.NLM_F_DUMP, 0, udiagShowAll)
	if err != nil {
		return nil, err
	}
	var out []Socket
	switch a.kind {
	case KindAbstract:
		want := "\x00" + a.name
		for i := range all {
			if all[i].Name == want {
				out = append(out, all[i].export())
			}
		}
	case KindPath:
		f := openPathFile(a.name)
		defer f.close()
		if f.err != nil {
			return nil, f.err
		}
		for i := range all {
			s := &all[i]
			if s.HasVFS && f.holds(s.VFSDev, s.VFSIno) {
				out = append(out, s.export())
				continue
			}
			if s.Name == "" || s.Name[0] == 0 {
				continue
			}
			if e := s.export(); sameBoundName(e.Addr.name, a.name) {
				e.Shadowed = true
				out = append(out, e)
			}
		}
	}
	out = dropAccepted(out)
	slices.SortFunc(out, func(x, y Socket) int {
		if x.Shadowed != y.Shadowed {
			if x.Shadowed {
				return 1
			}
			return -1
		}
		if xl, yl := x.State == StateListen, y.State == StateListen; xl != yl {
			if xl {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.Inode, y.Inode)
	})
	if err := addProcs(ctx, out); err != nil {
		return nil, err
	}
	resolveFDPaths(out)
	return out, nil
}

// sameBoundName reports whether a socket's bound name is the text of path p:
// equal once cleaned, or equal to p made absolute.
func sameBoundName(bound, p string) bool {
	bound, p = filepath.Clean(bound), filepath.Clean(p)
	if bound == p {
		return true
	}
	if filepath.IsAbs(bound) && !filepath.IsAbs(p) {
		if abs, err := filepath.Abs(p); err == nil {
			return abs == bound
		}
	}
	return false
}

// dropAccepted removes the connections that a listener in socks accepted
// (or has queued): connected stream and seqpacket sockets that carry the
// address of a listener of their type.
func dropAccepted(socks []Socket) []Socket {
	type key struct {
		typ  SocketType
		name string
		ino  uint64
	}
	listening := map[key]bool{}
	for _, s := range socks {
		if s.State == StateListen {
			listening[key{s.Type, s.Addr.name, s.FileIno}] = true
		}
	}
	if len(listening) == 0 {
		return socks
	}
	return slices.DeleteFunc(socks, func(s Socket) bool {
		return s.State != StateListen && s.Type != Datagram && listening[key{s.Type, s.Addr.name, s.FileIno}]
	})
}

// addProcs fills in the processes holding socks, with one pass over
// /proc/*/fd. The Procs slices share one backing array.
func addProcs(ctx context.Context, socks []Socket) error {
	if len(socks) == 0 {
		return nil
	}
	idx := make(map[uint64]int32, len(socks))
	for i := range socks {
		idx[socks[i].Inode] = int32(i)
	}
	type hit struct {
		sock int32
		proc Proc
	}
	hits := make([]hit, 0, len(socks))
	err := scanProcFDs(ctx, func(pid int, comm func() string, fd int, ino uint64) {
		if i, ok := idx[ino]; ok {
			hits = append(hits, hit{i, Proc{PID: pid, Comm: comm(), FD: fd}})
		}
	})
	if err != nil {
		return err
	}
	// Count per socket, then hand out consecutive slices of one array in
	// the order of the scan (PID, then descriptor).
	start := make([]int32, len(socks)+1)
	for _, h := range hits {
		start[h.sock+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	procs := make([]Proc, len(hits))
	next := slices.Clone(start[:len(socks)])
	for _, h := range hits {
		procs[next[h.sock]] = h.proc
		next[h.sock]++
	}
	for i := range socks {
		if lo, hi := start[i], start[i+1]; hi > lo {
			socks[i].Procs = procs[lo:hi:hi]
		}
	}
	return nil
}

// scanProcFDs calls fn for every socket descriptor of every process it can
// read, in PID and descriptor order; comm returns the process's command
// name (read once per process, on first use). Processes that go away or
// cannot be read are skipped.
func scanProcFDs(ctx context.Context, fn func(pid int, comm func() string, fd int, ino uint64)) error {
	procDir, err := os.Open("/proc")
	if err != nil {
		return err
	}
	names, err := procDir.Readdirnames(-1)
	procDir.Close()
	if err != nil {
		return err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)

	dents := make([]byte, 32<<10)
	var stx unix.Statx_t
	var path []byte
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return err
		}
		path = append(path[:0], "/proc/"...)
		path = strconv.AppendInt(path, int64(pid), 10)
		path = append(path, "/fd"...)
		dirfd, err := unix.Open(string(path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var commName string
		commRead := false
		comm := func() string {
			if !commRead {
				commRead = true
				if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
					commName = strings.TrimSuffix(string(b), "\n")
				}
			}
			return commName
		}
		for {
			n, err := unix.Getdents(dirfd, dents)
			if err != nil || n <= 0 {
				break
			}
			for off := 0; off+19 < n; {
				// struct linux_dirent64: d_ino u64, d_off s64, d_reclen
				// u16, d_type u8, d_name (NUL-terminated).
				reclen := int(binary.NativeEndian.Uint16(dents[off+16:]))
				if reclen <= 0 || off+reclen > n {
					break
				}
				name := dents[off+19 : off+reclen]
				rec := off
				off += reclen
				fd, ok := atoiBytes(name)
				if !ok {
					continue // "." and ".."
				}
				if statxAt(dirfd, &dents[rec+19], &stx) == nil && stx.Mode&unix.S_IFMT == unix.S_IFSOCK {
					fn(pid, comm, fd, stx.Ino)
				}
			}
		}
		unix.Close(dirfd)
	}
	return nil
}

// statxAt stats the file that the descriptor link name (NUL-terminated, in
// the directory dirfd, /proc/PID/fd) refers to, asking only for its type and
// inode. It allocates nothing, is several times cheaper than reading the
// link, and with AT_STATX_DONT_SYNC does not wait on a network or FUSE file
// system for fresh attributes: a socket's type and inode never need them.
func statxAt(dirfd int, name *byte, stx *unix.Statx_t) error {
	_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
		unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE|unix.STATX_INO, uintptr(unsafe.Pointer(stx)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// atoiBytes parses a NUL-terminated decimal number.
func atoiBytes(b []byte) (int, bool) {
	n, digits := 0, 0
	for _, c := range b {
		if c == 0 {
			break
		}
		if c < '0' || c > '9' || digits > 9 {
			return 0, false
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}
