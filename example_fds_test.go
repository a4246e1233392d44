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
