//go:build linux

package grpcuds_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/udskit/uds"
	"github.com/udskit/uds/grpcuds"
	"github.com/udskit/uds/internal/childproc"
)

const (
	methodList  = "/grpc.health.v1.Health/List"
	methodWatch = "/grpc.health.v1.Health/Watch"
)

// A child running as root (this process's user) and one as uid 65534 call
// the same server, each over a kept-open connection with stock insecure
// credentials and one with grpcuds credentials. Check is open to every
// identified caller and records what its handler sees; List (unary) and
// Watch (stream) are for this process's user only.
func TestCallersAcrossUsers(t *testing.T) {
	rec := newRecorder()
	unary, stream := grpcuds.MethodInterceptors(func(method string) func(*uds.Cred) error {
		if method == methodList || method == methodWatch {
			return uds.AllowUIDs(os.Geteuid())
		}
		return nil
	})
	srv := grpc.NewServer(grpc.Creds(grpcuds.NewCredentials()),
		grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
	healthpb.RegisterHealthServer(srv, rec)
	target := startServer(t, srv)
	const calls = 20

	type run struct {
		name    string
		cred    *syscall.Credential
		allowed bool
	}
	runs := []run{{name: "same-user", allowed: true}}
	if os.Geteuid() == 0 {
		runs = append(runs, run{name: "uid-65534", cred: &syscall.Credential{Uid: 65534, Gid: 65534}})
	} else {
		t.Log("uid-65534 child skipped: running a child as another user needs root")
	}
	// Both children run at the same time against the one server.
	children := make([]*childproc.Child, len(runs))
	for i, r := range runs {
		children[i] = childproc.Start(t, childproc.Options{Credential: r.cred}, "grpc-client", target, strconv.Itoa(calls))
	}
	for i, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			c := children[i]
			var rep clientReport
			require.NoError(t, json.Unmarshal([]byte(c.WaitReady()), &rep), "stderr: %s", c.Stderr())
			require.Equal(t, 0, c.Wait(30*time.Second), "stderr: %s", c.Stderr())

			// The child's real identity.
			require.Equal(t, c.PID(), rep.PID)
			if r.cred != nil {
				require.Equal(t, int(r.cred.Uid), rep.UID)
				require.Equal(t, int(r.cred.Gid), rep.GID)
			} else {
				require.Equal(t, os.Geteuid(), rep.UID)
			}

			// Every Check, over both connections, was let through, and its
			// handler saw the child's UID, GID and PID.
			for _, res := range []callResults{rep.Insecure, rep.UDS} {
				require.Empty(t, res.CheckFailures)
				require.Len(t, res.Checks, calls)
			}
			got := rec.seen(rep.PID)
			require.Len(t, got, 2*calls)
			creds := map[*uds.Cred]int{}
			for _, s := range got {
				assert.Equal(t, rep.UID, s.cred.UID)
				assert.Equal(t, rep.GID, s.cred.GID)
				assert.Equal(t, rep.PID, s.cred.PID)
				if s.cred.PIDFD != nil {
					assert.Equal(t, rep.PID, s.pidfdPID, "the PIDFD refers to the child")
				}
				creds[s.cred]++
			}
			// Two connections, each kept open for all its calls: one Cred
			// each, read once at the handshake.
			assert.Len(t, creds, 2)
			for _, n := range creds {
				assert.Equal(t, calls, n)
			}

			// The policy: List and Watch for this process's user only.
			for _, res := range []callResults{rep.Insecure, rep.UDS} {
				if r.allowed {
					assert.Equal(t, "OK", res.List, res.ListMsg)
					assert.Equal(t, "OK", res.Watch, res.WatchMsg)
					continue
				}
				assert.Equal(t, codes.PermissionDenied.String(), res.List)
				assert.Equal(t, codes.PermissionDenied.String(), res.Watch)
				want := "uid " + strconv.Itoa(rep.UID) + " is not allowed"
				assert.Contains(t, res.ListMsg, want)
				assert.Contains(t, res.WatchMsg, want)
			}

			// The grpcuds client learned who serves.
			assert.Equal(t, os.Getpid(), rep.Server.PID)
			assert.Equal(t, os.Geteuid(), rep.Server.UID)
			assert.Equal(t, os.Getegid(), rep.Server.GID)
			assert.Equal(t, grpcuds.AuthType, rep.AuthType)
			assert.Equal(t, credentials.PrivacyAndIntegrity.String(), rep.SecurityLevel)
		})
	}
	rec.mu.Lock()
	assert.Zero(t, rec.nocred, "calls whose handler found no credentials")
	rec.mu.Unlock()
}

