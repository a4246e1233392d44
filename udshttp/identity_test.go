//go:build linux

package udshttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/udshttp"
)

func init() {
	childproc.Register("http-caller", httpCaller)
}

// callResult is what the http-caller role reports of one request.
type callResult struct {
	Method string
	Status int
	Body   string
	Reused bool // sent on a kept-alive connection
}

// httpCaller is a child role: it prints its own identity ("ID pid uid
// gid"), then sends GET /who, POST /admin, GET /who, POST /admin over one
// client (so on one kept-alive connection) to the abstract name args[0],
// and prints each result as a JSON line.
func httpCaller(args []string) int {
	fmt.Printf("ID %d %d %d\n", os.Getpid(), os.Getuid(), os.Getgid())
	client := udshttp.Client(uds.Abstract(args[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, method := range []string{"GET", "POST", "GET", "POST"} {
		path := map[string]string{"GET": "/who", "POST": "/admin"}[method]
		var res callResult
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { res.Reused = i.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, "http://unix"+path, strings.NewReader("x"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		res.Method, res.Status, res.Body = method, resp.StatusCode, string(body)
		line, _ := json.Marshal(res)
		fmt.Println(string(line))
	}
	fmt.Println(childproc.Ready)
	return 0
}

// pidfdPID returns the PID that the pidfd f refers to, from
// /proc/self/fdinfo, or -1.
func pidfdPID(f *os.File) int {
	if f == nil {
		return -1
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// whoHandler writes the caller's identity as PeerCred gives it:
// "pid=P uid=U gid=G pidfd=Q", Q being the process the PIDFD refers to (-1
// without one); 500 when there are no credentials.
var whoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	cred, ok := udshttp.PeerCred(r.Context())
	if !ok {
		http.Error(w, "no credentials", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "pid=%d uid=%d gid=%d pidfd=%d", cred.PID, cred.UID, cred.GID, pidfdPID(cred.PIDFD))
})

// hasPIDFD reports whether this kernel gives a peer's pidfd (SO_PEERPIDFD,
// Linux 6.5 and later).
func hasPIDFD(t *testing.T) bool {
	t.Helper()
	a, b, err := uds.Pair(uds.Stream)
	require.NoError(t, err)
	defer a.Close()
	defer b.Close()
	cred, err := uds.PeerCred(a)
	require.NoError(t, err)
	defer cred.Close()
	return cred.PIDFD != nil
}

// wantWho is whoHandler's body for a process.
func wantWho(t *testing.T, pid, uid, gid int) string {
	pidfd := pid
	if !hasPIDFD(t) {
		pidfd = -1
	}
	return fmt.Sprintf("pid=%d uid=%d gid=%d pidfd=%d", pid, uid, gid, pidfd)
}

// TestIdentifyUsers: a child running as uid 65534 and one running as root
// call the same server, each over one kept-alive connection; every handler
// sees the caller's own PID, UID and GID (as the child reports them) and a
// PIDFD of that process, and the policy of POST /admin (root only) refuses
// uid 65534 with 403 and the reason, and lets root through.
func TestIdentifyUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test runs a child as uid 65534 (SysProcAttr.Credential)")
	}
	name := uniqTag() + "-users"
	ln, err := uds.Listen(context.Background(), uds.Abstract(name)) // no file permissions to open up
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /who", udshttp.Require(uds.AllowUIDs(0, 65534), whoHandler))
	mux.Handle("POST /admin", udshttp.Require(uds.AllowUIDs(0), whoHandler))
	var conns atomic.Int32
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	udshttp.Identify(srv)
	runHTTPServer(t, srv, ln)

	users := []struct {
		name string
		cred *syscall.Credential
	}{
		{"nobody", &syscall.Credential{Uid: 65534, Gid: 65534}},
		{"root", nil},
	}
	children := make([]*childproc.Child, len(users))
	for i, u := range users {
		children[i] = childproc.Start(t, childproc.Options{Credential: u.cred}, "http-caller", name)
	}
	for i, u := range users {
		t.Run(u.name, func(t *testing.T) {
			c := children[i]
			var pid, uid, gid int
			_, err := fmt.Sscanf(c.Line(30*time.Second), "ID %d %d %d", &pid, &uid, &gid)
			require.NoError(t, err)
			assert.Equal(t, c.PID(), pid)
			if u.cred != nil {
				assert.Equal(t, int(u.cred.Uid), uid)
				assert.Equal(t, int(u.cred.Gid), gid)
			} else {
				assert.Equal(t, 0, uid)
			}
			who := wantWho(t, pid, uid, gid)
			for i := range 4 {
				var res callResult
				line := c.Line(30 * time.Second)
				require.NoError(t, json.Unmarshal([]byte(line), &res), line)
				assert.Equal(t, i > 0, res.Reused, "request %d (%s): one kept-alive connection", i, res.Method)
				switch {
				case res.Method == "GET":
					assert.Equal(t, http.StatusOK, res.Status)
					assert.Equal(t, who, res.Body)
				case uid == 0:
					assert.Equal(t, http.StatusOK, res.Status, "POST by root")
					assert.Equal(t, who, res.Body)
				default:
					assert.Equal(t, http.StatusForbidden, res.Status, "POST by uid %d", uid)
					assert.Equal(t, "forbidden: permission denied: uid 65534 is not allowed\n", res.Body)
				}
			}
			c.WaitReady()
			assert.Equal(t, 0, c.Wait(10*time.Second), "child: %s", c.Stderr())
		})
	}
	assert.Equal(t, int32(2), conns.Load(), "one connection per child")
}

// countFDs returns the number of this process's open descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents) - 1 // ReadDir's own descriptor
}

// settle waits, for at most 10 seconds, until the descriptors and the
// goroutines are back to fds and goroutines, and returns the last counts.
func settle(t *testing.T, fds, goroutines int) (int, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, g := countFDs(t), runtime.NumGoroutine()
		if (f <= fds && g <= goroutines) || time.Now().After(deadline) {
			return f, g
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdentifyNoLeak: 10,000 requests over 100 kept-alive connections,
// each handler checking its caller: once the server and the clients are
// closed, the descriptors (PIDFDs included) and the goroutines are back to
// what they were, and no connection's credentials are held.
func TestIdentifyNoLeak(t *testing.T) {
	const conns, perConn = 100, 100
	pidfds := hasPIDFD(t)
	fds0, g0 := countFDs(t), runtime.NumGoroutine()

	a := uds.Abstract(uniqTag() + "-leak")
	ln, err := uds.Listen(context.Background(), a)
	require.NoError(t, err)
	var bad atomic.Int32
	var seen sync.Map // *uds.Cred → true: kept, so that no finalizer closes a PIDFD the package would leak
	srv := &http.Server{
		Handler: udshttp.Require(uds.SameUser(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cred, ok := udshttp.PeerCred(r.Context())
			if !ok || cred.PID != os.Getpid() || (cred.PIDFD != nil) != pidfds {
				bad.Add(1)
			}
			if ok {
				seen.Store(cred, true)
			}
			io.WriteString(w, "ok")
		})),
		ReadHeaderTimeout: 5 * time.Second,
	}
	udshttp.Identify(srv)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	transports := make([]*http.Transport, conns)
	var wg sync.WaitGroup
	var failed atomic.Int32
	var reused atomic.Int32
	for i := range transports {
		tr := udshttp.Transport(nil, a)
		transports[i] = tr
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
				if i.Reused {
					reused.Add(1)
				}
			}}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			for range perConn {
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://unix/", nil)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	fdsPeak, gPeak := countFDs(t), runtime.NumGoroutine()
	heldPeak := udshttp.OpenPeers()

	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	require.NoError(t, srv.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, http.ErrServerClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	fds1, g1 := settle(t, fds0, g0)
	t.Logf("descriptors: %d before, %d with %d connections open (%d credentials held), %d after; goroutines: %d, %d, %d",
		fds0, fdsPeak, conns, heldPeak, fds1, g0, gPeak, g1)

	assert.Zero(t, failed.Load(), "failed requests")
	assert.Zero(t, bad.Load(), "handlers that did not see this process")
	assert.Equal(t, int32(conns*(perConn-1)), reused.Load(), "every request but each connection's first was kept alive")
	assert.Equal(t, conns, heldPeak, "one set of credentials per connection")
	if pidfds {
		// Server and client ends, and a PIDFD per connection.
		assert.GreaterOrEqual(t, fdsPeak, fds0+3*conns, "the PIDFDs stay open with their connections")
	}
	// At most: a descriptor of an earlier test may have been closing when
	// this one started.
	assert.LessOrEqual(t, fds1, fds0, "descriptors back to their starting count")
	assert.LessOrEqual(t, g1, g0, "goroutines back to their starting count")
	assert.Zero(t, udshttp.OpenPeers(), "no credentials held after the connections ended")
	creds, open := 0, 0
	seen.Range(func(k, _ any) bool {
		creds++
		if f := k.(*uds.Cred).PIDFD; f != nil {
			if _, err := f.Stat(); err == nil {
				open++
			}
		}
		return true
	})
	assert.Equal(t, conns, creds, "one Cred per connection, shared by its requests")
	assert.Zero(t, open, "every PIDFD closed with its connection")
}

// TestIdentifyCurl: curl --unix-socket, unchanged, is identified: the
// handler sees curl's PID (the PIDFD refers to it too) and this user, for
// both requests curl sends over its one kept-alive connection.
func TestIdentifyCurl(t *testing.T) {
	curl := requireTool(t, "curl")
	path := filepath.Join(mkSockDir(t), "api.sock")
	ln, err := uds.Listen(context.Background(), uds.Path(path))
	require.NoError(t, err)
	var conns atomic.Int32
	srv := &http.Server{Handler: udshttp.Require(uds.SameUser(), whoHandler), ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}}
	udshttp.Identify(srv)
	runHTTPServer(t, srv, ln)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--max-time", "10", "--noproxy", "*", "--unix-socket", path,
		"-w", "\\n", "http://localhost/a", "http://localhost/b")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	require.NoError(t, cmd.Wait(), "curl: %s", stderr.String())
	who := wantWho(t, pid, os.Geteuid(), os.Getegid())
	assert.Equal(t, who+"\n"+who+"\n", stdout.String())
	assert.Equal(t, int32(1), conns.Load(), "curl sent both requests on one connection")
}

// TestIdentifyNetUnixConn: a server on net.Listen("unix") (plain
// *net.UnixConn connections) identifies its callers alike.
func TestIdentifyNetUnixConn(t *testing.T) {
	path := filepath.Join(mkSockDir(t), "std.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	var mu sync.Mutex
	var types []string
	srv := &http.Server{Handler: udshttp.Require(uds.SameUser(), whoHandler), ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				mu.Lock()
				types = append(types, fmt.Sprintf("%T", c))
				mu.Unlock()
			}
		}}
	udshttp.Identify(srv)
	runHTTPServer(t, srv, ln)
	client := udshttp.Client(uds.Path(path))
	defer client.CloseIdleConnections()
	who := wantWho(t, os.Getpid(), os.Geteuid(), os.Getegid())
	for range 3 {
		status, body := get(t, client, "http://unix/")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, who, body)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"*net.UnixConn"}, types)
}

