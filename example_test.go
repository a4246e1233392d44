//go:build linux

package uds_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/instance"
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

// SEQPACKET keeps message boundaries: every Read is one whole message, a
// message longer than the buffer is reported with its true length, and an
// empty message is told apart from the end of the connection. A peek
// (ReadMsg with Message.Peek) tells the next message's size without taking it.
func ExampleListen_seqpacket() {
	name := uds.Abstract("seqpacket-example-" + strconv.Itoa(os.Getpid()))
	ln, err := uds.Listen(context.Background(), name.WithType(uds.SeqPacket))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := acceptConn(ln)
		if err != nil {
			return
		}
		c.Write([]byte("hello"))
		c.Write([]byte("a message longer than the buffer"))
		c.Write(nil) // an empty message
		c.Close()
	}()

	c, err := uds.Dial(context.Background(), name.WithType(uds.SeqPacket))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 8)
	for {
		peek := uds.Message{Peek: true}
		_ = uds.ReadMsg(c, &peek) // an error here is read again by Read
		size := peek.Len
		n, err := c.Read(buf)
		var te *uds.TruncatedError
		switch {
		case errors.As(err, &te):
			fmt.Printf("truncated: kept %q of %d bytes (peeked %d)\n", buf[:n], te.Len, size)
		case err == io.EOF:
			fmt.Println("end of connection")
			return
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("message %q (%d bytes)\n", buf[:n], n)
		}
	}
	// Output:
	// message "hello" (5 bytes)
	// truncated: kept "a messag" of 32 bytes (peeked 32)
	// message "" (0 bytes)
	// end of connection
}

// A datagram server replies to each client at the exact address it read
// the request from; DialDatagram autobinds clients so that they can be
// replied to.
func ExampleListenDatagram() {
	dir, err := os.MkdirTemp("", "uds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "echo.sock"))

	srv, err := uds.ListenDatagram(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	go func() {
		m := uds.Message{Buf: make([]byte, 512)}
		for {
			if err := uds.ReadMsg(srv, &m); err != nil {
				return
			}
			reply := uds.Message{Buf: append([]byte("echo: "), m.Buf[:m.N]...), Addr: m.Addr}
			uds.WriteMsg(srv, &reply)
		}
	}()

	c, err := uds.DialDatagram(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		log.Fatal(err)
	}
	local := c.LocalAddr().(uds.Addr)
	fmt.Println(string(buf[:n]), local.Kind(), len(local.Name()))
	// Output: echo: ping abstract 5
}

// Lock keeps a second instance of a program from starting: the kernel frees
// the abstract name when the holder exits, even when it is killed.
func ExampleLock() {
	name := "lock-example-" + strconv.Itoa(os.Getuid()) + "-" + strconv.Itoa(os.Getpid())
	first, err := instance.Lock(context.Background(), name)
	if err != nil {
		log.Fatal(err)
	}
	_, err = instance.Lock(context.Background(), name)
	var inUse *uds.InUseError
	fmt.Println(errors.Is(err, uds.ErrInUse), errors.As(err, &inUse) && inUse.PID == os.Getpid())

	first.Close()
	second, err := instance.Lock(context.Background(), name)
	fmt.Println(err)
	second.Close()
	// Output:
	// true true
	// <nil>
}

// Who names the processes serving an address, like ss -xlp.
func ExampleWho() {
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
	defer ln.Close()

	socks, err := diag.Who(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range socks {
		for _, p := range s.Procs {
			fmt.Println(s.State, s.Type, p.PID == os.Getpid(), s.Shadowed)
		}
	}
	// Output: listen stream true false
}

// Send an open file to the process at the other end of a connection: the
// receiver gets its own descriptor for the same open file, even if it could
// not open the file by name.
func ExampleWriteMsg_files() {
	a, b, err := uds.Pair(uds.Stream) // in real use, two processes
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	defer b.Close()

	f, err := os.CreateTemp("", "uds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fmt.Fprint(f, "secret configuration")

	// Any Unix connection will do, a plain *net.UnixConn too.
	if err := uds.WriteMsg(a, &uds.Message{Buf: []byte("config"), Files: []*os.File{f}}); err != nil {
		log.Fatal(err)
	}

	// Room for one file: the capacity of Files.
	m := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1)}
	if err := uds.ReadMsg(b, &m); err != nil {
		log.Fatal(err)
	}
	got := m.Files[0]
	defer got.Close()
	got.Seek(0, io.SeekStart) // the open file's offset is shared
	content, _ := io.ReadAll(got)
	fmt.Printf("%s: %d file: %s\n", m.Buf[:m.N], len(m.Files), content)
	// Output: config: 1 file: secret configuration
}

// Receive files with a limit: a message that carries more descriptors than
// allowed is reported with ErrTruncated, its data is still returned, and
// every descriptor that arrived has already been closed.
func ExampleReadMsg_files() {
	a, b, err := uds.Pair(uds.SeqPacket)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		log.Fatal(err)
	}
	defer null.Close()

	uds.WriteMsg(a, &uds.Message{Buf: []byte("three"), Files: []*os.File{null, null, null}})
	uds.WriteMsg(a, &uds.Message{Files: []*os.File{null}}) // a message may be empty: files only
	uds.WriteMsg(a, &uds.Message{Buf: []byte("two"), Files: []*os.File{null, null}})

	// One Message for every read: room for two files, reused.
	m := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 2)}
	for range 3 {
		err := uds.ReadMsg(b, &m)
		switch {
		case errors.Is(err, uds.ErrTruncated):
			fmt.Printf("%q: too many files, none kept\n", m.Buf[:m.N])
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%q: %d files\n", m.Buf[:m.N], len(m.Files))
		}
		for _, f := range m.Files {
			f.Close()
		}
	}
	// Output:
	// "three": too many files, none kept
	// "": 1 files
	// "two": 2 files
}

