//go:build linux || darwin || freebsd

package udshttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/udskit/uds"
	"github.com/udskit/uds/udshttp"
)

// Serve HTTP on a socket file and call it: the URL's host is only the Host
// header, every request goes to the socket.
func ExampleClient() {
	dir, err := os.MkdirTemp("", "udshttp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "api.sock"))

	lc := uds.ListenConfig{Mode: 0o600} // only this user may connect
	ln, err := lc.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s asked for %s", r.Host, r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close() // closes ln, which removes api.sock

	resp, err := udshttp.Client(addr).Get("http://unix/status")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: unix asked for /status
}

// A client for a server that may start after it: the Dialer waits for the
// socket, for at most five seconds, and the client gives each request ten.
func ExampleTransport() {
	addr := uds.Path("/run/myapp/api.sock")
	d := &uds.Dialer{WaitForListener: true, Timeout: 5 * time.Second}
	client := &http.Client{Transport: udshttp.Transport(d, addr), Timeout: 10 * time.Second}
	_ = client // client.Get("http://myapp/status") ...
}

// An HTTP API that decides by the caller's identity: anyone running as
// this user may list the jobs, only root may add one. Identify reads each
// connection's credentials once, when the server accepts it; Require
// refuses the others with 403 and the reason.
func ExampleRequire() {
	dir, err := os.MkdirTemp("", "udshttp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "jobs.sock"))

	jobs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := udshttp.PeerCred(r.Context()) // Require let it through: there are credentials
		if r.Method == http.MethodPost {
			log.Printf("job added by pid %d", cred.PID)
		}
		fmt.Fprintf(w, "%s /jobs by uid %d", r.Method, cred.UID)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /jobs", udshttp.Require(uds.SameUser(), jobs))    // this user
	mux.Handle("POST /jobs", udshttp.Require(uds.AllowUIDs(0), jobs)) // root only
	srv := &http.Server{Handler: mux}
	udshttp.Identify(srv)

	lc := uds.ListenConfig{Mode: 0o666} // every user may connect: Require decides
	ln, err := lc.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	resp, err := udshttp.Client(addr).Get("http://unix/jobs")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(string(body) == fmt.Sprintf("GET /jobs by uid %d", os.Geteuid()))
	// A POST from a process that is not root gets 403 Forbidden and
	// "forbidden: permission denied: uid 1000 is not allowed".

	// Output:
	// 200 OK
	// true
}

// A handler that wants the caller's process: PeerCred gives the
// credentials read when the connection was accepted, with a PIDFD (Linux
// 6.5 and later) that stays open until the connection closes, so the
// process cannot be confused with a later one that reuses its PID.
func ExamplePeerCred() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, ok := udshttp.PeerCred(r.Context())
		if !ok {
			http.Error(w, "who are you?", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "hello pid %d, uid %d, gid %d, groups %v\n", cred.PID, cred.UID, cred.GID, cred.Groups)
	})
	srv := &http.Server{Handler: handler}
	udshttp.Identify(srv) // or srv.ConnContext = udshttp.ConnContext and srv.ConnState = udshttp.ConnState
	_ = srv               // srv.Serve(ln)
}
