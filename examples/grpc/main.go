// Command grpc serves gRPC on Unix domain sockets opened with uds: a
// pathname socket and an abstract one, both reached by stock gRPC clients
// with the targets "unix:///path" and "unix-abstract:name".
//
//	go run . -path /tmp/health.sock -abstract health-demo
//	grpcurl -plaintext -unix /tmp/health.sock grpc.health.v1.Health/Check
//
// Each call is logged with its caller's PID, command name and user, which
// the server learns from the kernel through grpcuds's transport
// credentials: stock clients (grpcurl, grpc.NewClient with insecure
// credentials) need no change to be identified.
//
//	2026/05/01 12:00:00 /grpc.health.v1.Health/Check from pid 4242 (grpcurl), uid 1000 gid 1000
//
// It uses gRPC's health service, so no generated code is needed. This is a
// module of its own, so that the uds library does not depend on gRPC.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/udskit/uds"
	"github.com/udskit/uds/grpcuds"
)

func main() {
	path := flag.String("path", "", "serve on this pathname socket (mode 0600)")
	abstract := flag.String("abstract", "", "serve on this abstract socket name (same-user peers only)")
	flag.Parse()
	var addrs []uds.Addr
	if *path != "" {
		addrs = append(addrs, uds.Path(*path))
	}
	if *abstract != "" {
		addrs = append(addrs, uds.Abstract(*abstract))
	}
	if len(addrs) == 0 {
		log.Fatal("give -path, -abstract or both")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, lns, err := listen(ctx, log.Default(), addrs...)
	if err != nil {
		log.Fatal(err)
	}
	for _, ln := range lns {
		log.Printf("serving gRPC on %s (target %s)", ln.Addr(), Target(ln.Addr().(uds.Addr)))
	}
	go func() {
		<-ctx.Done()
		srv.GracefulStop() // closes the listeners, which removes the socket file
	}()
	if err := serve(srv, lns); err != nil {
		log.Fatal(err)
	}
}

// listen opens a uds listener on each address and returns a gRPC server
// with the health service, reporting SERVING, for them. The server logs
// every call, and who made it, to logger.
//
// Pathname sockets are created 0600 (no window in which another user could
// connect), and a stale socket file left by a crashed server is reclaimed
// while a live server's is never touched. Abstract sockets have no
// permissions, so every connection's credentials are checked in Accept:
// only this user's processes get through, and grpc.Server.Serve never sees
// the others.
func listen(ctx context.Context, logger *log.Logger, addrs ...uds.Addr) (*grpc.Server, []net.Listener, error) {
	lc := uds.ListenConfig{Mode: 0o600, Authorize: uds.SameUser()}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := lc.Listen(ctx, a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, nil, err
		}
		lns = append(lns, ln)
	}
	srv := grpc.NewServer(
		// The handshake reads each connection's peer credentials once;
		// every call on the connection finds them in its context.
		grpc.Creds(grpcuds.NewCredentials()),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			logCall(ctx, logger, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			logCall(ss.Context(), logger, info.FullMethod)
			return h(srv, ss)
		}),
	)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	return srv, lns, nil
}

// logCall logs a call of method and its caller's PID, command and user.
func logCall(ctx context.Context, logger *log.Logger, method string) {
	c, ok := grpcuds.PeerCred(ctx)
	if !ok {
		logger.Printf("%s from an unidentified caller", method)
		return
	}
	logger.Printf("%s from pid %d (%s), uid %d gid %d", method, c.PID, command(c), c.UID, c.GID)
}

// serve runs srv on every listener until srv stops.
func serve(srv *grpc.Server, lns []net.Listener) error {
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) && first == nil {
			first = err
		}
	}
	return first
}

// Target returns gRPC's target string for a uds address: "unix:///abs/path"
// (or "unix:rel/path") for a path, "unix-abstract:name" for an abstract
// name. uds.ParseAddr reads both forms back to the same address.
func Target(a uds.Addr) string {
	switch a.Kind() {
	case uds.KindAbstract:
		return "unix-abstract:" + a.Name()
	case uds.KindPath:
		if len(a.Name()) > 0 && a.Name()[0] == '/' {
			return "unix://" + a.Name()
		}
		return "unix:" + a.Name()
	}
	return ""
}
