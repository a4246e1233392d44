package uds

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Linux's system constants and calls, beside sys_raw.go's (shared with
// FreeBSD); sys_darwin.go and sys_freebsd.go are the other systems'.

// openDir opens dir as an O_PATH descriptor, for the *at calls and the
// /proc/self/fd/N/name form of long paths.
func openDir(dir string) (int, error) {
	return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// systemSomaxconn reads the kernel's cap on listen backlogs.
func systemSomaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// socketDomain returns fd's address family (SO_DOMAIN).
func socketDomain(fd int) (int, error) {
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil && err != unix.ENOTSOCK {
		err = os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	return dom, err
}
