//go:build linux

package uds_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/udshttp"
)

// Serve HTTP on a pathname socket that only this user may connect to, and
// reach it with an HTTP client that dials the socket.
func ExampleListenConfig_Listen_http() {
	dir, err := os.MkdirTemp("", "uds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "api.sock"))

	// The socket file is 0600 from the moment it exists. A stale file left
	// by a crashed server is reclaimed; a live server's is never touched.
	lc := uds.ListenConfig{Mode: 0o600}
	ln, err := lc.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s", r.URL.Path[1:])
	})}
	go srv.Serve(ln)
	defer srv.Close() // closes ln, which removes api.sock and api.sock.lock

	resp, err := udshttp.Client(addr).Get("http://unix/gopher")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: hello, gopher
}

// An abstract socket has no file: nothing to clean up, nothing stale. Its
// name is exact bytes, NUL bytes included, and reads back exactly.
func ExampleListen_abstract() {
	name := "uds-example\x00" + strconv.Itoa(os.Getpid())
	ln, err := uds.Listen(context.Background(), uds.Abstract(name))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("hi"))
		c.Close()
	}()

	c, err := uds.Dial(context.Background(), uds.Abstract(name))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	msg, _ := io.ReadAll(c)
	remote := c.RemoteAddr().(uds.Addr)
	fmt.Println(string(msg), remote.Kind(), remote.Name() == name, ln.Addr() == remote)
	// Output: hi abstract true true
}

// A client started before its server waits for it instead of failing with
// "no such file or directory".
func ExampleDialer_waitForListener() {
	dir, err := os.MkdirTemp("", "uds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "late.sock"))

	go func() {
		time.Sleep(100 * time.Millisecond) // the server starts late
		ln, err := uds.Listen(context.Background(), addr)
		if err != nil {
			log.Fatal(err)
		}
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("ready"))
			c.Close()
		}
		ln.Close()
	}()

	d := uds.Dialer{WaitForListener: true, Timeout: 5 * time.Second}
	c, err := d.Dial(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	msg, _ := io.ReadAll(c)
	fmt.Println(string(msg))
	// Output: ready
}

// Pair returns two connected sockets, for example to talk to a goroutine or,
// through their File method, to a child process.
func ExamplePair() {
	a, b, err := uds.Pair(uds.Stream)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	go func() {
		a.Write([]byte("ping"))
		a.Close()
	}()
	msg, _ := io.ReadAll(b)
	fmt.Println(string(msg), b.LocalAddr(), b.RemoteAddr())
	// Output: ping (unnamed) (unnamed)
}

// ParseAddr reads every text form, and String writes one that reads back
// exactly.
func ExampleParseAddr() {
	for _, s := range []string{
		"/run/app.sock",
		"@app",
		`@bus\x00v2`,
		"unix-abstract:app",
		"unix:///run/app.sock",
		"(autobind)",
	} {
		a, err := uds.ParseAddr(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-22s %-9s %q\n", s, a.Kind(), a.Name())
	}
	fmt.Println(uds.Path("@not-abstract"))
	// Output:
	// /run/app.sock          path      "/run/app.sock"
	// @app                   abstract  "app"
	// @bus\x00v2             abstract  "bus\x00v2"
	// unix-abstract:app      abstract  "app"
	// unix:///run/app.sock   path      "/run/app.sock"
	// (autobind)             autobind  ""
	// ./@not-abstract
}

// Probe tells live, stale and missing sockets apart without changing
// anything.
func ExampleProbe() {
	dir, err := os.MkdirTemp("", "uds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "svc.sock"))

	ln, err := uds.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	r, _ := diag.Probe(context.Background(), addr)
	fmt.Println(r.State, r.PID == os.Getpid())

	ln.Close()
	r, _ = diag.Probe(context.Background(), addr)
	fmt.Println(r.State)
	// Output:
	// live true
	// missing
}