// The handshake on the two kinds of connection a Unix listener gives: the
// credentials on both sides, the AuthInfo, and the PIDFD closed with the
// connection.
func TestHandshake(t *testing.T) {
	dir := mkSockDir(t)
	for _, tc := range []struct {
		name string
		pair func(t *testing.T) (client, server net.Conn)
	}{
		{"uds.Conn", func(t *testing.T) (net.Conn, net.Conn) {
			ln, err := uds.Listen(context.Background(), uds.Path(filepath.Join(dir, "u.sock")))
			require.NoError(t, err)
			defer ln.Close()
			return acceptDial(t, ln, func() (net.Conn, error) {
				return uds.Dial(context.Background(), uds.Path(filepath.Join(dir, "u.sock")))
			})
		}},
		{"net.UnixConn", func(t *testing.T) (net.Conn, net.Conn) {
			ln, err := net.Listen("unix", filepath.Join(dir, "n.sock"))
			require.NoError(t, err)
			defer ln.Close()
			return acceptDial(t, ln, func() (net.Conn, error) { return net.Dial("unix", filepath.Join(dir, "n.sock")) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, pidfds0 := openFDs(t)
			client, server := tc.pair(t)
			tc := grpcuds.NewCredentials()
			sconn, sinfo, err := tc.ServerHandshake(server)
			require.NoError(t, err)
			cconn, cinfo, err := tc.Clone().ClientHandshake(context.Background(), "localhost", client)
			require.NoError(t, err)
			for _, info := range []credentials.AuthInfo{sinfo, cinfo} {
				ai, ok := info.(grpcuds.AuthInfo)
				require.True(t, ok, "AuthInfo is %T", info)
				assert.Equal(t, "uds", ai.AuthType())
				assert.Equal(t, credentials.PrivacyAndIntegrity, ai.SecurityLevel)
				assert.NoError(t, credentials.CheckSecurityLevel(ai, credentials.PrivacyAndIntegrity))
				assert.NoError(t, ai.ValidateAuthority("anything"))
				assert.Equal(t, os.Getpid(), ai.Cred.PID)
				assert.Equal(t, os.Geteuid(), ai.Cred.UID)
				assert.Equal(t, os.Getegid(), ai.Cred.GID)
				// The Cred reaches handlers through peer.Peer.
				cred, ok := grpcuds.PeerCred(peer.NewContext(context.Background(), &peer.Peer{AuthInfo: info}))
				assert.True(t, ok)
				assert.Same(t, ai.Cred, cred)
			}
			scred := sinfo.(grpcuds.AuthInfo).Cred
			if scred.PIDFD == nil {
				t.Log("no PIDFD (a kernel before 6.5): nothing to close with the connection")
			} else {
				_, pidfds := openFDs(t)
				assert.Equal(t, pidfds0+2, pidfds, "one PIDFD on each side")
				// The wrapped connection still reaches the socket.
				again, err := uds.PeerCred(sconn.(syscall.Conn))
				require.NoError(t, err)
				again.Close()
			}
			// The connections still carry data.
			go cconn.Write([]byte("x"))
			buf := make([]byte, 1)
			_, err = sconn.Read(buf)
			require.NoError(t, err)

			require.NoError(t, sconn.Close())
			require.NoError(t, cconn.Close())
			assert.Error(t, sconn.Close(), "a second Close fails as the connection's does")
			_, pidfds := openFDs(t)
			assert.Equal(t, pidfds0, pidfds, "the PIDFDs closed with the connections")
			if scred.PIDFD != nil {
				// The Cred itself is left as it was (handlers may read it).
				_, err := scred.PIDFD.SyscallConn()
				assert.NoError(t, err)
				assert.ErrorIs(t, scred.PIDFD.Close(), os.ErrClosed)
			}
		})
	}
}

func acceptDial(t *testing.T, ln net.Listener, dial func() (net.Conn, error)) (client, server net.Conn) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	client, err := dial()
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	return client, r.c
}

// Connections that are not Unix stream sockets fail the handshake, on both
// sides, with an error that says what they are.
func TestHandshakeRefusesOthers(t *testing.T) {
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcpLn.Close()
	tcpClient, tcpServer := acceptDial(t, tcpLn, func() (net.Conn, error) { return net.Dial("tcp", tcpLn.Addr().String()) })
	defer tcpClient.Close()
	defer tcpServer.Close()
	pipeA, pipeB := net.Pipe()
	defer pipeA.Close()
	defer pipeB.Close()
	seqA, seqB, err := uds.Pair(uds.SeqPacket)
	require.NoError(t, err)
	defer seqA.Close()
	defer seqB.Close()

	for _, tc := range []struct {
		name string
		conn net.Conn
		want string
	}{
		{"tcp", tcpServer, `network "tcp"`},
		{"pipe", pipeA, "is not a Unix socket connection"},
		{"seqpacket", seqA, "seqpacket Unix socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, info, err := grpcuds.NewCredentials().ServerHandshake(tc.conn)
			assert.Nil(t, c)
			assert.Nil(t, info)
			require.ErrorContains(t, err, "grpcuds: server handshake: ")
			assert.ErrorContains(t, err, tc.want)
			_, _, err = grpcuds.NewCredentials().ClientHandshake(context.Background(), "localhost", tc.conn)
			require.ErrorContains(t, err, "grpcuds: client handshake: ")
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestInfoCloneOverride(t *testing.T) {
	c := grpcuds.NewCredentials()
	assert.Equal(t, "uds", c.Info().SecurityProtocol)
	clone := c.Clone()
	// OverrideServerName and ServerName are deprecated, and still part of
	// the interface.
	//lint:ignore SA1019 tested because the interface has it
	require.NoError(t, clone.OverrideServerName("svc"))
	//lint:ignore SA1019 tested because the interface has it
	assert.Equal(t, "svc", clone.Info().ServerName)
	//lint:ignore SA1019 tested because the interface has it
	assert.Empty(t, c.Info().ServerName, "the clone is a copy")
}

// A server without grpcuds credentials cannot identify callers: the
// interceptors refuse every call rather than let an unknown one through.
func TestInterceptorsWithoutCredentials(t *testing.T) {
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcuds.UnaryServerInterceptor(nil)),
		grpc.ChainStreamInterceptor(grpcuds.StreamServerInterceptor(nil)))
	healthpb.RegisterHealthServer(srv, newRecorder())
	target := startServer(t, srv)
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(cc)
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), "grpc.Creds(grpcuds.NewCredentials())")
	err = watchOnce(ctx, hc)
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
}

