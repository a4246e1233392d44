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
	"strconv"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/instance"
)

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
