package procfs

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FlockHolder returns the PID that holds a flock(2) lock on the file open
// as fd (stat st), read from /proc/locks, or 0. /proc/locks names the file
// by its superblock's device, which is not stat's on btrfs (SuperDev).
func FlockHolder(fd int, st *unix.Stat_t) int {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	data, err := io.ReadAll(io.LimitReader(f, maxProcLocks))
	f.Close()
	if err != nil {
		return 0
	}
	if pid := locksHolder(data, uint64(st.Dev), st.Ino); pid != 0 {
		return pid
	}
	if sdev, err := SuperDev(fd); err == nil && sdev != uint64(st.Dev) {
		return locksHolder(data, sdev, st.Ino)
	}
	return 0
}

// maxProcLocks bounds the part of /proc/locks read (some 100,000 locks).
const maxProcLocks = 8 << 20

// locksHolder finds the holder of a FLOCK lock on (dev, ino) in the text of
// /proc/locks.
func locksHolder(data []byte, dev, ino uint64) int {
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), ino)
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters
		// carry a "->" field first, so their f[1] is not "FLOCK".
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		if f[5] == want {
			if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
				return pid
			}
		}
	}
	return 0
}
