//go:build linux

package uds_test

import (
	"os"
	"syscall"

	"github.com/udskit/uds"
)

// pairMaker adapts uds.Pair to pairOf: pairOf(t, pairMaker(uds.SeqPacket)).
func pairMaker(typ uds.SocketType) func() (*uds.Conn, *uds.Conn, error) {
	return func() (*uds.Conn, *uds.Conn, error) { return uds.Pair(typ) }
}

// msgFilesSender returns a function that sends p with files on c, to to (the
// zero address: the connected peer), with uds.WriteMsg, and returns the bytes
// written.
func msgFilesSender(c syscall.Conn, to uds.Addr) func(p []byte, files ...*os.File) (int, error) {
	return func(p []byte, files ...*os.File) (int, error) {
		m := uds.Message{Buf: p, Addr: to, Files: files}
		err := uds.WriteMsg(c, &m)
		return m.N, err
	}
}

// msgReadFrom reads one message into b with uds.ReadMsg, as the old
// ReadFromAddr did: the sender is stored in *from (which the read
// overwrites, whatever it held) and the bytes read are returned.
func msgReadFrom(c syscall.Conn, b []byte, from *uds.Addr) (int, error) {
	m := uds.Message{Buf: b, Addr: *from}
	err := uds.ReadMsg(c, &m)
	*from = m.Addr
	return m.N, err
}

// msgWriteTo sends b to to with uds.WriteMsg and returns the bytes written.
func msgWriteTo(c syscall.Conn, b []byte, to uds.Addr) (int, error) {
	m := uds.Message{Buf: b, Addr: to}
	err := uds.WriteMsg(c, &m)
	return m.N, err
}
