package diag

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/procfs"
	"github.com/udskit/uds/internal/sockdiag"
)

// Sockets and Who, Linux's way: a sock_diag dump (package sockdiag) and one
// pass over /proc/*/fd (package procfs).

func listSockets(ctx context.Context) ([]Socket, error) {
	all, err := sockdiag.DumpContext(ctx, sockdiag.ShowAll)
	if err != nil {
		return nil, err
	}
	socks := make([]Socket, len(all))
	for i := range all {
		socks[i] = export(&all[i])
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
// descriptor ("/proc/self/fd/N/NAME", how the root package binds a long path): the directory is what
// descriptor N of a process holding the socket refers to, and the path is
// kept only if the file there is the socket's own (FileDev, FileIno).
func resolveFDPaths(socks []Socket) {
	for i := range socks {
		s := &socks[i]
		if s.Addr.Kind() != uds.KindPath || s.FileIno == 0 || !strings.HasPrefix(s.Addr.Name(), procfs.SelfFDPrefix) {
			continue
		}
		fdText, base, ok := strings.Cut(s.Addr.Name()[len(procfs.SelfFDPrefix):], "/")
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
func export(s *sockdiag.Socket) Socket {
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

func socketType(t uint8) uds.SocketType {
	switch t {
	case unix.SOCK_DGRAM:
		return uds.Datagram
	case unix.SOCK_SEQPACKET:
		return uds.SeqPacket
	}
	return uds.Stream
}

// decodeDiagName decodes UNIX_DIAG_NAME: sun_path's bytes, exactly as long
// as the kernel keeps them. An abstract name starts with NUL and is taken
// whole (it may contain more NULs); a path ends at its first NUL (the kernel
// keeps the terminating NUL that bind counted).
func decodeDiagName(name string, typ uds.SocketType) uds.Addr {
	switch {
	case name == "":
		return uds.Unnamed().WithType(typ)
	case name[0] == 0:
		return uds.Abstract(name[1:]).WithType(typ)
	}
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return uds.Path(name).WithType(typ)
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
		name := s.Addr.Name()
		if s.Addr.Kind() != uds.KindPath || s.FileIno == 0 || !strings.HasPrefix(name, "/") || strings.HasPrefix(name, "/proc/") {
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
	fd   int            // O_PATH descriptor, -1 if no socket file is there
	file *sockdiag.File // for fd
	err  error          // the path could not be looked at
}

func openPathFile(name string) *pathFile {
	fd, st, err := sockdiag.Pin(unix.AT_FDCWD, name)
	f := &pathFile{fd: -1}
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK:
		f.fd, f.file = fd, sockdiag.NewFile(fd, &st)
	case err == nil:
		unix.Close(fd)
	case err != unix.ENOENT && err != unix.ENOTDIR:
		f.err = &os.PathError{Op: "open", Path: name, Err: err}
	}
	return f
}

// holds reports whether the socket file at the path is the file that
// sock_diag names (dev, ino), false if that cannot be told (see
// sockdiag.File.Holds).
func (f *pathFile) holds(dev, ino uint64) bool {
	if f.fd < 0 {
		return false
	}
	ok, err := f.file.Holds(dev, ino)
	return ok && err == nil
}

func (f *pathFile) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

func whoServes(ctx context.Context, a uds.Addr) ([]Socket, error) {
	// The dump is filtered as it is read: of a host's hundred thousand
	// sockets only those that may be at a's address are kept.
	var out []Socket
	if a.Kind() == uds.KindAbstract {
		want := "\x00" + a.Name()
		keep := func(s *sockdiag.Socket) {
			if s.Name == want {
				out = append(out, export(s))
			}
		}
		if err := sockdiag.Scan(ctx, sockdiag.ShowAll, sockdiag.AllStates, keep); err != nil {
			return nil, err
		}
	} else { // a path: Who takes no other kind
		// Kept: the sockets bound to some file, and those bound under
		// the path's name. The file at the path is looked at only after
		// the dump: a socket the dump saw bound has its file by then,
		// where a socket bound between a look and a later dump would be
		// taken for a shadowed one.
		var cands []sockdiag.Socket
		keep := func(s *sockdiag.Socket) {
			if s.HasVFS || (s.Name != "" && s.Name[0] != 0) {
				cands = append(cands, *s)
			}
		}
		if err := sockdiag.Scan(ctx, sockdiag.ShowAll, sockdiag.AllStates, keep); err != nil {
			return nil, err
		}
		f := openPathFile(a.Name())
		defer f.close()
		if f.err != nil {
			return nil, f.err
		}
		for i := range cands {
			s := &cands[i]
			if s.HasVFS && f.holds(s.VFSDev, s.VFSIno) {
				out = append(out, export(s))
				continue
			}
			if s.Name == "" || s.Name[0] == 0 {
				continue
			}
			if e := export(s); sameBoundName(e.Addr.Name(), a.Name()) {
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
		typ  uds.SocketType
		name string
		ino  uint64
	}
	listening := map[key]bool{}
	for _, s := range socks {
		if s.State == StateListen {
			listening[key{s.Type, s.Addr.Name(), s.FileIno}] = true
		}
	}
	if len(listening) == 0 {
		return socks
	}
	return slices.DeleteFunc(socks, func(s Socket) bool {
		return s.State != StateListen && s.Type != uds.Datagram && listening[key{s.Type, s.Addr.Name(), s.FileIno}]
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
	err := procfs.ScanSocketFDs(ctx, func(pid int, comm func() string, fd int, ino uint64) {
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