// TestRequireRefuses: Require answers 403 with the reason when its policy
// refuses, when the server does not identify its connections, and when the
// connection is not a Unix socket; the next handler is not called.
func TestRequireRefuses(t *testing.T) {
	var called atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called.Add(1) })
	serve := func(t *testing.T, ln net.Listener, h http.Handler, identify bool) {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		if identify {
			udshttp.Identify(srv)
		}
		runHTTPServer(t, srv, ln)
	}
	check := func(t *testing.T, client *http.Client, url, want string) {
		t.Helper()
		defer client.CloseIdleConnections()
		resp, err := client.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(t, want, string(body))
		assert.Zero(t, called.Load(), "the handler behind Require was not called")
	}

	t.Run("policy", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "-policy")
		ln, err := uds.Listen(context.Background(), a)
		require.NoError(t, err)
		serve(t, ln, udshttp.Require(uds.AllowUIDs(os.Geteuid()+1), next), true)
		check(t, udshttp.Client(a), "http://unix/",
			fmt.Sprintf("forbidden: permission denied: uid %d is not allowed\n", os.Geteuid()))
	})
	t.Run("not identified", func(t *testing.T) {
		a := uds.Abstract(uniqTag() + "-noid")
		ln, err := uds.Listen(context.Background(), a)
		require.NoError(t, err)
		serve(t, ln, udshttp.Require(uds.SameUser(), next), false)
		check(t, udshttp.Client(a), "http://unix/",
			"forbidden: no peer credentials: the server does not identify its connections (udshttp.Identify)\n")
	})
	t.Run("tcp", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		serve(t, ln, udshttp.Require(uds.SameUser(), next), true)
		check(t, &http.Client{Transport: &http.Transport{}}, "http://"+ln.Addr().String()+"/",
			"forbidden: no peer credentials: a tcp connection (*net.TCPConn), not a Unix socket\n")
	})
	assert.Panics(t, func() { udshttp.Require(nil, next) })
	assert.Panics(t, func() { udshttp.Require(uds.SameUser(), nil) })
}