// Restart a server without refusing a single connection: the old server
// sends its listening socket to the new one, which serves on it at once;
// the old one stops accepting and leaves the socket file to the new one.
// Here both run in one process; in real use the new server is a new
// process that connects to the old one and asks (see
// reliability/handoff_test.go).
func ExampleFileListener() {
	dir, err := os.MkdirTemp("", "uds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	addr := uds.Path(filepath.Join(dir, "app.sock"))
	old, err := uds.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	oldSide, newSide, err := uds.Pair(uds.Stream) // the old and new servers' channel
	if err != nil {
		log.Fatal(err)
	}
	defer oldSide.Close()
	defer newSide.Close()

	// Old server: send the listener.
	f, err := old.File()
	if err != nil {
		log.Fatal(err)
	}
	if err := uds.WriteMsg(oldSide, &uds.Message{Buf: []byte("listener"), Files: []*os.File{f}}); err != nil {
		log.Fatal(err)
	}
	f.Close()

	// New server: rebuild it and serve.
	m := uds.Message{Buf: make([]byte, 16), Files: make([]*os.File, 0, 1)}
	if err := uds.ReadMsg(newSide, &m); err != nil || string(m.Buf[:m.N]) != "listener" {
		log.Fatal(err)
	}
	ln, err := uds.FileListener(m.Files[0])
	m.Files[0].Close()
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "hello from the new server")
			c.Close()
		}
	}()

	// Old server: stop accepting, keep the socket file for the new one.
	old.SetUnlinkOnClose(false)
	old.Close()

	c, err := uds.Dial(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	reply, _ := io.ReadAll(c)
	c.Close()
	fmt.Print(string(reply))
	fmt.Println("same address:", ln.Addr() == uds.Addr(addr))

	// The new server did not create the socket file, so it never removes it.
	ln.Close()
	_, err = os.Stat(addr.Name())
	fmt.Println("socket file still there:", err == nil)
	// Output:
	// hello from the new server
	// same address: true
	// socket file still there: true
}

