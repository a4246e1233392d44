//go:build linux

package udshttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/testutil"
	"github.com/udskit/uds/udshttp"
)

type seenRequest struct {
	Method, Path, Host, UserAgent string
}

// recordingServer serves HTTP and records every request it handles.
type recordingServer struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (rs *recordingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	rs.seen = append(rs.seen, seenRequest{r.Method, r.URL.Path, r.Host, r.UserAgent()})
	rs.mu.Unlock()
	io.WriteString(w, "hello over uds: "+r.URL.Path)
}

func (rs *recordingServer) requests() []seenRequest {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]seenRequest(nil), rs.seen...)
}

// serveHTTP listens on a and serves a recordingServer there until the end
// of the test.
func serveHTTP(t *testing.T, a uds.Addr) (*recordingServer, *uds.Listener) {
	t.Helper()
	ln, err := uds.Listen(context.Background(), a)
	require.NoError(t, err)
	rs := &recordingServer{}
	runHTTPServer(t, &http.Server{Handler: rs, ReadHeaderTimeout: 5 * time.Second}, ln)
	return rs, ln
}

// runHTTPServer serves srv on ln until the end of the test, then closes it
// and checks that Serve returned http.ErrServerClosed.
func runHTTPServer(t *testing.T, srv *http.Server, ln net.Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, http.ErrServerClosed)
		case <-time.After(5 * time.Second):
			t.Error("http.Server.Serve did not return after Close")
		}
	})
}

// get sends a GET for url with client and returns the status and body.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err, "GET %s", url)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestServeWithCurl: a uds listener serves HTTP with the standard library
// alone, to a client that is not Go's (curl), on a path and an abstract
// name.
func TestServeWithCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	dir := mkSockDir(t)
	name := uniqTag() + "-http"
	for _, tc := range []struct {
		kind string
		addr uds.Addr
		flag []string
	}{
		{"path", uds.Path(filepath.Join(dir, "http.sock")), []string{"--unix-socket", filepath.Join(dir, "http.sock")}},
		{"abstract", uds.Abstract(name), []string{"--abstract-unix-socket", name}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			rs, _ := serveHTTP(t, tc.addr)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			args := append([]string{"-sS", "--max-time", "10", "--noproxy", "*"}, tc.flag...)
			args = append(args, "http://localhost/x")
			cmd := exec.CommandContext(ctx, curl, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "curl %s: %s", strings.Join(args, " "), stderr.String())
			assert.Equal(t, "hello over uds: /x", string(out))
			reqs := rs.requests()
			require.Len(t, reqs, 1, "the handler saw curl's request")
			assert.Equal(t, "GET", reqs[0].Method)
			assert.Equal(t, "/x", reqs[0].Path)
			assert.Equal(t, "localhost", reqs[0].Host)
			assert.True(t, strings.HasPrefix(reqs[0].UserAgent, "curl/"), "User-Agent %q", reqs[0].UserAgent)
		})
	}
}

// TestClient: Client and a client built on Transport (with a Dialer and
// with nil) reach the socket whatever the URL's host, on every kind of
// address, and the host is sent as it is.
func TestClient(t *testing.T) {
	dir := mkSockDir(t)
	for _, tc := range []struct {
		kind string
		addr uds.Addr
	}{
		{"path", uds.Path(filepath.Join(dir, "http.sock"))},
		{"abstract", uds.Abstract(uniqTag() + "\x00http")},
		{"autobind", uds.Autobind()},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			rs, ln := serveHTTP(t, tc.addr)
			target := ln.Addr().(uds.Addr) // the kernel's name for autobind
			clients := []struct {
				name   string
				client *http.Client
			}{
				{"Client", udshttp.Client(target)},
				{"Transport-Dialer", &http.Client{Transport: udshttp.Transport(&uds.Dialer{Timeout: 5 * time.Second}, target)}},
				{"Transport-nil", &http.Client{Transport: udshttp.Transport(nil, target)}},
			}
			for _, c := range clients {
				status, body := get(t, c.client, "http://any-host.invalid/"+c.name)
				assert.Equal(t, http.StatusOK, status, c.name)
				assert.Equal(t, "hello over uds: /"+c.name, body)
				c.client.CloseIdleConnections()
			}
			reqs := rs.requests()
			require.Len(t, reqs, len(clients))
			for i, c := range clients {
				assert.Equal(t, "/"+c.name, reqs[i].Path)
				assert.Equal(t, "any-host.invalid", reqs[i].Host, "the URL's host is sent, whatever it is")
				assert.Equal(t, "Go-http-client/1.1", reqs[i].UserAgent, "HTTP/1.1")
			}
		})
	}
	// http.Server.Close closed the listener, which removed the socket file.
	t.Run("cleanup", func(t *testing.T) {
		assert.Empty(t, testutil.DirNames(t, dir))
	})
}

// TestClientTypedAddr: an address of another socket type still reaches the
// stream socket: HTTP needs a byte stream, and the transport dials one.
func TestClientTypedAddr(t *testing.T) {
	a := uds.Abstract(uniqTag() + "-typed")
	serveHTTP(t, a)
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		client := udshttp.Client(a.WithType(typ))
		status, body := get(t, client, "http://unix/"+typ.String())
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "hello over uds: /"+typ.String(), body)
		client.CloseIdleConnections()
	}
}

