package uds

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/udskit/uds/internal/addrprobe"
	"github.com/udskit/uds/internal/sockdiag"
)

// Finding who holds an address, Linux's way: SO_PEERCRED for a probe that
// connected, sock_diag and /proc otherwise (pathown_linux.go does it for
// socket files, this file for abstract names); probe_bsd.go is darwin's and
// FreeBSD's.

// probePeerPID returns the PID of the listener a probe connected to
// (SO_PEERCRED), 0 if it cannot be read.
func probePeerPID(fd int) int {
	if cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
		return int(cred.Pid)
	}
	return 0
}

// bindInUse explains EADDRINUSE from bind: for an abstract name, who holds it.
func bindInUse(a Addr, typ SocketType, cause error) error {
	if a.kind != KindAbstract {
		return newInUseError(0, findBindRace, cause)
	}
	r, _ := probeAbstract(a.WithType(typ))
	return newInUseError(r.PID, findBound, cause)
}

// probeAbstract tells whether a socket of a's type is bound to the abstract
// name. A datagram socket is never connected to (that would make it our
// peer and change its state): sock_diag is asked instead.
func probeAbstract(a Addr) (addrprobe.Result, error) {
	if a.typ == Datagram {
		match, err := sockdiag.AbstractBound(a.name, unix.SOCK_DGRAM)
		if err != nil {
			return addrprobe.Result{}, fmt.Errorf("%w: a datagram socket is found only through sock_diag, which cannot be asked: %w", ErrUnverified, err)
		}
		if len(match) == 0 {
			return addrprobe.Result{State: addrprobe.Missing}, nil
		}
		return addrprobe.Result{State: addrprobe.Live, PID: sockdiag.Holder(match), Detail: findBound.String()}, nil
	}
	fd, err := newSocket(a.typ)
	if err != nil {
		return addrprobe.Result{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	switch err := sysConnect(fd, a); err {
	case nil:
		return addrprobe.Result{State: addrprobe.Live, PID: probePeerPID(fd), Detail: findAccepting.String()}, nil
	case unix.EAGAIN, unix.EPROTOTYPE, unix.ECONNREFUSED:
		how := findNotListening
		switch err {
		case unix.EAGAIN:
			how = findBacklogFull
		case unix.EPROTOTYPE:
			how = findOtherType
		}
		// Each socket type has its own abstract namespace.
		match, derr := sockdiag.AbstractBound(a.name, sockType(a.typ))
		if err == unix.ECONNREFUSED && (derr != nil || len(match) == 0) {
			return addrprobe.Result{State: addrprobe.Missing}, nil
		}
		return addrprobe.Result{State: addrprobe.Live, PID: sockdiag.Holder(match), Detail: how.String()}, nil
	default:
		return addrprobe.Result{}, os.NewSyscallError("connect", err)
	}
}
