//go:build linux

package uds_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/udskit/uds"
)

// Send an open file to the process at the other end of a connection: the
// receiver gets its own descriptor for the same open file, even if it could
// not open the file by name.
func ExampleSendFiles() {
	a, b, err := uds.Pair() // in real use, two processes
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
	if _, err := uds.SendFiles(a, []byte("config"), f); err != nil {
		log.Fatal(err)
	}

	buf := make([]byte, 16)
	n, files, err := b.ReadFiles(buf, 1)
	if err != nil {
		log.Fatal(err)
	}
	got := files[0]
	defer got.Close()
	got.Seek(0, io.SeekStart) // the open file's offset is shared
	content, _ := io.ReadAll(got)
	fmt.Printf("%s: %d file: %s\n", buf[:n], len(files), content)
	// Output: config: 1 file: secret configuration
}

// Receive files with a limit: a message that carries more descriptors than
// allowed is reported with ErrTruncated, its data is still returned, and
// every descriptor that arrived has already been closed.
func ExampleRecvFiles() {
	a, b, err := uds.SeqPacketPair()
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

	a.WriteFiles([]byte("three"), null, null, null)
	a.WriteFiles(nil, null) // a message may be empty: files only
	a.WriteFiles([]byte("two"), null, null)

	buf := make([]byte, 16)
	for range 3 {
		n, files, err := uds.RecvFiles(b, buf, 2)
		switch {
		case errors.Is(err, uds.ErrTruncated):
			fmt.Printf("%q: too many files, none kept\n", buf[:n])
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%q: %d files\n", buf[:n], len(files))
		}
		for _, f := range files {
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
// process that connects to the old one and asks (see handoff_test.go).
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
	oldSide, newSide, err := uds.Pair() // the old and new servers' channel
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
	if _, err := oldSide.WriteFiles([]byte("listener"), f); err != nil {
		log.Fatal(err)
	}
	f.Close()

	// New server: rebuild it and serve.
	buf := make([]byte, 16)
	n, files, err := newSide.ReadFiles(buf, 1)
	if err != nil || string(buf[:n]) != "listener" {
		log.Fatal(err)
	}
	ln, err := uds.FileListener(files[0])
	files[0].Close()
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
