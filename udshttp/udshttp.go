package udshttp

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/udskit/uds"
)

// Transport returns an *http.Transport that sends every request to the
// stream socket at a, whatever the URL's host (a's socket type is taken to
// be uds.Stream). Each connection is dialed with a copy of *d taken when
// Transport is called, so later changes to *d do not reach the transport; a
// nil d means the zero uds.Dialer. A dial error is the uds.Dialer's
// *net.OpError, which the http.Client wraps in a *url.Error.
//
// Idle connections are kept and reused as with any http.Transport (at most
// 100, for 90 seconds); the pool is keyed by the URL's host, but every host
// leads to the socket. The transport does not ask for gzip
// (DisableCompression), since compressing on a local socket costs more
// than it saves. It speaks HTTP/1.1; HTTP/2 over the socket needs a server
// that speaks h2c and a transport configured for it.
func Transport(d *uds.Dialer, a uds.Addr) *http.Transport {
	var dc uds.Dialer
	if d != nil {
		dc = *d
	}
	a = a.WithType(uds.Stream)
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := dc.Dial(ctx, a)
			if err != nil {
				return nil, err // an untyped nil net.Conn, not a nil *uds.Conn
			}
			return c, nil
		},
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// Client returns an *http.Client whose requests all go to the stream socket
// at a, whatever the URL's host (write, for example, http://unix/status).
// Its Transport is Transport(nil, a): connections are dialed with the zero
// uds.Dialer. For a dial timeout, WaitForListener or a local address, set
// the client's Transport to Transport with a uds.Dialer of your own.
func Client(a uds.Addr) *http.Client {
	return &http.Client{Transport: Transport(nil, a)}
}
