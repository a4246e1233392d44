// Package grpcuds tells gRPC servers and clients on Unix domain sockets who
// is at the other end: the peer's user, group and process, as the kernel
// recorded them when the connection was made.
//
// NewCredentials returns transport credentials for both sides. On the
// server, every connection's handshake reads the client's credentials
// (uds.PeerCred) and gRPC hands them to each call in its peer.Peer, where
// PeerCred(ctx) finds them; UnaryServerInterceptor and
// StreamServerInterceptor refuse calls by the same policies
// uds.ListenConfig.Authorize takes (uds.SameUser, uds.AllowUIDs,
// uds.AllowGIDs, or any func(*uds.Cred) error). On the client, the
// handshake reads the server's credentials, so that the client learns who
// serves the socket.
//
// Clients need nothing of this package to be identified: the server reads
// a caller's credentials from the kernel, so a stock client with
// insecure.NewCredentials() is identified like any other.
//
// The credentials are uds.PeerCred's, and hold what it reads on each
// system (PID, UID, GID everywhere it works; groups, security label and a
// PIDFD on Linux). Where uds.PeerCred is unsupported (Windows), handshakes
// fail.
//
// The package is a module of its own, so that the uds module does not
// depend on gRPC.
package grpcuds

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"google.golang.org/grpc/credentials"

	"github.com/udskit/uds"
)

// AuthType is what AuthInfo.AuthType returns, and the SecurityProtocol of
// the credentials' ProtocolInfo.
const AuthType = "uds"

// AuthInfo is the credentials.AuthInfo of a connection made with the
// credentials of NewCredentials. Like gRPC's credentials/local on a Unix
// socket, it reports the security level PrivacyAndIntegrity: the data
// never leaves the kernel.
type AuthInfo struct {
	credentials.CommonAuthInfo

	// Cred is the peer's identity, read from the kernel during the
	// handshake: the client's on the server side, the server's on the
	// client side. It is shared by every call on the connection and must
	// not be modified.
	//
	// Its PIDFD, where the kernel offers one (Linux 6.5 and later), is
	// valid while the connection is open and closed with it: use it through
	// PIDFD.SyscallConn, whose Control keeps it open while it runs, not
	// through PIDFD.Fd, whose number may be reused once the connection has
	// closed.
	Cred *uds.Cred
}

// AuthType returns "uds".
func (AuthInfo) AuthType() string { return AuthType }

// ValidateAuthority accepts any value of the :authority header, as gRPC's
// local credentials do: the peer was identified by the kernel, not by a
// name.
func (AuthInfo) ValidateAuthority(string) error { return nil }

// NewCredentials returns gRPC transport credentials for connections over
// Unix domain sockets, for servers (grpc.Creds) and clients
// (grpc.WithTransportCredentials).
//
// Each handshake reads the peer's credentials with uds.PeerCred and puts
// them in the connection's AuthInfo (an AuthInfo value). A connection that
// is not a Unix stream socket (TCP, a seqpacket socket, an in-memory pipe)
// fails its handshake with an error that says so, and so does one whose
// peer has already exited. The connection the handshake returns closes the
// credentials' PIDFD when it closes.
//
// Servers may listen with uds.Listen or net.Listen("unix", ...): the
// handshake works on *uds.Conn and *net.UnixConn connections alike, and on
// any connection with a SyscallConn method that reaches the Unix socket.
func NewCredentials() credentials.TransportCredentials {
	return &transportCreds{info: credentials.ProtocolInfo{SecurityProtocol: AuthType}}
}

type transportCreds struct {
	info credentials.ProtocolInfo
}

// ClientHandshake reads the server's credentials.
func (*transportCreds) ClientHandshake(_ context.Context, _ string, c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return handshake(c, "client")
}

// ServerHandshake reads the client's credentials.
func (*transportCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return handshake(c, "server")
}

func (t *transportCreds) Info() credentials.ProtocolInfo { return t.info }

func (t *transportCreds) Clone() credentials.TransportCredentials {
	return &transportCreds{info: t.info}
}

// OverrideServerName records the name in Info's ServerName, as gRPC's local
// credentials do; it checks nothing, since no certificate names the server.
//
// Deprecated: as in credentials.TransportCredentials; use grpc.WithAuthority.
func (t *transportCreds) OverrideServerName(name string) error {
	t.info.ServerName = name
	return nil
}

func handshake(c net.Conn, side string) (net.Conn, credentials.AuthInfo, error) {
	sc, err := unixConn(c)
	if err != nil {
		return nil, nil, fmt.Errorf("grpcuds: %s handshake: %w", side, err)
	}
	cred, err := uds.PeerCred(sc)
	if err != nil {
		return nil, nil, fmt.Errorf("grpcuds: %s handshake: reading the peer's credentials: %w", side, err)
	}
	info := AuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		Cred:           cred,
	}
	if cred.PIDFD == nil {
		return c, info, nil
	}
	return &credConn{Conn: c, pidfd: cred.PIDFD}, info, nil
}

// unixConn returns c as a syscall.Conn if it is a Unix stream socket, and
// an error that says what c is otherwise.
func unixConn(c net.Conn) (syscall.Conn, error) {
	network := ""
	if a := c.RemoteAddr(); a != nil {
		network = a.Network()
	} else if a := c.LocalAddr(); a != nil {
		network = a.Network()
	}
	switch network {
	case "unix":
	case "unixpacket":
		return nil, fmt.Errorf("%T is a seqpacket Unix socket (network %q): gRPC needs a stream socket", c, network)
	default:
		return nil, fmt.Errorf("%T (network %q, remote %v) is not a Unix socket connection: these credentials identify peers of Unix domain sockets only", c, network, c.RemoteAddr())
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("%T has network \"unix\" but no SyscallConn method: its socket's credentials cannot be read", c)
	}
	return sc, nil
}

// credConn is a connection whose Close also closes the peer's PIDFD. It
// closes the *os.File and leaves the Cred as it is: handlers may be reading
// the Cred while the connection closes, and an os.File may be closed while
// it is in use (its calls then fail with os.ErrClosed).
type credConn struct {
	net.Conn
	pidfd *os.File
	once  sync.Once
}

// Close closes the connection and, the first time, the peer's PIDFD.
func (c *credConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if perr := c.pidfd.Close(); err == nil {
			err = perr
		}
	})
	return err
}

// SyscallConn returns the socket's syscall.RawConn, so that uds.PeerCred and
// other socket calls work on the wrapped connection too.
func (c *credConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("grpcuds: %T has no SyscallConn method", c.Conn)
	}
	return sc.SyscallConn()
}
