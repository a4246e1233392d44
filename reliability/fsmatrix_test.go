//go:build linux

package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// TestFilesystemMatrix checks stale-path safety on the file systems servers
// actually put their sockets on. Two of them report a socket file's identity
// differently through stat and through sock_diag:
//
//   - btrfs: stat's st_dev inside a subvolume is the subvolume's anonymous
//     device, while sock_diag reports the superblock's device;
//   - XFS (inode64): inode numbers go above 2^32, and sock_diag reports only
//     the low 32 bits.
//
// A library that compares the two naively takes a foreign socket that is
// bound but not listening for a stale one and removes it, and cannot find
// the file its own bind created (without CAP_NET_ADMIN, that is every
// Listen). ext4, tmpfs and overlayfs (as containers use it) complete the
// matrix.
//
// Each file system is mounted (loop devices for the disk ones) in the test's
// temporary directory, and every case runs twice: in this process as root,
// and in a child running as uid 65534 (an "agent" that takes commands on a
// pipe). Foreign sockets are held by other agent processes (root, and uid
// 65534 for the uid 65534 runs), stale ones are left by a uds server killed
// with SIGKILL. Each file system and user ends with a FSMATRIX line.
func TestFilesystemMatrix(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tool := range []string{"mount", "umount"} {
		requireTool(t, tool)
	}
	start := time.Now()

	work := t.TempDir()
	// Children running as uid 65534 must be able to walk down to the
	// socket directories; go test makes its temporary directories 0700.
	for _, d := range []string{filepath.Dir(work), work} {
		require.NoError(t, os.Chmod(d, 0o755))
	}

	var (
		mu      sync.Mutex
		summary []string
	)
	report := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		summary = append(summary, line)
	}

	for _, fs := range fsmFileSystems() {
		t.Run(fs.name, func(t *testing.T) {
			ran := false
			defer func() {
				switch {
				case t.Skipped():
					report(fmt.Sprintf("FSMATRIX %s: skipped (the reason is in its log)", fs.name))
				case !ran && t.Failed():
					report(fmt.Sprintf("FSMATRIX %s: setup FAILED (see its log)", fs.name))
				}
			}()
			fsmRequireKernelFS(t, fs.kernel...)
			for _, tool := range fs.tools {
				requireTool(t, tool)
			}
			fsWork := filepath.Join(work, fs.name)
			require.NoError(t, os.Mkdir(fsWork, 0o755))
			sockDir := fs.setup(t, fsWork)

			// The processes that hold the foreign sockets, and the uid 65534
			// prober. Started after the mount, so they are gone before it is
			// unmounted.
			nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
			rootHolder := fsmStartAgent(t, "root holder", nil)
			nobodyHolder := fsmStartAgent(t, "uid 65534 holder", nobody)
			nobodyProber := fsmStartAgent(t, "uid 65534 prober", nobody)

			users := []fsmUser{
				{name: "uid=0", tag: "root", prober: fsmProber{}, holder: rootHolder},
				{name: "uid=65534", tag: "nobody", cred: nobody, prober: fsmProber{agent: nobodyProber}, holder: nobodyHolder, rootHolder: rootHolder},
			}
			ran = true
			for _, u := range users {
				t.Run(u.name, func(t *testing.T) {
					line := fsmRunCases(t, fs, u, sockDir)
					line = fmt.Sprintf("FSMATRIX %s %s: %s", fs.name, u.name, line)
					t.Log(line)
					report(line)
				})
			}
		})
	}
	t.Logf("file system matrix (%v):\n%s", time.Since(start).Round(100*time.Millisecond), strings.Join(summary, "\n"))
}

// ---- the cases --------------------------------------------------------------

// fsmUser is one run of the cases: who probes and listens, and who holds
// the foreign sockets.
type fsmUser struct {
	name       string              // "uid=0", "uid=65534"
	tag        string              // in socket file names
	cred       *syscall.Credential // nil for root
	prober     fsmProber
	holder     *fsmAgent // a process of the same user holding foreign sockets
	rootHolder *fsmAgent // for the uid 65534 run: a root process holding a 0755 socket
}

// fsmNotes collects, for the summary line, what went wrong in one case.
type fsmNotes struct{ list []string }

// check records note unless ok, and returns ok.
func (n *fsmNotes) check(ok bool, note string) bool {
	if !ok {
		n.list = append(n.list, note)
	}
	return ok
}

