//go:build !(linux || darwin || freebsd)

package activation

import (
	"errors"
	"fmt"
)

// checkInheritedFD fails: descriptors are passed by systemd's protocol on
// Unix systems only. The error wraps errors.ErrUnsupported.
func checkInheritedFD(int) error {
	return fmt.Errorf("cannot be taken: socket activation: %w", errors.ErrUnsupported)
}

// claimInheritedFD does nothing: checkInheritedFD refused every descriptor.
func claimInheritedFD(int) {}

// maxInheritedFD returns a bound no count reaches.
func maxInheritedFD() int { return 1 << 30 }
