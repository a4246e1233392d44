package main

import (
	"os"
	"strings"
	"testing"

	"github.com/udskit/uds"
)

func TestCommand(t *testing.T) {
	a, b, err := uds.Pair(uds.Stream)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	c, err := uds.PeerCred(a) // this process: a pair records its creator
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := command(c), strings.TrimSpace(string(comm)); got != want {
		t.Errorf("command = %q, want %q", got, want)
	}
	if c.PIDFD == nil {
		t.Skip("no PIDFD (a kernel before 6.5)")
	}
	// A closed PIDFD can no longer vouch for the PID.
	c.PIDFD.Close()
	if got := command(c); got != "(exited)" {
		t.Errorf("command with a closed PIDFD = %q, want (exited)", got)
	}
}