// fsmRunCases runs every case for one file system and user and returns the
// summary.
func fsmRunCases(t *testing.T, fs fsmFS, u fsmUser, dir string) string {
	var parts []string
	outcome := func(label, good string, ok bool, n *fsmNotes) {
		switch {
		case ok:
			parts = append(parts, label+" "+good)
		case len(n.list) == 0:
			parts = append(parts, label+" FAILED")
		default:
			parts = append(parts, label+" FAILED ("+strings.Join(n.list, "; ")+")")
		}
	}

	var lc fsmNotes
	allOK := true
	for _, typ := range []string{"stream", "dgram", "seqpacket"} {
		allOK = t.Run("listen+close/"+typ, func(t *testing.T) { fsmCaseListenClose(t, fs, u, dir, typ, &lc) }) && allOK
	}
	outcome("listen+close", "ok", allOK, &lc)

	// The holder's PID can be learnt for holders of the same user (from
	// SO_PEERCRED, or sock_diag and /proc/PID/fd), not for root's sockets
	// when probing as uid 65534: there it must be the holder's or 0.
	foreign := func(label, name string, holder *fsmAgent, hold fsmReq, wantPID, allowUnverified bool) {
		var n fsmNotes
		ok := t.Run(label, func(t *testing.T) {
			fsmCaseForeign(t, fs, u, holder, dir, name, hold, wantPID, allowUnverified, &n)
		})
		outcome(label, "kept", ok, &n)
	}
	foreign("foreign-bound", "bound", u.holder, fsmReq{Type: "stream"}, true, false)
	if u.rootHolder != nil {
		foreign("foreign-bound-root-0755", "rootbound", u.rootHolder, fsmReq{Type: "stream", Mode: 0o755}, false, true)
	}
	foreign("foreign-listener", "listener", u.holder, fsmReq{Type: "stream", Listen: true}, true, false)
	foreign("foreign-dgram", "dgram", u.holder, fsmReq{Type: "dgram"}, true, false)

	var sn fsmNotes
	ok := t.Run("stale", func(t *testing.T) { fsmCaseStale(t, fs, u, dir, &sn) })
	outcome("stale", "reclaimed", ok, &sn)
	return strings.Join(parts, ", ")
}

// fsmShortErr is the gist of a listen error for the summary: the
// InUseError's How up to its first comma, or the error's last part.
func fsmShortErr(r fsmRes) string {
	s := r.Err
	if r.How != "" {
		s = r.How
	} else if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	if i := strings.IndexAny(s, ",;"); i >= 0 {
		s = s[:i]
	}
	return s
}

// fsmCheckFile checks that the pinned file is still at its path, and notes
// whether it was removed or replaced.
func fsmCheckFile(t *testing.T, id fileID, n *fsmNotes) {
	t.Helper()
	if assertSameFile(t, id) {
		return
	}
	if _, err := os.Lstat(id.path); errors.Is(err, os.ErrNotExist) {
		n.check(false, "socket file removed")
	} else {
		n.check(false, "socket file replaced")
	}
}

// Case 1: Listen on an empty path, a client exchanges a byte, Close removes
// the socket file and the lock file.
func fsmCaseListenClose(t *testing.T, fs fsmFS, u fsmUser, dir, typ string, n *fsmNotes) {
	path := filepath.Join(dir, u.tag+"-lc-"+typ+".sock")
	r := u.prober.do(t, fsmReq{Op: "listen", Path: path, Type: typ})
	n.check(r.OK, typ+": "+fsmShortErr(r))
	require.Truef(t, r.OK, "%s, %s: listening (%s) on an empty path must succeed: %s", fs.name, u.name, typ, r.Err)
	n.check(assert.Emptyf(t, r.Exchange, "a client must reach the %s listener and exchange a byte", typ), typ+": exchange failed")
	n.check(assert.Emptyf(t, r.CloseErr, "Close of the %s listener", typ), typ+": Close failed")
	if fs.bigIno {
		assert.Greaterf(t, r.Ino, fsmBigIno, "the socket file's inode must be above 2^32 on this XFS")
	}
	n.check(assertNotExist(t, path), typ+": socket file left")
	n.check(assertNotExist(t, path+".lock"), typ+": lock file left")
}

