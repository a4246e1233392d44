//go:build linux || darwin || freebsd

package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dupSocket returns a close-on-exec duplicate of c's descriptor; os/exec
// clears the flag on the copy it gives the child.
func dupSocket(c syscall.Conn) (*os.File, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(fd), "socket"), nil
}

// forwardedSignals are passed on to CMD as they come, besides the SIGINT or
// SIGTERM that cancels ctx.
var forwardedSignals = []os.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2}
