//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package uds

func lockAbstract(Addr) (*InstanceLock, error) {
	return nil, unsupported("abstract socket locks")
}

func lockFile(string) (*InstanceLock, error) {
	return nil, unsupported("file locks (flock)")
}
