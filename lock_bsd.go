//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package uds

import "golang.org/x/sys/unix"

func lockAbstract(Addr) (*InstanceLock, error) {
	return nil, unsupported("abstract socket locks")
}

// lockFileHolder has no /proc/locks to read: the PID in the file is used.
func lockFileHolder(int, *unix.Stat_t) int { return 0 }
