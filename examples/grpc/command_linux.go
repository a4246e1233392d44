package main

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// command returns the command name of the process c describes
// (/proc/PID/comm), "?" when it cannot be read, and "(exited)" when the
// process has exited since it connected.
//
// A PID alone can name another process by the time /proc is read: the
// caller may have exited and its PID been reused. With a PIDFD (Linux 6.5
// and later) that cannot go unnoticed: the name is read first, then the
// PIDFD is asked whether its process still runs. If it does, it ran all
// along, so the PID was still its own when the name was read.
func command(c *uds.Cred) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.PID) + "/comm")
	if c.PIDFD != nil && exited(c.PIDFD) {
		return "(exited)"
	}
	if err != nil {
		return "?"
	}
	return strings.TrimSuffix(string(b), "\n")
}

// exited reports whether the process of a pidfd has exited (the pidfd
// polls readable from then on), or whether the pidfd is closed, as it is
// once the connection that brought it has closed.
func exited(pidfd *os.File) bool {
	rc, err := pidfd.SyscallConn()
	if err != nil {
		return true
	}
	done := true
	// Control keeps the descriptor open while the function runs.
	if err := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			done = err != nil || n > 0
			return
		}
	}); err != nil {
		return true
	}
	return done
}
