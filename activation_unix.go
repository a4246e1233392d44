//go:build unix

package uds

import (
	"errors"

	"golang.org/x/sys/unix"
)

// claimInheritedFD checks that fd is open and marks it close-on-exec.
func claimInheritedFD(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		if err == unix.EBADF {
			return errors.New("is not open")
		}
		return err
	}
	unix.CloseOnExec(fd)
	return nil
}
