//go:build !(linux || darwin || freebsd || windows)

package uds

// What this platform has, in one place: the limits of addresses and the behaviour of
// its socket calls that the rest of the package adapts to (see
// docs/ARCHITECTURE.md, "Platform files").

// MaxPathLen is the longest path, in bytes, that fits in sun_path with its
// terminating NUL on this platform.
const MaxPathLen = 103

const (
	// No abstract namespace.
	maxAbstractLen    = 0
	abstractSupported = false
)
