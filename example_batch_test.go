//go:build linux

package uds_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/udskit/uds"
)

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