// An abstract socket has no file and so no permissions: any process in the
// same network namespace can connect to it. Authorize checks each peer's
// credentials inside Accept; a refused connection is closed and never
// returned, so the server keeps serving.
func ExampleSameUser() {
	addr := uds.Abstract("uds-example-api-" + strconv.Itoa(os.Getpid()))
	lc := uds.ListenConfig{
		Authorize: uds.SameUser(),
		OnRefuse: func(cred *uds.Cred, err error) {
			log.Printf("refused %v: %v", cred, err)
		},
	}
	ln, err := lc.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello, same user")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// This process runs as the same user, so it is let in.
	resp, err := udshttp.Client(addr).Get("http://unix/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, same user
}

// PeerCred tells who is at the other end of a connection: the kernel
// recorded the peer's PID, user and groups when it connected. On Linux 6.5
// and later the Cred also holds a PIDFD for the peer process, so Close it.
func ExamplePeerCred() {
	addr := uds.Abstract("uds-example-peer-" + strconv.Itoa(os.Getpid()))
	ln, err := uds.Listen(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	client, err := uds.Dial(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	server, err := acceptConn(ln)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	cred, err := uds.PeerCred(server)
	if err != nil {
		log.Fatal(err)
	}
	defer cred.Close()
	fmt.Println("same process:", cred.PID == os.Getpid())
	fmt.Println("same user:", cred.UID == os.Geteuid())
	fmt.Println("same group:", cred.GID == os.Getegid())
	// Output:
	// same process: true
	// same user: true
	// same group: true
}

// With PassCred set when the socket is created, the kernel attaches the
// sender's credentials to every datagram, and ReadMsg returns them with
// the message (Message.Cred): a server can tell its clients apart without
// trusting what they say about themselves.
func ExampleReadMsg_credentials() {
	addr := uds.Abstract("uds-example-log-" + strconv.Itoa(os.Getpid()))
	lc := uds.ListenConfig{PassCred: true}
	srv, err := lc.ListenDatagram(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := uds.DialDatagram(context.Background(), addr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Write([]byte("disk almost full")); err != nil {
		log.Fatal(err)
	}

	var cred uds.Cred
	m := uds.Message{Buf: make([]byte, 1024), Cred: &cred} // m.Addr gets the sender
	if err := uds.ReadMsg(srv, &m); err != nil {
		log.Fatal(err) // wraps uds.ErrNoCredentials if nothing was recorded
	}
	defer cred.Close()
	fmt.Printf("%q from pid==ours:%v uid==ours:%v\n", m.Buf[:m.N], cred.PID == os.Getpid(), cred.UID == os.Geteuid())
	// Output: "disk almost full" from pid==ours:true uid==ours:true
}

// A log collector drains a datagram socket in batches: one system call takes
// every queued message (up to the batch size), each with its sender's exact
// address, and the message slice is reused from batch to batch.
func ExampleReadBatch() {
	suffix := "-" + strconv.Itoa(os.Getpid()) // unique names in a shared namespace
	name := uds.Abstract("log-collector" + suffix)
	sink, err := uds.ListenDatagram(context.Background(), name)
	if err != nil {
		log.Fatal(err)
	}
	defer sink.Close()

	// Two programs log to the collector.
	for _, app := range []string{"api", "worker"} {
		c, err := (&uds.Dialer{LocalAddr: uds.Abstract(app + suffix)}).DialDatagram(context.Background(), name)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		for i := 1; i <= 2; i++ {
			fmt.Fprintf(c, "%s: line %d", app, i)
		}
	}

	batch := make([]uds.Message, 64)
	for i := range batch {
		batch[i].Buf = make([]byte, 2048)
	}
	n, err := uds.ReadBatch(sink, batch)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range batch[:n] {
		if m.Err != nil { // truncated: m.Len is the full length
			fmt.Println("truncated message from", m.Addr, m.Len)
			continue
		}
		fmt.Printf("%s <- @%s\n", m.Buf[:m.N], strings.TrimSuffix(m.Addr.Name(), suffix))
	}
	// Output:
	// api: line 1 <- @api
	// api: line 2 <- @api
	// worker: line 1 <- @worker
	// worker: line 2 <- @worker
}