// Cases 2 to 4: a socket of another process (bound, listening, a datagram
// socket) at the path. Probe says live, Listen fails with ErrInUse (or, when
// the file cannot be connected to by this user, ErrUnverified), and the file
// is the same one afterwards.
func fsmCaseForeign(t *testing.T, fs fsmFS, u fsmUser, holder *fsmAgent, dir, name string, hold fsmReq, wantPID, allowUnverified bool, n *fsmNotes) {
	path := filepath.Join(dir, u.tag+"-"+name+".sock")
	hold.Op, hold.Path = "hold", path
	h := holder.do(t, hold)
	require.Truef(t, h.OK, "the foreign holder (pid %d, uid %d) must bind %s: %s", h.PID, h.UID, path, h.Err)
	what := fmt.Sprintf("%s socket of process %d (uid %d, listening %v)", hold.Type, h.PID, h.UID, hold.Listen)
	if fs.bigIno {
		assert.Greaterf(t, h.Ino, fsmBigIno, "the foreign socket file's inode must be above 2^32 on this XFS")
	}
	id := pinFile(t, path)
	require.Equal(t, h.Ino, id.ino, "the file at the path must be the holder's")
	if hold.Mode != 0 {
		require.Equal(t, os.FileMode(hold.Mode), id.mode.Perm(), "the holder's socket file mode")
	}

	pr := u.prober.do(t, fsmReq{Op: "probe", Path: path})
	if n.check(assert.Truef(t, pr.OK, "Probe of a foreign %s: %s", what, pr.Err), "Probe failed: "+fsmShortErr(pr)) &&
		n.check(assert.Equalf(t, diag.ProbeLive.String(), pr.State, "Probe of a foreign %s: %+v", what, pr), "Probe said "+pr.State) {
		fsmCheckPID(t, "Probe", pr.HolderPID, h.PID, wantPID, n)
	}
	fsmCheckFile(t, id, n)

	lr := u.prober.do(t, fsmReq{Op: "listen", Path: path, Type: "stream"})
	if n.check(assert.Falsef(t, lr.OK, "Listen on the path of a foreign %s succeeded: the foreign socket file was removed", what), "Listen succeeded") {
		assert.Truef(t, lr.OpError, "the error must be a *net.OpError: %s", lr.Err)
		if allowUnverified {
			n.check(assert.Truef(t, lr.InUse || lr.Unverified, "errors.Is(err, uds.ErrInUse) or uds.ErrUnverified must hold: %s", lr.Err),
				"Listen error neither ErrInUse nor ErrUnverified")
		} else {
			n.check(assert.Truef(t, lr.InUse, "errors.Is(err, uds.ErrInUse) must hold: %s", lr.Err), "Listen error not ErrInUse")
		}
		if lr.InUse {
			fsmCheckPID(t, "InUseError", lr.HolderPID, h.PID, wantPID, n)
		}
		t.Logf("%s, %s, foreign %s: %s", fs.name, u.name, what, lr.Err)
	}
	fsmCheckFile(t, id, n)
	n.check(assertNotExist(t, path+".lock"), "lock file left") // a failed Listen leaves no lock file behind

	if hold.Listen {
		// The foreign server still serves its path.
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
		n.check(assert.NoError(t, err, "the foreign listener must still accept connections at %s", path), "foreign listener unreachable")
	}
}

// fsmCheckPID checks a reported holder PID: it must be the holder's where
// the prober can learn it (want), and must never name another process.
func fsmCheckPID(t *testing.T, what string, got, holder int, want bool, n *fsmNotes) {
	t.Helper()
	if want {
		n.check(assert.Equalf(t, holder, got, "%s must name the holder's PID", what), fmt.Sprintf("%s PID %d", what, got))
	} else {
		n.check(assert.Containsf(t, []int{0, holder}, got, "%s must name the holder or no process", what), fmt.Sprintf("%s PID %d", what, got))
	}
}

