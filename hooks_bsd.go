//go:build darwin || freebsd

package uds

import (
	"errors"

	"golang.org/x/sys/unix"
)

// The darwin and FreeBSD side of the shared socket code: no sock_diag, no
// O_PATH, no per-message credentials, no SO_PASSRIGHTS.

var errNoDiag = errors.New("no sock_diag on this platform")

// probePeerPID returns the PID of the listener a probe connected to
// (LOCAL_PEERPID on darwin, cr_pid on FreeBSD 13 and later), 0 if it
// cannot be read.
func probePeerPID(fd int) int {
	if c, err := peerCred(fd); err == nil {
		return c.PID
	}
	return 0
}

// socketsBoundTo cannot tell which sockets are bound to a file here.
func socketsBoundTo(uint64, uint64) (pid, n int, err error) { return 0, 0, errNoDiag }

// bindInUse explains EADDRINUSE from bind: with no abstract names, it is a
// path that another process bound after the reclaim checks.
func bindInUse(_ Addr, _ SocketType, cause error) error {
	return &InUseError{How: "bound by another process during setup", Err: cause}
}

// chmodPinned is Linux's fallback for kernels without fchmodat2; darwin and
// FreeBSD have fchmodat with AT_SYMLINK_NOFOLLOW, so it is never needed.
func (po *pathOwner) chmodPinned(uint32) error { return unix.EOPNOTSUPP }

func probeAbstract(Addr) (ProbeResult, error) {
	return ProbeResult{}, unsupported("abstract socket names")
}

// credCtlSize is the control space for sending credentials: none, as uds
// sends none on this platform.
const credCtlSize = 1

// controlCred reads no per-message credentials here (FreeBSD's SCM_CREDS
// is not read yet; darwin has none).
func controlCred(int32, []byte, *Cred) bool { return false }

// putCredControl: sending credentials is Linux's SCM_CREDENTIALS.
func putCredControl([]byte, *Cred) ([]byte, error) {
	return nil, unsupported("sending credentials (SCM_CREDENTIALS)")
}

func setRefuseFiles(int) error { return unsupported("SO_PASSRIGHTS") }

// renameNoReplace: no atomic no-replace rename is used here; the caller
// falls back to checking and removing.
func renameNoReplace(int, string, string) error { return errNoRenameNoReplace }

// boundFile: without sock_diag the bound file cannot be asked of the socket.
func boundFile(int) (dev, ino uint64, ok bool) { return 0, 0, false }
