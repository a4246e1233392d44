//go:build !unix

package uds

func checkInheritedFD(int) error { return unsupported("socket activation") }

func claimInheritedFD(int) {}
