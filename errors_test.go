//go:build linux

package uds_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// Bad input gives a clear *net.OpError and touches nothing on disk.
func TestBadInput(t *testing.T) {
	long108 := strings.Repeat("n", 108)
	var b strings.Builder
	for b.Len() < 4200 {
		b.WriteString("/" + strings.Repeat("d", 40))
	}
	overPathMax := b.String()

	listenOp := func(a uds.Addr) func(context.Context) error {
		return func(ctx context.Context) error { _, err := uds.Listen(ctx, a); return err }
	}
	dialOp := func(a uds.Addr) func(context.Context) error {
		return func(ctx context.Context) error { _, err := uds.Dial(ctx, a); return err }
	}
	dialFromOp := func(local, a uds.Addr) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := (&uds.Dialer{LocalAddr: local}).Dial(ctx, a)
			return err
		}
	}
	probeOp := func(a uds.Addr) func(context.Context) error {
		return func(ctx context.Context) error {
			r, err := diag.Probe(ctx, a)
			if err == nil {
				t.Logf("Probe(%v) = %+v", a, r)
			}
			return err
		}
	}

	tests := []struct {
		name string
		op   string                                       // the OpError's Op
		run  func(dir string) func(context.Context) error // the call, given the test's directory
		is   []error                                      // errors.Is targets
		msg  []string                                     // substrings of the message; %d is the offset of the NUL after dir + "/a"
		prep func(t *testing.T, dir string)
	}{
		{name: "listen empty path", op: "listen", run: func(string) func(context.Context) error { return listenOp(uds.Path("")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"empty path"}},
		{name: "dial empty path", op: "dial", run: func(string) func(context.Context) error { return dialOp(uds.Path("")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"empty path"}},
		{name: "probe empty path", op: "probe", run: func(string) func(context.Context) error { return probeOp(uds.Path("")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"empty path"}},

		{name: "listen NUL in path", op: "listen", run: func(dir string) func(context.Context) error { return listenOp(uds.Path(dir + "/a\x00b.sock")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"NUL byte at offset %d"}},
		{name: "dial NUL in path", op: "dial", run: func(dir string) func(context.Context) error { return dialOp(uds.Path(dir + "/a\x00b.sock")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"NUL byte at offset %d"}},
		{name: "probe NUL in path", op: "probe", run: func(dir string) func(context.Context) error { return probeOp(uds.Path(dir + "/a\x00b.sock")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"NUL byte at offset %d"}},
		{name: "dial from NUL in local path", op: "dial", run: func(dir string) func(context.Context) error {
			return dialFromOp(uds.Path(dir+"/a\x00b.sock"), uds.Abstract(uniqTag()))
		}, is: []error{uds.ErrInvalidAddr}, msg: []string{"NUL byte at offset %d"}},

		{name: "listen abstract 108 bytes", op: "listen", run: func(string) func(context.Context) error { return listenOp(uds.Abstract(long108)) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"108 bytes", "limit of 107"}},
		{name: "dial abstract 108 bytes", op: "dial", run: func(string) func(context.Context) error { return dialOp(uds.Abstract(long108)) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"108 bytes", "limit of 107"}},
		{name: "probe abstract 108 bytes", op: "probe", run: func(string) func(context.Context) error { return probeOp(uds.Abstract(long108)) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"108 bytes", "limit of 107"}},
		{name: "dial from abstract 108 bytes", op: "dial", run: func(string) func(context.Context) error {
			return dialFromOp(uds.Abstract(long108), uds.Abstract(uniqTag()))
		}, is: []error{uds.ErrInvalidAddr}, msg: []string{"108 bytes", "limit of 107"}},

		{name: "listen path over PATH_MAX", op: "listen", run: func(string) func(context.Context) error { return listenOp(uds.Path(overPathMax)) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{strconv.Itoa(len(overPathMax)) + " bytes", "4095"}},

		{name: "listen missing directory", op: "listen", run: func(dir string) func(context.Context) error { return listenOp(uds.Path(dir + "/nodir/x.sock")) },
			is: []error{syscall.ENOENT, os.ErrNotExist}, msg: []string{"nodir", "no such file or directory"}},
		{name: "dial missing directory", op: "dial", run: func(dir string) func(context.Context) error { return dialOp(uds.Path(dir + "/nodir/x.sock")) },
			is: []error{syscall.ENOENT}, msg: []string{"nodir", "no such file or directory"}},
		{name: "dial from missing directory", op: "dial", run: func(dir string) func(context.Context) error {
			return dialFromOp(uds.Path(dir+"/nodir/c.sock"), uds.Abstract(uniqTag()))
		}, is: []error{syscall.ENOENT}, msg: []string{"nodir", "no such file or directory"}},

		{name: "listen path ending in slash", op: "listen", run: func(dir string) func(context.Context) error { return listenOp(uds.Path(dir + "/x.sock/")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"does not end in a file name"}},
		{name: "listen existing directory with slash", op: "listen", run: func(dir string) func(context.Context) error { return listenOp(uds.Path(dir + "/sub/")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"does not end in a file name"}, prep: mkSub},
		{name: "dial path ending in slash", op: "dial", run: func(dir string) func(context.Context) error { return dialOp(uds.Path(dir + "/x.sock/")) },
			is: []error{syscall.ENOENT}, msg: []string{"no such file or directory"}},
		// Probe must not call a directory "missing" because the path ends in
		// a slash (see the report: probe_linux.go, probe).
		{name: "probe existing directory with slash", op: "probe", run: func(dir string) func(context.Context) error { return probeOp(uds.Path(dir + "/sub/")) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"does not end in a file name"}, prep: mkSub},

		{name: "probe Unnamed", op: "probe", run: func(string) func(context.Context) error { return probeOp(uds.Unnamed()) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"unnamed address names no socket"}},
		{name: "probe Autobind", op: "probe", run: func(string) func(context.Context) error { return probeOp(uds.Autobind()) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"autobind names no socket"}},
		{name: "listen Unnamed", op: "listen", run: func(string) func(context.Context) error { return listenOp(uds.Unnamed()) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"unnamed address names no socket"}},
		{name: "dial Unnamed", op: "dial", run: func(string) func(context.Context) error { return dialOp(uds.Unnamed()) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"unnamed address names no socket"}},
		{name: "dial Autobind", op: "dial", run: func(string) func(context.Context) error { return dialOp(uds.Autobind()) },
			is: []error{uds.ErrInvalidAddr}, msg: []string{"autobind is a request for a local name"}},

		{name: "listen on a regular file", op: "listen", run: func(dir string) func(context.Context) error { return listenOp(uds.Path(dir + "/file")) },
			is: []error{uds.ErrNotSocket}, msg: []string{"regular file", "nothing was removed"},
			prep: func(t *testing.T, dir string) { require.NoError(t, os.WriteFile(dir+"/file", []byte("data"), 0o644)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mkSockDir(t)
			if tt.prep != nil {
				tt.prep(t, dir)
			}
			before := dirListing(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()

			err := tt.run(dir)(ctx)
			require.Error(t, err)
			var oe *net.OpError
			if assert.ErrorAs(t, err, &oe, "%T: %v", err, err) {
				assert.Equal(t, tt.op, oe.Op)
			}
			for _, target := range tt.is {
				assert.ErrorIs(t, err, target)
			}
			for _, m := range tt.msg {
				m = strings.ReplaceAll(m, "%d", strconv.Itoa(len(dir)+2))
				assert.Contains(t, err.Error(), m)
			}
			assert.Equal(t, before, dirListing(t, dir), "nothing created or removed")
			if tt.prep != nil && strings.Contains(tt.name, "directory") {
				assert.Empty(t, dirListing(t, filepath.Join(dir, "sub")))
			}
		})
	}
}

func mkSub(t *testing.T, dir string) {
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
}
