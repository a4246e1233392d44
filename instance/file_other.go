//go:build !(linux || darwin || freebsd)

package instance

import (
	"os"
	"syscall"
)

// File locks (flock) and descriptors: one stub for the systems uds does not
// support.

func lockFile(string) (*Guard, error) {
	return nil, unsupported("file locks (flock)")
}

func dupFile(syscall.Conn, string) (*os.File, error) { return nil, unsupported("File") }