// Case 5: a uds server of the same user killed with SIGKILL leaves its
// socket file; Probe says stale, Listen reclaims it and Close removes it.
func fsmCaseStale(t *testing.T, fs fsmFS, u fsmUser, dir string, n *fsmNotes) {
	path := filepath.Join(dir, u.tag+"-stale.sock")
	n.check(false, "the server to kill did not start") // taken back below once it has
	c := childproc.Start(t, childproc.Options{Credential: u.cred}, roleListen, path)
	c.WaitReady()
	n.list = n.list[:0]
	c.Kill()
	fi, err := os.Lstat(path)
	require.NoError(t, err, "the SIGKILLed server leaves its socket file")
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
	if fs.bigIno {
		assert.Greaterf(t, uint64(fi.Sys().(*syscall.Stat_t).Ino), fsmBigIno, "the stale socket file's inode must be above 2^32 on this XFS")
	}
	id := pinFile(t, path) // its inode number cannot be reused while pinned

	pr := u.prober.do(t, fsmReq{Op: "probe", Path: path})
	if n.check(assert.Truef(t, pr.OK, "Probe of a stale socket file: %s", pr.Err), "Probe failed: "+fsmShortErr(pr)) {
		n.check(assert.Equalf(t, diag.ProbeStale.String(), pr.State, "Probe of a SIGKILLed server's socket file: %+v", pr), "Probe said "+pr.State)
		assert.Zero(t, pr.HolderPID)
	}
	fsmCheckFile(t, id, n)

	lr := u.prober.do(t, fsmReq{Op: "listen", Path: path, Type: "stream"})
	n.check(lr.OK, "Listen failed: "+fsmShortErr(lr))
	require.Truef(t, lr.OK, "%s, %s: Listen must reclaim the stale socket file: %s", fs.name, u.name, lr.Err)
	assert.NotEqual(t, id.ino, lr.Ino, "the reclaiming listener must have bound a new socket file")
	n.check(assert.Empty(t, lr.Exchange, "a client must reach the reclaiming listener"), "exchange failed")
	n.check(assert.Empty(t, lr.CloseErr, "Close of the reclaiming listener"), "Close failed")
	n.check(assertNotExist(t, path), "socket file left")
	n.check(assertNotExist(t, path+".lock"), "lock file left")
}

// ---- the file systems -------------------------------------------------------

// fsmBigIno is the first inode number sock_diag cannot report whole.
const fsmBigIno = uint64(1) << 32

type fsmFS struct {
	name   string
	kernel []string // file system types the kernel must have
	tools  []string
	// setup mounts the file system under work and returns a directory on
	// it, mode 01777 (like /tmp), for the sockets. Everything it mounts is
	// unmounted, and every loop device detached, when the test ends.
	setup  func(t *testing.T, work string) string
	bigIno bool // socket files there get inode numbers above 2^32 (checked by setup)
}

