// Package addrprobe carries an address probe between package diag, which
// exports it as diag.Probe, and the root package uds, whose path-ownership
// code answers it: diag must not reach into the root's unexported code, and
// the root must not import diag. The root package sets Func when it is
// initialised, on the systems where it can probe (Linux, darwin, FreeBSD).
package addrprobe

// State is what a probe found at an address (diag.ProbeState has the same
// values).
type State uint8

// The states, in diag.ProbeState's order.
const (
	Missing   State = iota // nothing at the address
	Live                   // a process holds it
	Stale                  // a socket file no process holds
	NotSocket              // the path holds something other than a socket
)

// Result is a probe's answer (diag.ProbeResult).
type Result struct {
	State  State
	PID    int    // the holder of a live address, 0 if unknown
	Detail string // how a live address was found, or what is at the path
}

// Func probes the address with the given name, abstract or a path, for a
// socket of type typ (a uds.SocketType). The address is valid and is not
// autobind. Func is nil where the root package cannot probe.
var Func func(abstract bool, name string, typ uint8) (Result, error)
