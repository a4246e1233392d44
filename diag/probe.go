package diag

import (
	"context"
	"fmt"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/addrprobe"
)

// ProbeState is what Probe found at an address.
type ProbeState uint8

const (
	// ProbeMissing means nothing is there: no file at the path, or no
	// socket bound to the abstract name.
	ProbeMissing = ProbeState(addrprobe.Missing)
	// ProbeLive means a process holds the address: it accepts connections,
	// has a full backlog, is a socket of another type, is bound and not yet
	// listening, or holds the path's lock file.
	ProbeLive = ProbeState(addrprobe.Live)
	// ProbeStale means a socket file is at the path but no process holds
	// it: what a server that crashed leaves behind. uds.Listen reclaims it.
	ProbeStale = ProbeState(addrprobe.Stale)
	// ProbeNotSocket means the path holds something other than a socket.
	ProbeNotSocket = ProbeState(addrprobe.NotSocket)
)

// String returns "missing", "live", "stale" or "not a socket".
func (s ProbeState) String() string {
	switch s {
	case ProbeMissing:
		return "missing"
	case ProbeLive:
		return "live"
	case ProbeStale:
		return "stale"
	case ProbeNotSocket:
		return "not a socket"
	}
	return fmt.Sprintf("ProbeState(%d)", uint8(s))
}

// ProbeResult is the answer of Probe.
type ProbeResult struct {
	State ProbeState
	// PID is the process holding a live address, 0 if it could not be
	// learnt.
	PID int
	// Detail says how a live address was recognised ("accepting
	// connections", "listening, backlog full", ...) or what is at a path
	// that is not a socket ("a directory", ...).
	Detail string
}

// Probe tells whether a process serves the address a, without changing
// anything: it takes no lock and removes nothing, and never connects to a
// datagram socket (that would make the probe its peer). For a path it asks
// the kernel, as Listen does, whether a socket is bound to the file (Linux:
// connects of two other types through a descriptor pinned to the file; see
// the package documentation), reads the holder's PID with SO_PEERCRED or,
// on Linux, sock_diag and /proc, and tells a stale socket file from a socket
// that is bound but not listening yet. An abstract datagram name is looked
// up with sock_diag. Where the kernel cannot be asked, the error wraps
// uds.ErrUnverified.
//
// The answer can be out of date as soon as it is returned; to take over a
// path safely, call uds.Listen, which does the same checks under the path's lock.
func Probe(ctx context.Context, a uds.Addr) (ProbeResult, error) {
	if err := a.Valid(); err != nil {
		return ProbeResult{}, opError("probe", a, err)
	}
	if a.Kind() == uds.KindAutobind {
		return ProbeResult{}, opError("probe", a, fmt.Errorf("%w: autobind names no socket to probe", uds.ErrInvalidAddr))
	}
	if err := ctx.Err(); err != nil {
		return ProbeResult{}, opError("probe", a, err)
	}
	if addrprobe.Func == nil {
		return ProbeResult{}, opError("probe", a, unsupported("probe"))
	}
	r, err := addrprobe.Func(a.Kind() == uds.KindAbstract, a.Name(), uint8(a.Type()))
	if err != nil {
		return ProbeResult{}, opError("probe", a, err)
	}
	return ProbeResult{State: ProbeState(r.State), PID: r.PID, Detail: r.Detail}, nil
}
