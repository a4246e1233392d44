package uds

import (
	"fmt"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// MaxPathLen is the longest path, in bytes, that fits in sun_path with
	// its terminating NUL (107 on Linux, 103 on darwin and the BSDs). On Linux
	// longer paths still work: uds binds and connects them through the
	// parent directory's descriptor (/proc/self/fd/N/name).
	MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

	// MaxAbstractLen is the longest abstract name, in bytes (107 on Linux,
	// 0 where abstract names do not exist).
	MaxAbstractLen = len(unix.RawSockaddrUnix{}.Path) - 1

	abstractSupported = true

	// pathMax is Linux's PATH_MAX, the most open(2) and friends accept.
	pathMax = 4096

	sizeofFamily = uint32(unsafe.Sizeof(unix.RawSockaddrUnix{}.Family))
)

// procFDPrefix is where the long-path trick names a directory descriptor.
const procFDPrefix = "/proc/self/fd/"

// maxLongBase is the longest last path element that the long-path trick can
// reach: "/proc/self/fd/" + a descriptor number of up to 10 digits + "/".
const maxLongBase = MaxPathLen - len(procFDPrefix) - 10 - 1

func checkPathLen(p string) error {
	if len(p) <= MaxPathLen {
		return nil
	}
	if len(p) >= pathMax {
		return fmt.Errorf("%w: path is %d bytes, longer than the system limit of %d (PATH_MAX)", ErrInvalidAddr, len(p), pathMax-1)
	}
	if base := filepath.Base(p); len(base) > maxLongBase {
		return fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path, and its last element is %d bytes, too long to reach through %sN/ (limit %d)",
			ErrInvalidAddr, len(p), MaxPathLen, len(base), procFDPrefix, maxLongBase)
	}
	return nil
}

// encodeSockaddr fills sa for a and returns the exact socket address length.
// Paths longer than MaxPathLen are the caller's business (see longPath).
func encodeSockaddr(a Addr, sa *unix.RawSockaddrUnix) (uint32, error) {
	*sa = unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	switch a.kind {
	case KindPath:
		if len(a.name) > MaxPathLen {
			return 0, fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path", ErrInvalidAddr, len(a.name), MaxPathLen)
		}
		for i := 0; i < len(a.name); i++ {
			sa.Path[i] = int8(a.name[i])
		}
		return sizeofFamily + uint32(len(a.name)) + 1, nil
	case KindAbstract:
		if len(a.name) > MaxAbstractLen {
			return 0, fmt.Errorf("%w: abstract name is %d bytes, longer than the limit of %d", ErrInvalidAddr, len(a.name), MaxAbstractLen)
		}
		for i := 0; i < len(a.name); i++ {
			sa.Path[i+1] = int8(a.name[i])
		}
		return sizeofFamily + 1 + uint32(len(a.name)), nil
	case KindAutobind:
		return sizeofFamily, nil
	}
	return 0, a.validate()
}

// decodeSockaddr returns the address in sa's first n bytes, exactly.
func decodeSockaddr(sa *unix.RawSockaddrUnix, n uint32, typ SocketType) Addr {
	if n <= sizeofFamily || sa.Family != unix.AF_UNIX {
		return Addr{typ: typ}
	}
	if n > uint32(unsafe.Sizeof(*sa)) {
		n = uint32(unsafe.Sizeof(*sa))
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), n-sizeofFamily)
	if raw[0] == 0 {
		return Addr{kind: KindAbstract, typ: typ, name: string(raw[1:])}
	}
	for i, c := range raw {
		if c == 0 {
			raw = raw[:i]
			break
		}
	}
	return Path(string(raw)).WithType(typ)
}

func sockaddrSyscall(trap uintptr, fd int, sa *unix.RawSockaddrUnix, n uint32) error {
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(sa)), uintptr(n))
	if e != 0 {
		return e
	}
	return nil
}

// sysBind binds fd to a with the exact address length.
func sysBind(fd int, a Addr) error {
	var sa unix.RawSockaddrUnix
	n, err := encodeSockaddr(a, &sa)
	if err != nil {
		return err
	}
	return sockaddrSyscall(unix.SYS_BIND, fd, &sa, n)
}

// sysConnect connects fd to a with the exact address length.
func sysConnect(fd int, a Addr) error {
	var sa unix.RawSockaddrUnix
	n, err := encodeSockaddr(a, &sa)
	if err != nil {
		return err
	}
	return sockaddrSyscall(unix.SYS_CONNECT, fd, &sa, n)
}

func sockname(trap uintptr, fd int, typ SocketType) (Addr, error) {
	var sa unix.RawSockaddrUnix
	n := uint32(unsafe.Sizeof(sa))
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return Addr{}, e
	}
	return decodeSockaddr(&sa, n, typ), nil
}

// sysGetsockname returns fd's own address exactly.
func sysGetsockname(fd int, typ SocketType) (Addr, error) {
	return sockname(unix.SYS_GETSOCKNAME, fd, typ)
}

// sysGetpeername returns the address of fd's peer exactly.
func sysGetpeername(fd int, typ SocketType) (Addr, error) {
	return sockname(unix.SYS_GETPEERNAME, fd, typ)
}

// procPath names base inside the directory open as dirfd.
func procPath(dirfd int, base string) string {
	return procFDPrefix + strconv.Itoa(dirfd) + "/" + base
}
