package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
)

// ssSocketLine returns the line of "ss -x<flags>H" of the socket with inode
// ino, fields joined by one space, or "" if there is none.
func ssSocketLine(t *testing.T, flags string, ino uint64) string {
	t.Helper()
	out, err := exec.Command(requireTool(t, "ss"), "-x"+flags+"H").Output()
	require.NoError(t, err, "ss -x%sH", flags)
	want := strconv.FormatUint(ino, 10)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// u_dgr UNCONN 0 0 /tmp/udsX/d.sock 12345 * 0
		if len(f) >= 6 && f[5] == want {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// TestProbeDatagramLeavesStateUnchangedCLI runs "uds probe --type dgram" as a
// process of its own on live datagram sockets, of uds and of package net, at
// a path and at an abstract name. The probe must find them live and leave
// them as they were: a connect to a datagram socket turns it from UNCONN to
// ESTAB, and out of "ss -xl", for the rest of its life.
func TestProbeDatagramLeavesStateUnchangedCLI(t *testing.T) {
	requireTool(t, "ss")
	ctx := context.Background()
	dir := socketDir(t)
	type server struct {
		addr string
		conn syscall.Conn
	}
	cases := map[string]func(t *testing.T) server{
		"uds path": func(t *testing.T) server {
			p := filepath.Join(dir, "uds.sock")
			c, err := uds.ListenDatagram(ctx, uds.Path(p))
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			return server{p, c}
		},
		"uds abstract": func(t *testing.T) server {
			name := abstractName(t)
			c, err := uds.ListenDatagram(ctx, uds.Abstract(name))
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			return server{"@" + name, c}
		},
		"net path": func(t *testing.T) server {
			p := filepath.Join(dir, "net.sock")
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			return server{p, c}
		},
		"net abstract": func(t *testing.T) server {
			name := abstractName(t)
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@" + name, Net: "unixgram"})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			return server{"@" + name, c}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			var st unix.Stat_t
			require.NoError(t, unix.Fstat(fdOf(t, s.conn), &st))
			before := ssSocketLine(t, "a", st.Ino)
			require.NotEmpty(t, before, "ss -xa shows the server socket %d", st.Ino)
			require.Contains(t, before, " UNCONN ", "an unconnected datagram socket")
			require.NotEmpty(t, ssSocketLine(t, "l", st.Ino), "ss -xl lists the datagram server before the probe")

			for i := 0; i < 3; i++ {
				cmd := udsCommand(t, ctx, "probe", "--type", "dgram", s.addr)
				// Under -race the process would sleep a second at exit.
				cmd.Env = append(cmd.Env, strings.TrimSpace("GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0"))
				var stdout, stderr syncBuffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else {
					require.NoError(t, err)
				}
				assert.Equal(t, exitLive, code, "uds probe --type dgram %s: %s%s", s.addr, stdout.String(), stderr.String())
				assert.True(t, strings.HasPrefix(stdout.String(), "live"), "probe %d: %q", i, stdout.String())
			}
			assert.Equal(t, before, ssSocketLine(t, "a", st.Ino), "uds probe must leave the socket's state as it was")
			assert.NotEmpty(t, ssSocketLine(t, "l", st.Ino), "ss -xl still lists the datagram server after the probe")
		})
	}
}
