package sockdiag

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/procfs"
)

// Pin opens name in dirfd as an O_PATH descriptor of the file itself (a
// symbolic link is not followed) and stats it.
func Pin(dirfd int, name string) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	return fd, st, nil
}

// File is a file pinned by a descriptor, to be compared with the file that
// sock_diag says a socket is bound to.
//
// sock_diag names the file by the low 32 bits of its inode number
// (udiag_vfs_ino is 32 bits; XFS and btrfs numbers go past that) and by
// its file system's device as the superblock has it, which is what stat
// reports except where a file system gives each subvolume a device of its
// own (btrfs). So the inode is compared in its low 32 bits, and the device
// as stat gives it or, where that differs, as the mount table gives the
// file's superblock (procfs.SuperDev). A socket bound to another file whose
// inode number has the same low 32 bits on the same file system would be
// taken for one bound to this file: callers that act on a match check more
// (the owner, the directory).
type File struct {
	fd   int
	st   unix.Stat_t
	sdev uint64 // SuperDev, once asked
}

// NewFile describes the file open as fd (any descriptor of it, O_PATH
// included), whose stat is st. The caller keeps fd open while it uses the
// File, and closes it.
func NewFile(fd int, st *unix.Stat_t) *File { return &File{fd: fd, st: *st} }

// Holds reports whether this is the file that sock_diag names (dev, ino):
// the socket file of a Socket with HasVFS. The error says that the file's
// superblock device, needed for the answer, could not be learnt.
func (f *File) Holds(dev, ino uint64) (bool, error) {
	if uint32(ino) != uint32(f.st.Ino) {
		return false, nil
	}
	if dev == uint64(f.st.Dev) {
		return true, nil
	}
	if f.sdev == 0 {
		sdev, err := procfs.SuperDev(f.fd)
		if err != nil {
			return false, err
		}
		f.sdev = sdev
	}
	return dev == f.sdev, nil
}

// Bound returns the sockets of socks (a dump with ShowVFS) bound to the
// file.
func (f *File) Bound(socks []Socket) ([]Socket, error) {
	var out []Socket
	for _, s := range socks {
		if !s.HasVFS {
			continue
		}
		ok, err := f.Holds(s.VFSDev, s.VFSIno)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// BoundTo asks sock_diag for the sockets bound to the file (see Find).
func (f *File) BoundTo(ctx context.Context) ([]Socket, error) {
	return Find(ctx, ShowVFS, func(s *Socket) (bool, error) {
		if !s.HasVFS {
			return false, nil
		}
		return f.Holds(s.VFSDev, s.VFSIno)
	})
}