// The server-wide interceptors apply one policy to unary and stream calls.
func TestServerInterceptors(t *testing.T) {
	refuse := func(c *uds.Cred) error { return os.ErrPermission }
	for _, tc := range []struct {
		name   string
		policy func(*uds.Cred) error
		want   codes.Code
	}{
		{"same-user", uds.SameUser(), codes.OK},
		{"nil", nil, codes.OK},
		{"refuse", refuse, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := grpc.NewServer(grpc.Creds(grpcuds.NewCredentials()),
				grpc.ChainUnaryInterceptor(grpcuds.UnaryServerInterceptor(tc.policy)),
				grpc.ChainStreamInterceptor(grpcuds.StreamServerInterceptor(tc.policy)))
			healthpb.RegisterHealthServer(srv, newRecorder())
			target := startServer(t, srv)
			cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(t, err)
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hc := healthpb.NewHealthClient(cc)
			_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
			assert.Equal(t, tc.want, status.Code(err), "unary: %v", err)
			err = watchOnce(ctx, hc)
			assert.Equal(t, tc.want, status.Code(err), "stream: %v", err)
			if tc.want != codes.OK {
				assert.Equal(t, os.ErrPermission.Error(), status.Convert(err).Message(), "the policy's error text")
			}
		})
	}
}

