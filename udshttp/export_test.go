package udshttp

// OpenPeers returns how many connections' credentials ConnContext holds
// until ConnState sees the connections end.
func OpenPeers() (n int) {
	open.Range(func(_, _ any) bool { n++; return true })
	return n
}
