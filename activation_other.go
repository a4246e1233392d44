//go:build !unix

package uds

func checkInheritedFD(int) error { return unsupported("socket activation") }

func claimInheritedFD(int) {}

func maxInheritedFD() int { return 1 << 30 }
