package uds

import (
	"os"

	"golang.org/x/sys/unix"
)

// openDir opens dir for the *at calls; O_SEARCH needs only search (x)
// permission on it, as Linux's O_PATH does.
func openDir(dir string) (int, error) {
	return unix.Open(dir, unix.O_SEARCH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// systemSomaxconn reads the kernel's cap on listen backlogs.
func systemSomaxconn() int {
	n, err := unix.SysctlUint32("kern.ipc.soacceptqueue")
	if err != nil {
		return 0
	}
	return int(n)
}

// socketDomain returns fd's address family (SO_DOMAIN).
func socketDomain(fd int) (int, error) {
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil && err != unix.ENOTSOCK {
		err = os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	return dom, err
}
