//go:build linux

package uds_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/udskit/uds"
	"github.com/udskit/uds/udshttp"
)

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
