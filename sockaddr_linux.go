package uds

import (
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/procfs"
)

// pathMax is Linux's PATH_MAX, the most open(2) and friends accept.
const pathMax = 4096

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