// 10,000 calls over 100 kept-open connections, grpcuds credentials on both
// sides (so that each side holds a PIDFD per connection): descriptors and
// goroutines come back to their starting counts once the clients close and
// the server stops.
func TestNoLeaks(t *testing.T) {
	const conns, perConn = 100, 100
	// The run returns every Cred it saw, on both sides, and the test keeps
	// them reachable: a PIDFD the connection failed to close stays open
	// then, instead of being closed by its finalizer when the GC runs.
	run := func(t *testing.T, conns, perConn int) (kept []*uds.Cred) {
		rec := newRecorder()
		srv := grpc.NewServer(grpc.Creds(grpcuds.NewCredentials()),
			grpc.ChainUnaryInterceptor(grpcuds.UnaryServerInterceptor(uds.SameUser())))
		healthpb.RegisterHealthServer(srv, rec)
		path := filepath.Join(mkSockDir(t), "s.sock")
		ln, err := uds.Listen(context.Background(), uds.Path(path))
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()

		ccs := make([]*grpc.ClientConn, conns)
		for i := range ccs {
			ccs[i], err = grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(grpcuds.NewCredentials()))
			require.NoError(t, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		clientSide := make(chan *uds.Cred, conns)
		for _, cc := range ccs {
			wg.Go(func() {
				hc := healthpb.NewHealthClient(cc)
				var p peer.Peer
				for range perConn {
					if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true), grpc.Peer(&p)); err != nil {
						errs <- err
						return
					}
				}
				if cred, ok := grpcuds.PeerCred(peer.NewContext(ctx, &p)); ok {
					clientSide <- cred
				} else {
					errs <- errors.New("the client has no server credentials")
				}
			})
		}
		wg.Wait()
		close(errs)
		close(clientSide)
		for c := range clientSide {
			kept = append(kept, c)
		}
		for err := range errs {
			require.NoError(t, err)
		}
		got := rec.seen(os.Getpid())
		require.Len(t, got, conns*perConn)
		distinct := map[*uds.Cred]bool{}
		for _, s := range got {
			if !distinct[s.cred] {
				kept = append(kept, s.cred)
			}
			distinct[s.cred] = true
		}
		require.Len(t, distinct, conns, "one handshake per connection")
		if got[0].cred.PIDFD != nil {
			_, pidfds := openFDs(t)
			require.GreaterOrEqual(t, pidfds, 2*conns, "a PIDFD per connection on each side")
		}
		for _, cc := range ccs {
			require.NoError(t, cc.Close())
		}
		srv.Stop()
		require.NoError(t, <-done)
		return kept
	}
	// A first small round starts what gRPC starts once per process.
	kept := run(t, 2, 2)
	g0 := runtime.NumGoroutine()
	fd0, pidfd0 := openFDs(t)
	kept = append(kept, run(t, conns, perConn)...)
	require.Len(t, kept, 2+2+2*conns)
	settle(t, g0, fd0)
	_, pidfds := openFDs(t)
	assert.Equal(t, pidfd0, pidfds)
	runtime.KeepAlive(kept)
}

// The interceptor adds no allocation to a call it lets through.
func TestInterceptorAllocs(t *testing.T) {
	client, server, err := uds.Pair(uds.Stream)
	require.NoError(t, err)
	defer client.Close()
	conn, info, err := grpcuds.NewCredentials().ServerHandshake(server)
	require.NoError(t, err)
	defer conn.Close()
	ctx := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: info})
	in := grpcuds.UnaryServerInterceptor(uds.SameUser())
	si := &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := in(ctx, nil, si, handler); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 0.0)
}
