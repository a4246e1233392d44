//go:build linux

package grpcuds_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/udskit/uds"
	"github.com/udskit/uds/grpcuds"
)

// BenchmarkCheck compares a call over one kept-open connection to a plain
// server with the same call to a server with grpcuds credentials, then with
// a policy interceptor: the differences in allocs/op are what the identity
// plumbing adds per call (the credentials are read once per connection,
// and the interceptor allocates nothing; TestInterceptorAllocs checks it).
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []grpc.ServerOption
	}{
		{"plain", nil},
		{"credentials", []grpc.ServerOption{grpc.Creds(grpcuds.NewCredentials())}},
		// Any interceptor costs gRPC's generated handler two allocations
		// per call (the UnaryServerInfo and the handler closure), so the
		// comparison for the interceptor is with a no-op one.
		{"noop-interceptor", []grpc.ServerOption{grpc.Creds(grpcuds.NewCredentials()),
			grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				return h(ctx, req)
			})}},
		{"policy-interceptor", []grpc.ServerOption{grpc.Creds(grpcuds.NewCredentials()),
			grpc.ChainUnaryInterceptor(grpcuds.UnaryServerInterceptor(uds.SameUser()))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := grpc.NewServer(bc.opts...)
			hs := health.NewServer()
			hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			healthpb.RegisterHealthServer(srv, hs)
			target := startServer(b, srv)
			cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(b, err)
			defer cc.Close()
			hc := healthpb.NewHealthClient(cc)
			ctx := context.Background()
			req := &healthpb.HealthCheckRequest{}
			_, err = hc.Check(ctx, req, grpc.WaitForReady(true))
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := hc.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
