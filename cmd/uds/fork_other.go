//go:build !(linux || darwin || freebsd)

package main

import (
	"errors"
	"os"
)

func setBlocking(*os.File) error { return errors.ErrUnsupported }

func closeInheritedOnExec() error { return errors.ErrUnsupported }
