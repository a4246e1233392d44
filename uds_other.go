//go:build !(linux || darwin || freebsd || windows)

package uds

import (
	"context"
	"fmt"
	"net"
)

// This platform has no implementation yet: every operation that touches a
// socket returns an error wrapping errors.ErrUnsupported (and so
// errors.ErrUnsupported). Addresses can still be built, parsed and printed.

func checkPathLen(p string) error {
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path", ErrInvalidAddr, len(p), MaxPathLen)
	}
	return nil
}

type pathOwner struct{}

func (*pathOwner) release() error { return nil }

func (po *pathOwner) setKeep(bool) {}

func (lc *ListenConfig) listenSocket(Addr, SocketType) (*net.UnixListener, Addr, *pathOwner, error) {
	return nil, Addr{}, nil, unsupported("listen")
}

func (d *Dialer) dialStream(context.Context, Addr) (*Conn, error) {
	return nil, unsupported("dial")
}

// socketpairConns: socketpair(2) is not implemented on this platform.
func socketpairConns(SocketType) ([2]*net.UnixConn, error) {
	return [2]*net.UnixConn{}, unsupported("socketpair")
}

func sysGetsockname(int, SocketType) (Addr, error) { return Addr{}, unsupported("getsockname") }

func sysGetpeername(int, SocketType) (Addr, error) { return Addr{}, unsupported("getpeername") }
