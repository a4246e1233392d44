package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/udskit/uds"
)

// startServer serves the health service on addrs and stops it at the end
// of the test. It returns the server's log.
func startServer(t *testing.T, addrs ...uds.Addr) *syncBuffer {
	t.Helper()
	logs := new(syncBuffer)
	srv, lns, err := listen(context.Background(), log.New(logs, "", 0), addrs...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(srv, lns) }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not return after Stop")
		}
	})
	return logs
}

// syncBuffer is a bytes.Buffer that the server's goroutines may write while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkHealth reaches the server at target with a stock gRPC client.
func checkHealth(t *testing.T, target string) {
	t.Helper()
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%q): %v", target, err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("health check over %q: %v", target, err)
	}
	if got := resp.GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check over %q: status %v, want SERVING", target, got)
	}
}

func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds-grpc") // short: t.TempDir can pass 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestHealthOverUDS(t *testing.T) {
	path := filepath.Join(sockDir(t), "health.sock")
	name := fmt.Sprintf("uds-grpc-example-%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, tc := range []struct {
		kind   string
		addr   uds.Addr
		target string
	}{
		{"path", uds.Path(path), "unix://" + path},
		{"abstract", uds.Abstract(name), "unix-abstract:" + name},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if got := Target(tc.addr); got != tc.target {
				t.Errorf("Target(%v) = %q, want %q", tc.addr, got, tc.target)
			}
			startServer(t, tc.addr)
			checkHealth(t, tc.target)
			// gRPC also accepts "unix:" with the absolute path and no "//".
			if tc.addr.Kind() == uds.KindPath {
				checkHealth(t, "unix:"+path)
			}
		})
	}
	// Stop closed the listener, which removed the socket file it created.
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after the server stopped: %v", err)
	}
}

// One server on both sockets at once, as main runs it.
func TestHealthBothSockets(t *testing.T) {
	path := filepath.Join(sockDir(t), "both.sock")
	name := fmt.Sprintf("uds-grpc-both-%d-%d", os.Getpid(), time.Now().UnixNano())
	startServer(t, uds.Path(path), uds.Abstract(name))
	checkHealth(t, "unix://"+path)
	checkHealth(t, "unix-abstract:"+name)
}

// Each call is logged with its caller's PID, command and user, though the
// client is a stock one with insecure credentials.
func TestLogsCaller(t *testing.T) {
	path := filepath.Join(sockDir(t), "log.sock")
	logs := startServer(t, uds.Path(path))
	checkHealth(t, "unix://"+path)
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skipf("no /proc/self/comm to compare with: %v", err)
	}
	want := fmt.Sprintf("/grpc.health.v1.Health/Check from pid %d (%s), uid %d gid %d\n",
		os.Getpid(), strings.TrimSpace(string(comm)), os.Geteuid(), os.Getegid())
	if got := logs.String(); !strings.Contains(got, want) {
		t.Errorf("the server's log has no line %q; it has:\n%s", want, got)
	}
}

// uds.ParseAddr reads gRPC's target strings as the addresses they name.
func TestParseAddrAcceptsGRPCTargets(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   uds.Addr
	}{
		{"unix:///run/app/grpc.sock", uds.Path("/run/app/grpc.sock")},
		{"unix:/run/app/grpc.sock", uds.Path("/run/app/grpc.sock")},
		{"unix:relative/grpc.sock", uds.Path("relative/grpc.sock")},
		{"unix-abstract:grpc-health", uds.Abstract("grpc-health")},
		{"unix-abstract:with/slash@and:colon", uds.Abstract("with/slash@and:colon")},
	} {
		got, err := uds.ParseAddr(tc.target)
		if err != nil {
			t.Errorf("ParseAddr(%q): %v", tc.target, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseAddr(%q) = %v (%v), want %v (%v)", tc.target, got, got.Kind(), tc.want, tc.want.Kind())
		}
	}
	// And a Target made from an address parses back to it.
	for _, a := range []uds.Addr{uds.Path("/tmp/x.sock"), uds.Path("rel/x.sock"), uds.Abstract("x")} {
		got, err := uds.ParseAddr(Target(a))
		if err != nil || got != a {
			t.Errorf("ParseAddr(Target(%v)) = %v, %v; want %v", a, got, err, a)
		}
	}
}