func fsmFileSystems() []fsmFS {
	return []fsmFS{
		{
			name:   "ext4",
			kernel: []string{"ext4"},
			tools:  []string{"losetup", "mkfs.ext4"},
			setup: func(t *testing.T, work string) string {
				img, mnt := fsmImage(t, work, 64<<20)
				fsmCmd(t, "mkfs.ext4", "-q", "-F", img)
				fsmMount(t, mnt, img, "-o", "loop", img)
				return fsmSockDir(t, filepath.Join(mnt, "socks"))
			},
		},
		{
			name:   "xfs",
			kernel: []string{"xfs"},
			tools:  []string{"losetup", "mkfs.xfs"},
			bigIno: true,
			setup: func(t *testing.T, work string) string {
				// A sparse 2 TiB image with three allocation groups (~65 MB
				// on disk): with inode64, directories are spread over the
				// groups, and the third group's inode numbers are above 2^32.
				img, mnt := fsmImage(t, work, 2<<40)
				fsmCmd(t, "mkfs.xfs", "-q", "-f", "-d", "agcount=3", "-l", "size=64m", img)
				fsmMount(t, mnt, img, "-o", "loop", img)
				var dir string
				for i := 1; i <= 8 && dir == ""; i++ {
					d := filepath.Join(mnt, fmt.Sprintf("d%d", i))
					require.NoError(t, os.Mkdir(d, 0o755))
					if testutil.LstatIno(t, d) > fsmBigIno {
						dir = d
					}
				}
				require.NotEmpty(t, dir, "no directory on the XFS image got an inode number above 2^32")
				fsmSticky(t, dir)
				// Files created there must have such inodes too.
				probe := filepath.Join(dir, "inode-check.sock")
				s := testutil.RawSocket(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: probe}, false)
				ino := testutil.LstatIno(t, probe)
				require.NoError(t, s.Close())
				require.NoError(t, os.Remove(probe))
				require.Greaterf(t, ino, fsmBigIno, "a socket file in %s must get an inode number above 2^32", dir)
				t.Logf("xfs: socket directory %s (inode %d), socket file inode %d", dir, testutil.LstatIno(t, dir), ino)
				return dir
			},
		},
		{
			name:   "btrfs",
			kernel: []string{"btrfs"},
			tools:  []string{"losetup", "mkfs.btrfs", "btrfs"},
			setup: func(t *testing.T, work string) string {
				img, mnt := fsmImage(t, work, 256<<20)
				fsmCmd(t, "mkfs.btrfs", "-q", "-f", img)
				fsmMount(t, mnt, img, "-o", "loop", img)
				sv := filepath.Join(mnt, "sv")
				fsmCmd(t, "btrfs", "-q", "subvolume", "create", sv)
				dir := fsmSockDir(t, filepath.Join(sv, "socks"))
				// Inside a subvolume, stat's st_dev is the subvolume's
				// device, not the superblock's (which sock_diag reports and
				// mountinfo shows).
				maj, min := fsmMountDev(t, mnt)
				var st unix.Stat_t
				require.NoError(t, unix.Stat(dir, &st))
				dev := uint64(st.Dev) // 32 bits on some architectures
				require.Falsef(t, unix.Major(dev) == maj && unix.Minor(dev) == min,
					"st_dev of %s (%d:%d) must differ from the mount's device (%d:%d) for the btrfs case to count",
					dir, unix.Major(dev), unix.Minor(dev), maj, min)
				t.Logf("btrfs: socket directory %s on device %d:%d, mount's device %d:%d",
					dir, unix.Major(dev), unix.Minor(dev), maj, min)
				return dir
			},
		},
		{
			name:   "tmpfs",
			kernel: []string{"tmpfs"},
			setup: func(t *testing.T, work string) string {
				mnt := filepath.Join(work, "mnt")
				require.NoError(t, os.Mkdir(mnt, 0o755))
				fsmMount(t, mnt, "", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs")
				return fsmSockDir(t, filepath.Join(mnt, "socks"))
			},
		},
		{
			name:   "overlay",
			kernel: []string{"overlay", "tmpfs"},
			setup: func(t *testing.T, work string) string {
				// As a container runtime sets it up: lower, upper and work
				// directories on one file system, the socket directory in
				// the image (the lower layer), copied up on first use.
				backing := filepath.Join(work, "backing")
				require.NoError(t, os.Mkdir(backing, 0o755))
				fsmMount(t, backing, "", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs")
				lower, upper, wdir := filepath.Join(backing, "lower"), filepath.Join(backing, "upper"), filepath.Join(backing, "work")
				for _, d := range []string{lower, upper, wdir} {
					require.NoError(t, os.Mkdir(d, 0o755))
				}
				fsmSockDir(t, filepath.Join(lower, "socks"))
				merged := filepath.Join(work, "merged")
				require.NoError(t, os.Mkdir(merged, 0o755))
				fsmMount(t, merged, "", "-t", "overlay", "-o",
					"lowerdir="+lower+",upperdir="+upper+",workdir="+wdir, "overlay")
				dir := filepath.Join(merged, "socks")
				fi, err := os.Lstat(dir)
				require.NoError(t, err)
				require.Equal(t, os.ModeDir|os.ModeSticky|0o777, fi.Mode(), "the socket directory seen through the overlay")
				return dir
			},
		},
	}
}

// fsmRequireKernelFS skips the test if the kernel lacks a file system type
// (after asking modprobe for it).
func fsmRequireKernelFS(t *testing.T, types ...string) {
	t.Helper()
	for _, typ := range types {
		if fsmKernelHas(t, typ) {
			continue
		}
		if mp, err := exec.LookPath("modprobe"); err == nil {
			_ = exec.Command(mp, "-q", typ).Run()
		}
		if !fsmKernelHas(t, typ) {
			t.Skipf("the kernel lacks the %s file system (not in /proc/filesystems, and modprobe did not add it)", typ)
		}
	}
}

func fsmKernelHas(t *testing.T, typ string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/filesystems")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == typ {
			return true
		}
	}
	return false
}

// fsmImage creates a sparse image file of size bytes and a mount point
// beside it.
func fsmImage(t *testing.T, work string, size int64) (img, mnt string) {
	t.Helper()
	img, mnt = filepath.Join(work, "fs.img"), filepath.Join(work, "mnt")
	f, err := os.Create(img)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	require.NoError(t, f.Close())
	require.NoError(t, os.Mkdir(mnt, 0o755))
	return img, mnt
}

