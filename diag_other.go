//go:build !linux

package uds

import "context"

func listSockets(context.Context) ([]Socket, error) {
	return nil, unsupported("listing sockets (sock_diag)")
}

func whoServes(context.Context, Addr) ([]Socket, error) {
	return nil, unsupported("finding a socket's processes (sock_diag)")
}
