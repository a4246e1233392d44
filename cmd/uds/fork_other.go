//go:build !unix

package main

import (
	"errors"
	"os"
)

func setBlocking(*os.File) error { return errors.ErrUnsupported }

func closeInheritedOnExec() error { return errors.ErrUnsupported }