// fsmCmd runs a command, failing the test with its output if it fails.
func fsmCmd(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoErrorf(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
}

// fsmMount runs "mount args... mnt" (skipping the test if this machine
// cannot mount it) and, at the end of the test, unmounts mnt (lazily if it
// is busy) and detaches any loop device still backing img.
func fsmMount(t *testing.T, mnt, img string, args ...string) {
	t.Helper()
	if img != "" {
		if out, err := exec.Command("losetup", "-f").CombinedOutput(); err != nil {
			t.Skipf("no free loop device (losetup -f: %v: %s)", err, strings.TrimSpace(string(out)))
		}
	}
	args = append(args, mnt)
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		fsmDetachLoops(t, img)
		t.Skipf("this machine cannot mount it: mount %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; unmounting lazily", mnt, err, strings.TrimSpace(string(out)))
			if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
				t.Errorf("umount -l %s: %v: %s", mnt, err, strings.TrimSpace(string(out)))
			}
		}
		fsmDetachLoops(t, img)
	})
}

// fsmDetachLoops detaches every loop device backed by img. mount -o loop
// sets autoclear, so normally there is none left after umount.
func fsmDetachLoops(t *testing.T, img string) {
	if img == "" {
		return
	}
	out, err := exec.Command("losetup", "-j", img).Output()
	if err != nil {
		t.Errorf("losetup -j %s: %v", img, err)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dev, _, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(dev, "/dev/loop") {
			continue
		}
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s (backed by %s): %v: %s", dev, img, err, strings.TrimSpace(string(out)))
		} else {
			t.Logf("detached %s, still backed by %s after umount", dev, img)
		}
	}
}

// fsmSockDir makes dir with mode 01777, like /tmp.
func fsmSockDir(t *testing.T, dir string) string {
	t.Helper()
	require.NoError(t, os.Mkdir(dir, 0o755))
	return fsmSticky(t, dir)
}

// fsmSticky gives the directory dir mode 01777.
func fsmSticky(t *testing.T, dir string) string {
	t.Helper()
	require.NoError(t, unix.Chmod(dir, 0o1777))
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|os.ModeSticky|0o777, fi.Mode(), "socket directory mode")
	return dir
}

// fsmMountDev returns the device of the mount at mnt, as mountinfo shows it.
func fsmMountDev(t *testing.T, mnt string) (major, minor uint32) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[4] != mnt {
			continue
		}
		_, err := fmt.Sscanf(f[2], "%d:%d", &major, &minor)
		require.NoError(t, err, "mountinfo line %q", line)
		found = true // the last one is the top of the stack
	}
	require.True(t, found, "%s is not in /proc/self/mountinfo", mnt)
	return major, minor
}

// ---- agents: processes that hold sockets or probe for the test -------------

const roleFSMAgent = "fsmatrix-agent" // fd 3: commands; fd 4: replies (JSON lines)

func init() { childproc.Register(roleFSMAgent, fsmAgentMain) }

// fsmReq is a command to an agent (or to fsmExec in this process).
type fsmReq struct {
	Seq    int
	Op     string // "hold", "listen" or "probe"
	Path   string
	Type   string // "stream", "dgram", "seqpacket"
	Listen bool   // hold: listen on the stream socket
	Mode   uint32 // hold: the socket file's mode, if not zero
}

// fsmRes is the answer to a fsmReq.
type fsmRes struct {
	Seq, PID, UID int // PID and UID of the process that answered
	OK            bool
	Err           string
	// The error's kind (listen).
	OpError, InUse, Unverified bool
	HolderPID                  int    // InUseError.PID (listen), ProbeResult.PID (probe)
	How                        string // InUseError.How
	State, Detail              string // probe
	Ino                        uint64 // the socket file's inode (hold; listen: while listening)
	Exchange, CloseErr         string // listen: errors of the exchange with a client and of Close
}

func fsmAgentMain([]string) int {
	in, out := os.NewFile(3, "commands"), os.NewFile(4, "replies")
	held := map[string]int{} // the sockets this agent holds, by path
	fmt.Println(childproc.Ready, os.Getpid())
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var req fsmReq
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			fmt.Fprintln(os.Stderr, "bad command:", err)
			return 2
		}
		if err := enc.Encode(fsmExec(req, held)); err != nil {
			fmt.Fprintln(os.Stderr, "reply:", err)
			return 2
		}
	}
	return 0
}

