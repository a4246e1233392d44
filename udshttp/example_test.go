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
