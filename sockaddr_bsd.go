//go:build darwin || freebsd

package uds

import (
	"fmt"

	"golang.org/x/sys/unix"
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
