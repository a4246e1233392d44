//go:build darwin || freebsd

package uds

// The darwin and FreeBSD side of the shared socket code: no sock_diag, no
// O_PATH, no per-message credentials, no SO_PASSRIGHTS.

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
// path that another process bound after the reclaim checks.
func bindInUse(_ Addr, _ SocketType, cause error) error {
	return &InUseError{How: "bound by another process during setup", Err: cause}
}

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
