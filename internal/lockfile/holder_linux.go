package lockfile

import (
	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/procfs"
)

// TableReadable is true where the kernel names a flock's holder
// (/proc/locks), so holders need not be found through the PID in the file.
const TableReadable = true

// Holder returns the PID that holds a flock on the file open as fd (stat
// st), or 0 if it cannot be learnt.
func Holder(fd int, st *unix.Stat_t) int { return procfs.FlockHolder(fd, st) }