// TestIdentifyChains: Identify keeps the server's own ConnContext (whose
// context it extends) and ConnState (which sees every state), installing it
// twice reads the credentials once, and a hijacked connection's PIDFD is
// closed at Hijack, while the handler goes on with the connection.
func TestIdentifyChains(t *testing.T) {
	type ownKey struct{}
	fds0 := countFDs(t)
	a := uds.Abstract(uniqTag() + "-chain")
	ln, err := uds.Listen(context.Background(), a)
	require.NoError(t, err)
	var mu sync.Mutex
	var order []net.Conn
	states := map[net.Conn][]http.ConnState{}
	var handlerErr error
	mux := http.NewServeMux()
	mux.HandleFunc("/own", func(w http.ResponseWriter, r *http.Request) {
		cred, ok := udshttp.PeerCred(r.Context())
		fmt.Fprintf(w, "%v %v %v", r.Context().Value(ownKey{}), ok, ok && cred.PID == os.Getpid())
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		cred, _ := udshttp.PeerCred(r.Context())
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			mu.Lock()
			handlerErr = err
			mu.Unlock()
			return
		}
		defer conn.Close()
		// After Hijack the PIDFD is closed, the rest of the Cred stays.
		var statErr error
		if cred.PIDFD != nil {
			_, statErr = cred.PIDFD.Stat()
		} else {
			statErr = os.ErrClosed // no PIDFD on this kernel: nothing to close
		}
		body := fmt.Sprintf("closed=%v pid=%v", statErr != nil && strings.Contains(statErr.Error(), os.ErrClosed.Error()), cred.PID == os.Getpid())
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		brw.Flush()
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, ownKey{}, "own")
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			if s == http.StateNew {
				order = append(order, c)
			}
			states[c] = append(states[c], s)
			mu.Unlock()
		},
	}
	udshttp.Identify(srv)
	udshttp.Identify(srv)
	runHTTPServer(t, srv, ln)

	client := udshttp.Client(a)
	status, body := get(t, client, "http://unix/own")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "own true true", body)
	assert.Equal(t, 1, udshttp.OpenPeers(), "installed twice, read once")
	client.CloseIdleConnections()

	status, body = get(t, udshttp.Client(a), "http://unix/hijack")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "closed=true pid=true", body)
	mu.Lock()
	assert.NoError(t, handlerErr)
	mu.Unlock()

	srv.Close()
	fds1, _ := settle(t, fds0, runtime.NumGoroutine())
	assert.LessOrEqual(t, fds1, fds0, "descriptors back")
	assert.Zero(t, udshttp.OpenPeers())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, order, 2)
	assert.Equal(t, []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed}, states[order[0]],
		"the server's own ConnState sees every state")
	assert.Equal(t, []http.ConnState{http.StateNew, http.StateActive, http.StateHijacked}, states[order[1]])
}

