//go:build darwin || freebsd

package uds

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const (
	// MaxPathLen is the longest path, in bytes, that fits in sun_path with
	// its terminating NUL: 103 on darwin and FreeBSD. Longer paths are
	// rejected with ErrInvalidAddr (the /proc/self/fd trick of Linux does
	// not exist here).
	MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

	// maxAbstractLen is the longest abstract name, in bytes: 0, as darwin
	// and FreeBSD have no abstract namespace.
	maxAbstractLen = 0

	abstractSupported = false

	// fchmodBeforeBind: the BSDs create the socket file with 0777 less the
	// umask whatever the socket's mode, so the mode is set right after bind
	// (before listen for stream and seqpacket sockets).
	fchmodBeforeBind = false
)

func checkPathLen(p string) error {
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path", ErrInvalidAddr, len(p), MaxPathLen)
	}
	return nil
}

// setSunLen sets sun_len, which the BSDs' sockaddr_un carries.
func setSunLen(sa *unix.RawSockaddrUnix, n uint32) { sa.Len = uint8(n) }

// procPath is never called here: checkPathLen rejects the paths longer than
// sun_path that Linux reaches through /proc/self/fd. It returns the empty
// path, which no bind or connect accepts.
func procPath(int, string) string { return "" }
