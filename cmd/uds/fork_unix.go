//go:build linux || darwin || freebsd

package main

import (
	"os"
	"strconv"
	"syscall"
)

// setBlocking puts f's descriptor (and the open file it shares) in blocking
// mode, for a child that reads and writes it plainly.
func setBlocking(f *os.File) error {
	return os.NewSyscallError("fcntl", syscall.SetNonblock(int(f.Fd()), false))
}

// closeInheritedOnExec marks every descriptor above 2 close-on-exec, so
// that descriptors this process inherited without the flag (from a shell
// or a supervisor) do not pass on to --exec commands; this process's own
// are close-on-exec already.
func closeInheritedOnExec() error {
	ents, err := os.ReadDir("/dev/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}
