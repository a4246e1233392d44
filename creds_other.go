//go:build !(linux || darwin || freebsd)

package uds

func peerCred(int) (*Cred, error) { return nil, unsupported("peer credentials") }

func setPassCred(int, bool) error { return unsupported("SO_PASSCRED") }
