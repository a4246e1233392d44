//go:build unix

package uds

import (
	"errors"

	"golang.org/x/sys/unix"
)

// checkInheritedFD checks that fd is open.
func checkInheritedFD(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		if err == unix.EBADF {
			return errors.New("is not open")
		}
		return err
	}
	return nil
}

// claimInheritedFD marks fd close-on-exec.
func claimInheritedFD(fd int) { unix.CloseOnExec(fd) }
