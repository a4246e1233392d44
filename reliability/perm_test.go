//go:build linux

package reliability_test

// Reliability area 4: permissions from the first instant, for stream and
// datagram sockets. A child running as another user connects to the path
// continuously, from before the socket file exists, while the parent
// creates and removes the socket over and over with a mode that forbids the
// child (under umasks that would make the default mode wider): the child
// never connects, and never even reaches a socket (ECONNREFUSED would mean it
// passed the permission check while the file's mode was still wider).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// args: path, stop file, "stream" or "datagram". Connects (and, for
// datagrams, also sends without connecting) as fast as it can until the
// stop file exists, then prints "RESULT <json>".
const roleRelPermProbe = "rel-perm-probe"

func init() { childproc.Register(roleRelPermProbe, childRelPermProbe) }

func childRelPermProbe(args []string) int {
	path, stop, typ := args[0], args[1], unix.SOCK_STREAM
	if args[2] == "datagram" {
		typ = unix.SOCK_DGRAM
	}
	sa := &unix.SockaddrUnix{Name: path}
	var r connectTally
	deadline := time.Now().Add(10 * time.Minute)
	fmt.Println(childproc.Ready, os.Getpid())
	for i := 0; ; i++ {
		if i%128 == 0 {
			if _, err := os.Stat(stop); err == nil || time.Now().After(deadline) {
				break
			}
		}
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			r.add(err)
			continue
		}
		r.Attempts++
		if typ == unix.SOCK_DGRAM && i%2 == 1 {
			// An unconnected send is checked the same way.
			err = unix.Sendto(fd, []byte("x"), 0, sa)
			if err == nil {
				r.Sent++
			}
		} else {
			err = unix.Connect(fd, sa)
		}
		unix.Close(fd)
		r.add(err)
	}
	b, _ := json.Marshal(r)
	fmt.Println("RESULT", string(b))
	return 0
}

// TestReliabilityPermissions: see the top of this file.
func TestReliabilityPermissions(t *testing.T) {
	testutil.RequireRoot(t)
	cycles := relSize(25, 1000)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	type tc struct {
		name  string
		lc    uds.ListenConfig
		umask int
		allow bool
	}
	cases := []tc{
		{"0600 umask 000", uds.ListenConfig{Mode: 0o600}, 0, false},
		{"0600 umask 022", uds.ListenConfig{Mode: 0o600}, 0o022, false},
		{"0660 group root umask 000", uds.ListenConfig{Mode: 0o660, Group: "0"}, 0, false},
		{"0600 owner 4242 group 4242 umask 000", uds.ListenConfig{Mode: 0o600, Owner: "4242", Group: "4242"}, 0, false},
		// The control: the same child connects when the mode lets it.
		{"0666 umask 077", uds.ListenConfig{Mode: 0o666}, 0o077, true},
	}
	var summary []string
	for _, typ := range []string{"stream", "datagram"} {
		for _, c := range cases {
			t.Run(typ+" "+c.name, func(t *testing.T) {
				dir := testutil.MkSockDir(t)
				require.NoError(t, os.Chmod(dir, 0o755))
				path := filepath.Join(dir, "s.sock")
				stop := filepath.Join(dir, "stop")
				child := childproc.Start(t, childproc.Options{Credential: nobody}, roleRelPermProbe, path, stop, typ)
				child.WaitReady()
				time.Sleep(20 * time.Millisecond) // the child is connecting to a missing path

				start := time.Now()
				for i := 0; i < cycles; i++ {
					old := syscall.Umask(c.umask)
					var closer interface{ Close() error }
					var err error
					if typ == "stream" {
						var ln *uds.Listener
						ln, err = c.lc.Listen(context.Background(), uds.Path(path))
						if err == nil {
							closer = ln
							go echoLoop(ln)
						}
					} else {
						var dc *uds.DatagramConn
						dc, err = c.lc.ListenDatagram(context.Background(), uds.Path(path))
						if err == nil {
							closer = dc
							go func() {
								buf := make([]byte, 16)
								for {
									if _, err := dc.Read(buf); err != nil {
										return
									}
								}
							}()
						}
					}
					syscall.Umask(old)
					require.NoError(t, err)
					fi, err := os.Lstat(path)
					require.NoError(t, err)
					require.Equal(t, c.lc.Mode, fi.Mode().Perm(), "socket file mode")
					time.Sleep(time.Duration(500+i%4*500) * time.Microsecond)
					require.NoError(t, closer.Close())
					time.Sleep(200 * time.Microsecond)
				}
				elapsed := time.Since(start)
				require.NoError(t, os.WriteFile(stop, nil, 0o644))
				l := child.Line(30 * time.Second)
				js, ok := strings.CutPrefix(l, "RESULT ")
				require.True(t, ok, "child said %q", l)
				var r connectTally
				require.NoError(t, json.Unmarshal([]byte(js), &r))
				require.Positive(t, r.ENOENT, "the child must have been connecting before the socket existed")
				assert.Empty(t, r.FirstOther, "unexpected connect errors")
				if c.allow {
					assert.Positive(t, r.OK, "uid 65534 must reach a %#o socket", c.lc.Mode)
				} else {
					assert.Positive(t, r.EACCES, "the child must have tried the existing socket")
					assert.Zero(t, r.OK, "uid 65534 reached a socket whose mode forbids it")
					assert.Zero(t, r.Refused, "uid 65534 got past the permission check of a socket whose mode forbids it")
				}
				summary = append(summary, fmt.Sprintf("%s %s: %d cycles in %v, child attempts %d: connected/sent %d, EACCES %d, ENOENT %d, ECONNREFUSED %d, EAGAIN %d",
					typ, c.name, cycles, elapsed.Round(time.Millisecond), r.Attempts, r.OK, r.EACCES, r.ENOENT, r.Refused, r.EAGAIN))
			})
		}
	}
	for _, s := range summary {
		relReport(t, "permissions", "%s", s)
	}
}
