//go:build linux

package grpcuds_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/udskit/uds"
	"github.com/udskit/uds/grpcuds"
	// The root module's test helper: importable here because the import
	// path of this module lies under github.com/udskit/uds.
	"github.com/udskit/uds/internal/childproc"
)

func TestMain(m *testing.M) { childproc.Main(m) }

func init() { childproc.Register("grpc-client", grpcClientRole) }

// clientReport is what the grpc-client role prints after READY.
type clientReport struct {
	UID, GID, PID int // the child's own, from the system calls

	// Codes of the calls over the connection with insecure credentials
	// and over the one with grpcuds credentials: "OK" or a code name, and
	// the messages of the failures.
	Insecure, UDS callResults

	// Server is the server's identity as the grpcuds client learned it.
	Server struct{ PID, UID, GID int }
	// AuthType and SecurityLevel of the grpcuds connection, client side.
	AuthType, SecurityLevel string
}

type callResults struct {
	Checks        []string // each Check's code
	List, Watch   string   // the codes of the two root-only methods
	ListMsg       string
	WatchMsg      string
	CheckFailures []string
}

// grpcClientRole calls the health service at args[0] args[1] times over one
// connection with stock insecure credentials, then over one with grpcuds
// credentials, each time followed by List and Watch, and prints what it
// saw.
func grpcClientRole(args []string) int {
	target := args[0]
	n, _ := strconv.Atoi(args[1])
	rep := clientReport{UID: os.Getuid(), GID: os.Getgid(), PID: os.Getpid()}
	for _, side := range []struct {
		creds credentials.TransportCredentials
		out   *callResults
	}{
		{insecure.NewCredentials(), &rep.Insecure},
		{grpcuds.NewCredentials(), &rep.UDS},
	} {
		cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(side.creds))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		hc := healthpb.NewHealthClient(cc)
		var p peer.Peer
		for range n {
			_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true), grpc.Peer(&p))
			side.out.Checks = append(side.out.Checks, status.Code(err).String())
			if err != nil {
				side.out.CheckFailures = append(side.out.CheckFailures, err.Error())
			}
		}
		if ai, ok := p.AuthInfo.(grpcuds.AuthInfo); ok {
			rep.Server.PID, rep.Server.UID, rep.Server.GID = ai.Cred.PID, ai.Cred.UID, ai.Cred.GID
			rep.AuthType = ai.AuthType()
			rep.SecurityLevel = ai.SecurityLevel.String()
		}
		_, err = hc.List(ctx, &healthpb.HealthListRequest{})
		side.out.List = status.Code(err).String()
		if err != nil {
			side.out.ListMsg = status.Convert(err).Message()
		}
		err = watchOnce(ctx, hc)
		side.out.Watch = status.Code(err).String()
		if err != nil {
			side.out.WatchMsg = status.Convert(err).Message()
		}
		cancel()
		cc.Close()
	}
	enc, _ := json.Marshal(rep)
	fmt.Println(childproc.Ready, string(enc))
	return 0
}

// watchOnce opens the Watch stream and receives its first message.
func watchOnce(ctx context.Context, hc healthpb.HealthClient) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	_, err = st.Recv()
	return err
}

// seen is one Check as its handler saw it.
type seen struct {
	cred     *uds.Cred
	pidfdPID int // the PID the PIDFD refers to (its fdinfo), -1 without one
}

// recorder is the health service with a Check that records its caller's
// credentials.
type recorder struct {
	*health.Server
	mu     sync.Mutex
	calls  map[int][]seen // by PID
	nocred int
}

func newRecorder() *recorder {
	r := &recorder{Server: health.NewServer(), calls: map[int][]seen{}}
	r.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	return r
}

func (r *recorder) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	cred, ok := grpcuds.PeerCred(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.nocred++
	} else {
		r.calls[cred.PID] = append(r.calls[cred.PID], seen{cred, pidfdPID(cred)})
	}
	return r.Server.Check(ctx, req)
}

func (r *recorder) seen(pid int) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.calls[pid]...)
}

// pidfdPID reads the PID a Cred's PIDFD refers to from its fdinfo, through
// SyscallConn so that the descriptor stays open while it is read; -1
// without a PIDFD or when it is closed.
func pidfdPID(c *uds.Cred) int {
	if c.PIDFD == nil {
		return -1
	}
	rc, err := c.PIDFD.SyscallConn()
	if err != nil {
		return -1
	}
	pid := -1
	_ = rc.Control(func(fd uintptr) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
		if err != nil {
			return
		}
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "Pid:"); ok {
				pid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	})
	return pid
}

// mkSockDir returns a new short directory that every user can enter,
// removed after the test.
func mkSockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "grpcuds")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServer serves srv on a new pathname socket that every user may
// connect to, and returns gRPC's target for it. The server stops at the end
// of the test.
func startServer(t testing.TB, srv *grpc.Server) string {
	t.Helper()
	path := filepath.Join(mkSockDir(t), "s.sock")
	lc := uds.ListenConfig{Mode: 0o666}
	ln, err := lc.Listen(context.Background(), uds.Path(path))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Stop")
		}
	})
	return "unix://" + path
}

// openFDs returns this process's open descriptors and how many of them are
// pidfds.
func openFDs(t testing.TB) (all, pidfds int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == "anon_inode:[pidfd]" {
			pidfds++
		}
	}
	return len(ents) - 1, pidfds // less the one ReadDir had open
}

// settle waits for the goroutine and descriptor counts to come back to
// want, and fails with both counts (and the goroutines) if they do not.
func settle(t testing.TB, wantG, wantFD int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := runtime.NumGoroutine()
		fd, _ := openFDs(t)
		if g <= wantG && fd <= wantFD {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("after the server stopped: %d goroutines (started with %d), %d descriptors (started with %d)\n%s", g, wantG, fd, wantFD, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
