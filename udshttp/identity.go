package udshttp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"

	"github.com/udskit/uds"
)

// peerKey is the context key of a connection's peer. A zero-size key: the
// lookup in each request does not allocate.
type peerKey struct{}

// peer is what ConnContext learned about a connection: its credentials, or
// why there are none.
type peer struct {
	cred *uds.Cred
	err  error
}

// open holds the peers whose credentials ConnContext read, by connection,
// until ConnState sees the connection end and closes their PIDFD.
var open sync.Map // net.Conn → *peer

// ConnContext is a function for http.Server.ConnContext: it reads the
// credentials of the process at the other end of c from the kernel (with
// uds.PeerCred, once per connection, when the server accepts it) and
// returns ctx with them, for PeerCred and Require to find in every request
// of the connection. c may be a *uds.Conn, a plain *net.UnixConn, or a
// connection that wraps one and has a NetConn method (a *tls.Conn).
//
// Where the credentials cannot be read (c is not a Unix socket connection,
// or the peer has already exited), ConnContext still returns a context,
// which records why: PeerCred then reports none, and Require refuses the
// connection's requests with that reason.
//
// The credentials' PIDFD (Linux 6.5 and later) stays open as long as the
// connection: ConnContext must be paired with ConnState, which closes it
// when the connection ends. Identify installs both.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if p, ok := open.Load(c); ok { // installed twice: read once
		return context.WithValue(ctx, peerKey{}, p)
	}
	p := &peer{}
	p.cred, p.err = readPeer(c)
	if p.cred != nil {
		open.Store(c, p) // c is new: only the accept loop that accepted it has it
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// readPeer returns the credentials of c's peer, unwrapping c (NetConn)
// down to a Unix socket.
func readPeer(c net.Conn) (*uds.Cred, error) {
	for c != nil {
		if a := c.LocalAddr(); a != nil && strings.HasPrefix(a.Network(), "unix") {
			if sc, ok := c.(syscall.Conn); ok {
				cred, err := uds.PeerCred(sc)
				if err != nil {
					return nil, fmt.Errorf("reading them from the kernel: %w", err)
				}
				return cred, nil
			}
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	network := "unknown"
	if c != nil && c.LocalAddr() != nil {
		network = c.LocalAddr().Network()
	}
	return nil, fmt.Errorf("a %s connection (%T), not a Unix socket", network, c)
}

// ConnState is a function for http.Server.ConnState that goes with
// ConnContext: when a connection is closed (http.StateClosed) or hijacked
// (http.StateHijacked), it closes the PIDFD of the credentials ConnContext
// read for it. From then on the Cred's PIDFD is a closed *os.File (its
// methods fail with os.ErrClosed); the other fields stay as they were. A
// handler that hijacks the connection and still needs the PIDFD duplicates
// it before Hijack.
func ConnState(c net.Conn, s http.ConnState) {
	if s != http.StateClosed && s != http.StateHijacked {
		return
	}
	if p, ok := open.LoadAndDelete(c); ok {
		// Not Cred.Close, which sets PIDFD to nil: a handler may still
		// read the field (an HTTP/2 handler outlives its connection).
		if f := p.(*peer).cred.PIDFD; f != nil {
			f.Close()
		}
	}
}

// Identify makes srv identify the peer of each connection it serves: it
// sets srv.ConnContext and srv.ConnState to ConnContext and ConnState,
// chained after the functions srv already has there (which run first, and
// whose context ConnContext extends). Call it before srv serves.
func Identify(srv *http.Server) {
	if prev := srv.ConnContext; prev != nil {
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return ConnContext(prev(ctx, c), c)
		}
	} else {
		srv.ConnContext = ConnContext
	}
	if prev := srv.ConnState; prev != nil {
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			prev(c, s)
			ConnState(c, s)
		}
	} else {
		srv.ConnState = ConnState
	}
}

// PeerCred returns the credentials of the process at the other end of the
// connection that ctx (a request's context) came from, as ConnContext read
// them when the connection was accepted, and false if there are none (the
// server does not run ConnContext, the connection is not a Unix socket, or
// the peer had exited). The Cred belongs to the connection and is shared by
// all its requests: do not modify it or close it. Its PIDFD, where the
// kernel gives one, is open until the connection ends.
func PeerCred(ctx context.Context) (*uds.Cred, bool) {
	p, _ := ctx.Value(peerKey{}).(*peer)
	if p == nil || p.cred == nil {
		return nil, false
	}
	return p.cred, true
}

// Require returns a handler that serves a request with next only if
// policy accepts the credentials of its connection's peer (PeerCred).
// policy is one of the functions ListenConfig.Authorize takes, such as
// uds.SameUser(), uds.AllowUIDs(0) or uds.AllowGIDs(gid). A request that
// policy refuses, or whose connection has no credentials (the server does
// not run ConnContext, or they could not be read), gets 403 Forbidden with
// a text/plain body that says why: "forbidden: " and the policy's error
// (for example "forbidden: permission denied: uid 65534 is not allowed").
//
// To apply one policy to GET and another to POST, register a Require for
// each method with http.ServeMux patterns ("GET /jobs", "POST /jobs").
// Require panics if policy or next is nil.
func Require(policy func(*uds.Cred) error, next http.Handler) http.Handler {
	if policy == nil || next == nil {
		panic("udshttp: Require with a nil policy or handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(*peer)
		switch {
		case p == nil:
			http.Error(w, "forbidden: no peer credentials: the server does not identify its connections (udshttp.Identify)", http.StatusForbidden)
		case p.cred == nil:
			http.Error(w, "forbidden: no peer credentials: "+p.err.Error(), http.StatusForbidden)
		default:
			if err := policy(p.cred); err != nil {
				http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		}
	})
}
