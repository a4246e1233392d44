//go:build !unix

package uds

func claimInheritedFD(int) error { return unsupported("socket activation") }
