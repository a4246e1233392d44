//go:build !(linux || darwin || freebsd)

package main

import (
	"errors"
	"os"
	"syscall"
)

// dupSocket is not available: descriptors are passed by systemd's protocol
// on Unix systems only.
func dupSocket(syscall.Conn) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

// forwardedSignals are passed on to CMD as they come, besides the SIGINT or
// SIGTERM that cancels ctx.
var forwardedSignals = []os.Signal{syscall.SIGHUP}
