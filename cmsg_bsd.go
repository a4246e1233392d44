//go:build darwin || freebsd

package uds

// darwin's and FreeBSD's credential control messages: uds sends and reads
// none here, and there is no SO_PASSRIGHTS; cmsg_linux.go is Linux's.

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
