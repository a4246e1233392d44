package uds

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvfromReportsLen is false: a read always goes through recvmsg, whose
// msg_flags say whether a message was cut even if the kernel does not
// return its full length for MSG_TRUNC.
const recvfromReportsLen = false

// cmsgAlignTo is the alignment of control messages (CMSG_ALIGN).
const cmsgAlignTo = int(unsafe.Sizeof(uintptr(0)))

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
