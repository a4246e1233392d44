//go:build !linux

// Sockets and Who need Linux's sock_diag: one stub for every other system.

package diag

import (
	"context"

	"github.com/udskit/uds"
)

func listSockets(context.Context) ([]Socket, error) {
	return nil, unsupported("listing sockets (sock_diag)")
}

func whoServes(context.Context, uds.Addr) ([]Socket, error) {
	return nil, unsupported("finding a socket's processes (sock_diag)")
}