// fsmExec carries out req in this process. held keeps the sockets of "hold".
func fsmExec(req fsmReq, held map[string]int) fsmRes {
	r := fsmRes{Seq: req.Seq, PID: os.Getpid(), UID: os.Getuid()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch req.Op {
	case "hold":
		fsmHold(req, held, &r)
	case "probe":
		pr, err := diag.Probe(ctx, uds.Path(req.Path))
		if err != nil {
			r.Err = err.Error()
			break
		}
		r.OK, r.State, r.HolderPID, r.Detail = true, pr.State.String(), pr.PID, pr.Detail
	case "listen":
		fsmListen(ctx, req, &r)
	default:
		r.Err = "unknown op " + req.Op
	}
	return r
}

// fsmHold binds a raw socket (no uds, no lock file) at req.Path and keeps it.
func fsmHold(req fsmReq, held map[string]int, r *fsmRes) {
	typ := unix.SOCK_STREAM
	if req.Type == "dgram" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		r.Err = "socket: " + err.Error()
		return
	}
	fail := func(what string, err error) {
		unix.Close(fd)
		r.Err = what + ": " + err.Error()
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: req.Path}); err != nil {
		fail("bind", err)
		return
	}
	if req.Listen {
		if err := unix.Listen(fd, 16); err != nil {
			fail("listen", err)
			return
		}
	}
	if req.Mode != 0 {
		if err := unix.Fchmodat(unix.AT_FDCWD, req.Path, req.Mode, 0); err != nil {
			fail("chmod", err)
			return
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(req.Path, &st); err != nil {
		fail("lstat", err)
		return
	}
	if held != nil {
		held[req.Path] = fd
	}
	r.OK, r.Ino = true, st.Ino
}

// fsmListen listens on req.Path with uds (stream, dgram or seqpacket); if
// that works, a client exchanges a byte with it, and it is closed.
func fsmListen(ctx context.Context, req fsmReq, r *fsmRes) {
	a := uds.Path(req.Path)
	var (
		c        io.Closer
		exchange func() error
	)
	switch req.Type {
	case "stream":
		ln, err := uds.Listen(ctx, a)
		if err != nil {
			fsmSetErr(r, err)
			return
		}
		c = ln
		exchange = func() error {
			return fsmConnExchange(ln, func() (net.Conn, error) {
				conn, err := uds.Dial(ctx, a)
				if err != nil {
					return nil, err
				}
				return conn, nil
			})
		}
	case "seqpacket":
		ln, err := uds.Listen(ctx, a.WithType(uds.SeqPacket))
		if err != nil {
			fsmSetErr(r, err)
			return
		}
		c = ln
		exchange = func() error {
			return fsmConnExchange(ln, func() (net.Conn, error) {
				conn, err := uds.Dial(ctx, a.WithType(uds.SeqPacket))
				if err != nil {
					return nil, err
				}
				return conn, nil
			})
		}
	case "dgram":
		dc, err := uds.ListenDatagram(ctx, a)
		if err != nil {
			fsmSetErr(r, err)
			return
		}
		c = dc
		exchange = func() error { return fsmDgramExchange(ctx, dc, a) }
	default:
		r.Err = "unknown socket type " + req.Type
		return
	}
	r.OK = true
	var st unix.Stat_t
	if err := unix.Lstat(req.Path, &st); err == nil {
		r.Ino = st.Ino
	}
	if err := exchange(); err != nil {
		r.Exchange = err.Error()
	}
	if err := c.Close(); err != nil {
		r.CloseErr = err.Error()
	}
}

func fsmSetErr(r *fsmRes, err error) {
	r.Err = err.Error()
	var oe *net.OpError
	r.OpError = errors.As(err, &oe)
	r.InUse = errors.Is(err, uds.ErrInUse)
	r.Unverified = errors.Is(err, uds.ErrUnverified)
	var ie *uds.InUseError
	if errors.As(err, &ie) {
		r.HolderPID, r.How = ie.PID, string(ie.How)
	}
}

// fsmConnExchange dials ln, sends a byte and reads it back from a server
// that echoes it. The caller closes ln, which ends a pending Accept.
func fsmConnExchange(ln net.Listener, dial func() (net.Conn, error)) error {
	srv := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srv <- fmt.Errorf("accept: %w", err)
			return
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			srv <- err
			return
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			srv <- fmt.Errorf("server read: %w", err)
			return
		}
		_, err = c.Write(b)
		srv <- err
	}()
	c, err := dial()
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte{'u'}); err != nil {
		return fmt.Errorf("client write: %w", err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return fmt.Errorf("client read: %w", err)
	}
	if b[0] != 'u' {
		return fmt.Errorf("echo: got %q", b)
	}
	select {
	case err := <-srv:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("the server never finished")
	}
}

