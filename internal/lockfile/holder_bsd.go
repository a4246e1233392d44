//go:build darwin || freebsd

package lockfile

import "golang.org/x/sys/unix"

// TableReadable is false: there is no /proc/locks, and the PID in the file
// names a uds holder.
const TableReadable = false

// Holder returns 0: the kernel does not name a flock's holder here.
func Holder(int, *unix.Stat_t) int { return 0 }
