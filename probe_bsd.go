//go:build darwin || freebsd

package uds

import "github.com/udskit/uds/internal/addrprobe"

// Finding who holds an address, darwin's and FreeBSD's way: the peer's
// credentials of a probe that connected, nothing else (no sock_diag, no
// /proc, no abstract names); probe_linux.go is Linux's.

// probePeerPID returns the PID of the listener a probe connected to
// (LOCAL_PEERPID on darwin, cr_pid on FreeBSD 13 and later), 0 if it
// cannot be read.
func probePeerPID(fd int) int {
	if c, err := peerCred(fd); err == nil {
		return c.PID
	}
	return 0
}

// bindInUse explains EADDRINUSE from bind: with no abstract names, it is a
// path that another process bound after the path-ownership checks.
func bindInUse(_ Addr, _ SocketType, cause error) error {
	return newInUseError(0, findBindRace, cause)
}

func probeAbstract(Addr) (addrprobe.Result, error) {
	return addrprobe.Result{}, unsupported("abstract socket names")
}
