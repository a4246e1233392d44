//go:build linux || darwin || freebsd

package activation

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

// maxInheritedFD returns one past the highest descriptor this process can
// have open (the soft RLIMIT_NOFILE), capped to keep counts in an int.
func maxInheritedFD() int {
	const most = 1 << 30
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > most {
		return most
	}
	return int(rl.Cur)
}