// TestTransportKeepAlive: the transport keeps connections alive and reuses
// them, like any http.Transport, and its connections are uds connections to
// the right socket.
func TestTransportKeepAlive(t *testing.T) {
	dir := mkSockDir(t)
	for _, tc := range []struct {
		kind string
		addr uds.Addr
	}{
		{"path", uds.Path(filepath.Join(dir, "ka.sock"))},
		{"abstract", uds.Abstract(uniqTag() + "\x00keepalive")},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			ln, err := uds.Listen(context.Background(), tc.addr)
			require.NoError(t, err)
			var mu sync.Mutex
			newConns := 0
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "ok "+r.URL.Path)
				}),
				ReadHeaderTimeout: 5 * time.Second,
				ConnState: func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						mu.Lock()
						newConns++
						mu.Unlock()
					}
				},
			}
			runHTTPServer(t, srv, ln)
			conns := func() int {
				mu.Lock()
				defer mu.Unlock()
				return newConns
			}

			tr := udshttp.Transport(&uds.Dialer{Timeout: 5 * time.Second}, tc.addr)
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			get := func(url string) (reused bool, remote net.Addr) {
				t.Helper()
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
					reused, remote = info.Reused, info.Conn.RemoteAddr()
				}}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
				require.NoError(t, err)
				resp, err := client.Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body) // read to the end: the connection goes back to the pool
				resp.Body.Close()
				require.NoError(t, err)
				assert.Equal(t, "ok "+req.URL.Path, string(body))
				return reused, remote
			}

			for i := range 5 {
				reused, remote := get(fmt.Sprintf("http://unix/req%d", i))
				assert.Equal(t, i > 0, reused, "request %d: only the first one dials", i)
				assert.Equal(t, tc.addr, remote, "the transport's connections are uds connections to the socket")
			}
			assert.Equal(t, 1, conns(), "five requests, one connection")

			// The pool is per host, but every host leads to the socket.
			reused, remote := get("http://another-host/x")
			assert.False(t, reused)
			assert.Equal(t, tc.addr, remote)
			assert.Equal(t, 2, conns())

			tr.CloseIdleConnections()
			reused, _ = get("http://unix/after-close")
			assert.False(t, reused, "idle connections were closed")
			assert.Equal(t, 3, conns())
		})
	}
}

// TestTransportDialer: the transport dials with the Dialer it was given
// (WaitForListener waits for a server that starts late, a past Timeout
// fails at once), copied when Transport is called.
func TestTransportDialer(t *testing.T) {
	t.Run("WaitForListener", func(t *testing.T) {
		a := uds.Path(filepath.Join(mkSockDir(t), "late.sock"))
		client := &http.Client{Transport: udshttp.Transport(&uds.Dialer{WaitForListener: true, Timeout: 10 * time.Second}, a)}
		defer client.CloseIdleConnections()
		go func() {
			time.Sleep(100 * time.Millisecond)
			ln, err := uds.Listen(context.Background(), a)
			if !assert.NoError(t, err) {
				return
			}
			srv := &http.Server{Handler: &recordingServer{}, ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
		}()
		status, body := get(t, client, "http://unix/late")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, "hello over uds: /late", body)
	})
	t.Run("Timeout", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "-timeout")
		serveHTTP(t, a)
		client := &http.Client{Transport: udshttp.Transport(&uds.Dialer{Timeout: -1}, a)}
		_, err := client.Get("http://unix/")
		var ne net.Error
		require.ErrorAs(t, err, &ne, "a negative Timeout is a deadline already past")
		assert.True(t, ne.Timeout())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("copied", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "-copied")
		serveHTTP(t, a)
		d := &uds.Dialer{}
		client := &http.Client{Transport: udshttp.Transport(d, a)}
		defer client.CloseIdleConnections()
		d.Timeout = -1 // after Transport: not seen by it
		status, _ := get(t, client, "http://unix/")
		assert.Equal(t, http.StatusOK, status)
	})
}

// TestClientNoServer: a dial that fails is the Dialer's *net.OpError, with
// the system's error, inside the client's *url.Error.
func TestClientNoServer(t *testing.T) {
	dir := mkSockDir(t)
	for _, tc := range []struct {
		kind string
		addr uds.Addr
		want error
	}{
		{"missing path", uds.Path(filepath.Join(dir, "none.sock")), syscall.ENOENT},
		{"abstract", uds.Abstract(uniqTag() + "-none"), syscall.ECONNREFUSED},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			_, err := udshttp.Client(tc.addr).Get("http://unix/")
			var ue *url.Error
			require.ErrorAs(t, err, &ue)
			var oe *net.OpError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, "dial", oe.Op)
			assert.Equal(t, tc.addr, oe.Addr)
			assert.ErrorIs(t, err, tc.want)
			assert.False(t, errors.Is(err, context.DeadlineExceeded))
		})
	}
}
