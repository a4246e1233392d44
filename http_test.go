//go:build linux

package uds_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
)

type seenRequest struct {
	Method, Path, Host, UserAgent string
}

// recordingServer serves HTTP on ln and records every request it handles.
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

func TestHTTPWithCurl(t *testing.T) {
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

func TestHTTPClient(t *testing.T) {
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
			for _, c := range []struct {
				name   string
				client *http.Client
			}{
				{"HTTPClient", uds.HTTPClient(target)},
				{"Dialer.HTTPClient", (&uds.Dialer{Timeout: 5 * time.Second}).HTTPClient(target)},
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req, err := http.NewRequestWithContext(ctx, "GET", "http://any-host.invalid/"+c.name, nil)
				require.NoError(t, err)
				resp, err := c.client.Do(req)
				require.NoError(t, err, c.name)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "hello over uds: /"+c.name, string(body))
				c.client.CloseIdleConnections()
			}
			reqs := rs.requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, "/HTTPClient", reqs[0].Path)
			assert.Equal(t, "/Dialer.HTTPClient", reqs[1].Path)
			assert.Equal(t, "any-host.invalid", reqs[1].Host, "the URL's host is sent, whatever it is")
		})
	}
	// http.Server.Close closed the listener, which removed the socket file.
	t.Run("cleanup", func(t *testing.T) {
		assert.Empty(t, dirListing(t, dir))
	})
}

// TestHTTPTransportKeepAlive: the transport from Dialer.HTTPTransport keeps
// connections alive and reuses them, like any http.Transport, and its
// connections are uds connections to the right socket.
func TestHTTPTransportKeepAlive(t *testing.T) {
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

			tr := (&uds.Dialer{Timeout: 5 * time.Second}).HTTPTransport(tc.addr)
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
