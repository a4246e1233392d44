//go:build !(linux || darwin || freebsd)

package uds

import (
	"context"
	"net"
	"time"
)

// The message sockets (seqpacket Conn, DatagramConn) and the
// descriptor and credential paths need a Unix kernel's socket calls; here
// they return errors wrapping errors.ErrUnsupported.

func (lc *ListenConfig) packetSocket(Addr) (*net.UnixConn, Addr, *pathOwner, error) {
	return nil, Addr{}, nil, unsupported("listen")
}

// msgConn stands in for the message sockets' machinery, which this platform
// lacks; no value of it is ever made.
type msgConn struct {
	uc    *net.UnixConn
	typ   SocketType
	laddr Addr
	raddr Addr
	owner *pathOwner

	peerLazy bool
}

func (c *msgConn) recv(string, []byte, bool, *Addr, *Cred) (int, error) {
	return 0, unsupported("recvmsg")
}
func (c *msgConn) send(string, []byte, *Addr, *Cred) (int, error) { return 0, unsupported("sendmsg") }
func (c *msgConn) close() error                                   { return unsupported("close") }
func (c *msgConn) setZeroReadIsEOF(bool) error                    { return unsupported("SO_TIMESTAMP") }
func (c *msgConn) setDeadline(time.Time) error                    { return unsupported("deadline") }
func (c *msgConn) setWriteDeadline(time.Time) error               { return unsupported("deadline") }
func (c *msgConn) remote() net.Addr                               { return nil }
func (c *msgConn) peer() Addr                                     { return c.raddr }
func (c *msgConn) opErr(_ string, err error) error                { return err }

func newMsgConn(*net.UnixConn, SocketType, Addr, Addr, bool, bool) (*msgConn, error) {
	return nil, unsupported("message sockets")
}

func msgPair(SocketType) (*msgConn, *msgConn, error) {
	return nil, nil, unsupported("socketpair")
}

func (d *Dialer) dialMsg(context.Context, Addr, SocketType, Addr) (*msgConn, error) {
	return nil, unsupported("dial")
}
