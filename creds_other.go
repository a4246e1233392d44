//go:build !linux && !darwin && !freebsd

package uds

import "os"

func peerCred(int) (*Cred, error) { return nil, unsupported("peer credentials") }

func peerPIDFD(int) (*os.File, error) { return nil, unsupported("SO_PEERPIDFD") }

func setPassCred(int, bool) error { return unsupported("SO_PASSCRED") }
