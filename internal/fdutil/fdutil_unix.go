//go:build linux || darwin || freebsd

// Package fdutil holds the descriptor operations that the root package and
// its subpackages share.
package fdutil

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dup returns a new close-on-exec descriptor for c's, made inside c's
// RawConn so that c cannot be closed meanwhile. Unlike net's and os's File
// methods it leaves the descriptor's blocking mode as it is.
func Dup(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", derr)
	}
	return fd, nil
}
