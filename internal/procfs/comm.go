package procfs

import (
	"os"
	"strconv"
	"strings"
)

// Comm returns the command name of process pid (/proc/PID/comm), or "" if
// it cannot be read (no such process, no /proc, another system).
func Comm(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
