package uds

import "syscall"

// control runs fn on c's descriptor, inside its RawConn's Control, and
// returns the first error: getting the RawConn, Control's, or fn's. It
// costs two allocations more than the Control call written out (fn's
// closure and the one around it), so code that runs per connection or per
// message (newConn, peerName, PeerCred, msgConn's reads and writes) writes
// the call out; everything else uses these helpers.
func control(c syscall.Conn, fn func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return controlRaw(rc, fn)
}

// controlRaw is control on a RawConn.
func controlRaw(rc syscall.RawConn, fn func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// controlValue runs fn on rc's descriptor and returns its result, or the
// first error: Control's or fn's.
func controlValue[T any](rc syscall.RawConn, fn func(fd int) (T, error)) (T, error) {
	var v T
	err := controlRaw(rc, func(fd int) (err error) {
		v, err = fn(fd)
		return err
	})
	return v, err
}
