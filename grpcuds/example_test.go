//go:build linux || darwin || freebsd

package grpcuds_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/udskit/uds"
	"github.com/udskit/uds/grpcuds"
)

// A gRPC server that knows who calls: its handshake reads each client's
// credentials from the kernel, an interceptor logs the caller of every call,
// and a policy lets only this user's processes through. The client is a
// stock one, with insecure credentials.
func ExampleNewCredentials() {
	dir, err := os.MkdirTemp("", "grpcuds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api.sock")
	ln, err := uds.Listen(context.Background(), uds.Path(path))
	if err != nil {
		log.Fatal(err)
	}

	logCaller := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if c, ok := grpcuds.PeerCred(ctx); ok {
			// In a server: log.Printf("%s from pid %d uid %d", info.FullMethod, c.PID, c.UID)
			fmt.Printf("%s from this process: %v, this user: %v\n", info.FullMethod, c.PID == os.Getpid(), c.UID == os.Geteuid())
		}
		return h(ctx, req)
	}
	srv := grpc.NewServer(
		grpc.Creds(grpcuds.NewCredentials()),
		grpc.ChainUnaryInterceptor(grpcuds.UnaryServerInterceptor(uds.SameUser()), logCaller),
		grpc.ChainStreamInterceptor(grpcuds.StreamServerInterceptor(uds.SameUser())),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus())
	// Output:
	// /grpc.health.v1.Health/Check from this process: true, this user: true
	// SERVING
}

// A client learns who serves the socket: with grpcuds credentials on the
// client side, the server's credentials come in the call's peer.Peer.
func ExampleAuthInfo() {
	dir, err := os.MkdirTemp("", "grpcuds-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api.sock")
	ln, err := uds.Listen(context.Background(), uds.Path(path))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(grpcuds.NewCredentials()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(grpcuds.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	var p peer.Peer
	_, err = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		log.Fatal(err)
	}
	server := p.AuthInfo.(grpcuds.AuthInfo)
	fmt.Println(server.AuthType(), server.SecurityLevel)
	fmt.Println("served by this process:", server.Cred.PID == os.Getpid())
	if server.Cred.UID != os.Geteuid() {
		log.Fatalf("the server runs as uid %d, not as this user", server.Cred.UID)
	}
	// Output:
	// uds PrivacyAndIntegrity
	// served by this process: true
}
