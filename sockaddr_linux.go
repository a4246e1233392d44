package uds

import (
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/procfs"
)

const (
	// MaxPathLen is the longest path, in bytes, that fits in sun_path with
	// its terminating NUL (107 on Linux, 103 on darwin and the BSDs). On Linux
	// longer paths still work: uds binds and connects them through the
	// parent directory's descriptor (/proc/self/fd/N/name).
	MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

	// maxAbstractLen is the longest abstract name, in bytes (107 on Linux,
	// 0 where abstract names do not exist).
	maxAbstractLen = len(unix.RawSockaddrUnix{}.Path) - 1

	abstractSupported = true

	// pathMax is Linux's PATH_MAX, the most open(2) and friends accept.
	pathMax = 4096

	// fchmodBeforeBind: Linux creates the socket file with the socket
	// inode's mode less the umask, so the mode can be set before bind.
	fchmodBeforeBind = true
)

// setSunLen does nothing: Linux's sockaddr_un has no length field.
func setSunLen(*unix.RawSockaddrUnix, uint32) {}

// procFDPrefix is where the long-path trick names a directory descriptor.
const procFDPrefix = procfs.SelfFDPrefix

// maxLongBase is the longest last path element that the long-path trick can
// reach: "/proc/self/fd/" + a descriptor number of up to 10 digits + "/".
const maxLongBase = MaxPathLen - len(procFDPrefix) - 10 - 1

func checkPathLen(p string) error {
	if len(p) <= MaxPathLen {
		return nil
	}
	if len(p) >= pathMax {
		return fmt.Errorf("%w: path is %d bytes, longer than the system limit of %d (PATH_MAX)", ErrInvalidAddr, len(p), pathMax-1)
	}
	if base := filepath.Base(p); len(base) > maxLongBase {
		return fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path, and its last element is %d bytes, too long to reach through %sN/ (limit %d)",
			ErrInvalidAddr, len(p), MaxPathLen, len(base), procFDPrefix, maxLongBase)
	}
	return nil
}

// procPath names base inside the directory open as dirfd.
func procPath(dirfd int, base string) string {
	return procFDPrefix + strconv.Itoa(dirfd) + "/" + base
}