// BenchmarkIdentity compares a server that identifies its callers
// (Identify, Require(uds.SameUser()) and PeerCred in the handler) with the
// same server without, over one kept-alive connection: what the plumbing
// adds to each request.
func BenchmarkIdentity(b *testing.B) {
	hello := []byte("hello")
	for _, tc := range []struct {
		name     string
		identify bool
	}{{"with", true}, {"without", false}} {
		b.Run(tc.name, func(b *testing.B) {
			a := uds.Abstract(uniqTag() + "-bench")
			ln, err := uds.Listen(context.Background(), a)
			if err != nil {
				b.Fatal(err)
			}
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(hello) })
			if tc.identify {
				h = udshttp.Require(uds.SameUser(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if cred, ok := udshttp.PeerCred(r.Context()); !ok || cred.PID == 0 {
						http.Error(w, "no credentials", http.StatusInternalServerError)
						return
					}
					w.Write(hello)
				}))
			}
			srv := &http.Server{Handler: h}
			if tc.identify {
				udshttp.Identify(srv)
			}
			go srv.Serve(ln)
			defer srv.Close()
			client := udshttp.Client(a)
			defer client.CloseIdleConnections()
			buf := make([]byte, 64)
			do := func() {
				resp, err := client.Get("http://unix/x")
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.ReadFull(resp.Body, buf[:len(hello)])
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != len(hello) {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
			do() // the connection is made before the timer starts
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				do()
			}
		})
	}
}
