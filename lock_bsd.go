//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package uds

func lockAbstract(Addr) (*InstanceLock, error) {
	return nil, unsupported("abstract socket locks")
}

// lockFileHolder has no /proc/locks to read: the PID in the file is used.
func lockFileHolder(uint64, uint64) int { return 0 }