// fsmDgramExchange sends a datagram to srv at a from a client and reads the
// reply srv sends to the client's (autobound) address.
func fsmDgramExchange(ctx context.Context, srv *uds.DatagramConn, a uds.Addr) error {
	cli, err := uds.DialDatagram(ctx, a)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer cli.Close()
	dl := time.Now().Add(5 * time.Second)
	if err := cli.SetDeadline(dl); err != nil {
		return err
	}
	if err := srv.SetDeadline(dl); err != nil {
		return err
	}
	if _, err := cli.Write([]byte{'d'}); err != nil {
		return fmt.Errorf("client write: %w", err)
	}
	buf := make([]byte, 8)
	m := uds.Message{Buf: buf}
	if err := uds.ReadMsg(srv, &m); err != nil {
		return fmt.Errorf("server read: %w", err)
	}
	n, from := m.N, m.Addr
	if n != 1 || buf[0] != 'd' {
		return fmt.Errorf("server got %q", buf[:n])
	}
	if err := uds.WriteMsg(srv, &uds.Message{Buf: buf[:n], Addr: from}); err != nil {
		return fmt.Errorf("server reply to %v: %w", from, err)
	}
	n, err = cli.Read(buf)
	if err != nil {
		return fmt.Errorf("client read: %w", err)
	}
	if n != 1 || buf[0] != 'd' {
		return fmt.Errorf("client got %q", buf[:n])
	}
	return nil
}

// fsmAgent is a running agent child.
type fsmAgent struct {
	name    string
	child   *childproc.Child
	cmds    *os.File
	replies chan string
	seq     int
}

// fsmStartAgent starts an agent as cred (nil: this process's user). It
// stops when the test ends.
func fsmStartAgent(t *testing.T, name string, cred *syscall.Credential) *fsmAgent {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	require.NoError(t, err)
	resR, resW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		require.NoError(t, err)
	}
	c := childproc.Start(t, childproc.Options{Credential: cred, ExtraFiles: []*os.File{cmdR, resW}}, roleFSMAgent)
	cmdR.Close()
	resW.Close()
	a := &fsmAgent{name: name, child: c, cmds: cmdW, replies: make(chan string, 16)}
	go func() {
		defer close(a.replies)
		defer resR.Close()
		sc := bufio.NewScanner(resR)
		for sc.Scan() {
			a.replies <- sc.Text()
		}
	}()
	// Runs before childproc's kill: the agent sees the end of its
	// commands and exits by itself, closing its sockets.
	t.Cleanup(func() { cmdW.Close() })
	c.WaitReady()
	return a
}

// do sends req and waits for the answer.
func (a *fsmAgent) do(t *testing.T, req fsmReq) fsmRes {
	t.Helper()
	a.seq++
	req.Seq = a.seq
	b, err := json.Marshal(req)
	require.NoError(t, err)
	_, err = a.cmds.Write(append(b, '\n'))
	require.NoErrorf(t, err, "%s: send %s; stderr:\n%s", a.name, req.Op, a.child.Stderr())
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-a.replies:
			if !ok {
				t.Fatalf("%s (pid %d) exited before answering %s %s; stderr:\n%s", a.name, a.child.PID(), req.Op, req.Path, a.child.Stderr())
			}
			var r fsmRes
			require.NoErrorf(t, json.Unmarshal([]byte(l), &r), "%s said %q", a.name, l)
			if r.Seq != req.Seq {
				continue // a late answer to a command that timed out
			}
			return r
		case <-timeout:
			t.Fatalf("%s (pid %d) did not answer %s %s in 20s; stderr:\n%s", a.name, a.child.PID(), req.Op, req.Path, a.child.Stderr())
		}
	}
}

// fsmProber probes and listens: in this process (agent nil) or in an agent.
type fsmProber struct{ agent *fsmAgent }

func (p fsmProber) do(t *testing.T, req fsmReq) fsmRes {
	t.Helper()
	if p.agent == nil {
		return fsmExec(req, nil)
	}
	return p.agent.do(t, req)
}
