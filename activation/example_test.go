//go:build linux

package activation_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/udskit/uds"
	"github.com/udskit/uds/activation"
)

// Take the socket a service manager passed (systemd socket activation:
// LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), or listen yourself when started
// by hand. Run under systemd with FileDescriptorName=api in the .socket
// unit, or try it with
//
//	systemd-socket-activate -l /run/myapp/api.sock --fdname=api ./myapp
//
// Not socket-activated, as here, the Set is empty and taking a socket fails
// with os.ErrNotExist.
func ExampleGet() {
	// true: remove LISTEN_* from the environment, so that children this
	// process starts do not think the sockets are theirs.
	set, err := activation.Get(true)
	if err != nil {
		log.Fatal(err) // malformed variables, or a descriptor that is not open
	}
	fmt.Println("sockets passed:", set.Names())

	ln, err := set.Listener("api")
	switch {
	case err == nil:
		// The exact address systemd bound; Close never removes the file.
		fmt.Println("socket-activated on", ln.Addr())
	case errors.Is(err, os.ErrNotExist):
		fmt.Println("not socket-activated: listening myself")
		ln, err = uds.Listen(context.Background(), uds.Abstract("uds-example-act-"+strconv.Itoa(os.Getpid())))
		if err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatal(err) // "api" was passed but is not a listening stream socket
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	// Output:
	// sockets passed: []
	// not socket-activated: listening myself
}
