package uds

import "syscall"

// What Windows has, in one place: the limits of addresses and the behaviour of
// its socket calls that the rest of the package adapts to (see
// docs/ARCHITECTURE.md, "Platform files").

// MaxPathLen is the longest path, in bytes, that fits in sun_path with its
// terminating NUL: 107 on Windows.
const MaxPathLen = len(syscall.RawSockaddrUnix{}.Path) - 1

const (
	// No abstract namespace.
	maxAbstractLen    = 0
	abstractSupported = false
)
