//go:build !linux

package instance

import (
	"errors"
	"fmt"

	"github.com/udskit/uds"
)

// Abstract socket names are Linux's: one stub for every other system (Lock
// refuses the name before it gets here).

func lockAbstract(uds.Addr) (*Guard, error) {
	return nil, unsupported("abstract socket locks")
}

// unsupported is an error wrapping errors.ErrUnsupported for what.
func unsupported(what string) error {
	return fmt.Errorf("%s: %w", what, errors.ErrUnsupported)
}
