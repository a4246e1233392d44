//go:build linux

package reliability_test

// Stale-path safety against hostile neighbours. A root server listens and
// closes, over and over, on a path in a directory that another user (uid
// 65534, a real child process) may write to, while that user races renames
// of its own files, of symbolic links and of hard links to root's files
// over the socket's path and over its lock file, and squats the names the
// server uses to remove files. Whatever the server's calls return, it must
// never write, chmod, chown or remove a file it did not create, never
// follow a symbolic link the neighbour swapped in, and never be stopped for
// good by names the neighbour created in advance.
//
// TestAdversaryRaces runs the race in a sticky world-writable directory
// (like /tmp) and in a writable non-sticky one, with fs.protected_* set to
// 0. Root's files (hard-linked by the neighbour) keep their content, mode,
// owner and every link the neighbour made; every file of the neighbour's
// keeps its content, mode and owner and is never removed (it is pinned by
// a descriptor, and the neighbour only ever moves its files); the probe
// never connects through a swapped symbolic link (a listening socket of
// the neighbour's, reached only that way, counts who connects); no .uds-*
// file of root's is left unreported. TestAdversaryAsideSquatting: names of
// the forms the server may use to remove files, squatted in advance, do
// not stop a server from reclaiming a crashed one's socket and closing.
//
//	go test -race -run 'TestAdversary' -v .
//	UDS_LONG=1 go test -race -run 'TestAdversary' -timeout 60m -v .

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

const (
	// args: dir, stash, victims dir, server PID; fd 3: a line "final"
	// starts the last phase (it prints "FINAL ..." once in place), the end
	// of the pipe stops it. Races the server (see advRacer), then prints
	// "INV ..." lines and "RESULT <json>" and waits to be killed (its pins
	// keep the inodes of its files from being reused until the parent has
	// looked).
	roleAdvRacer = "adv-racer"
	// args: dir, PID low, PID high, n max, a directory of root's. Creates
	// .uds-* names in dir and prints "READY <count>".
	roleAdvSquat = "adv-squat"
	// args: path; fd 3: one line to listen, one to close. Prints
	// "READY <pid>", "LISTEN <json>" and "CLOSE <json>".
	roleAdvServer = "adv-server"
)

func init() {
	childproc.Register(roleAdvRacer, childAdvRacer)
	childproc.Register(roleAdvSquat, childAdvSquat)
	childproc.Register(roleAdvServer, childAdvServer)
}

// advNobody is the neighbour: uid and gid 65534, no supplementary groups.
func advNobody() *syscall.Credential {
	return &syscall.Credential{Uid: 65534, Gid: 65534}
}

const advUID = 65534

// ---- the racing neighbour (child, uid 65534) --------------------------------

// advObj is a file the neighbour made. It is pinned by a descriptor for the
// neighbour's whole life, so that at the end fstat tells whether someone
// else removed it (st_nlink fell), chmodded or chowned it, or (regular
// files) wrote into it, wherever its names have gone. The neighbour never
// unlinks a file of its own: it only moves them, with RENAME_NOREPLACE or
// RENAME_EXCHANGE, which never destroy a name.
type advObj struct {
	kind  string
	ino   uint64
	mode  uint32
	nlink uint64 // expected: 1, 2 for a directory, 1 + links made for a link target
	data  string // regular files
	pin   int
}

// The classes of files the neighbour moves around: its own files of every
// kind but sockets ("file"), hard links to root's files ("vlink"), its
// bound sockets ("socket"), symbolic links to its trap ("trap") and empty
// directories ("dir").
const (
	advFile   = "file"
	advVLink  = "vlink"
	advSocket = "socket"
	advTrap   = "trap"
	advDir    = "dir"
)

// advRacer is the neighbour's state. Its main loop (loop) moves files of
// its own, hard links to root's files and its sockets onto the path and the
// lock file's name and back, creates files right at those names, exchanges
// files with a socket the server has just bound (hammer), flips a socket of
// its own at the path with a symbolic link to its trap (flip) and squats
// .uds-* names; a second goroutine (watch) answers the server's moves as
// inotify reports them. Files are made in its stash, a directory of its own
// on the same file system, and moved from there.
type advRacer struct {
	dir, stash string
	base, lock string // "s.sock", "s.sock.lock"
	serverPID  int
	sticky     bool
	dirfd      int
	stashfd    int
	trapPath   string
	victims    []string // paths of root's files
	stop       atomic.Bool
	final      atomic.Bool // the last phase has begun
	finalReq   chan struct{}

	mu        sync.Mutex
	objs      []*advObj
	byIno     map[uint64]*advObj // the neighbour's own files
	victimIno map[uint64]string  // root's files, by inode
	links     map[string]int     // root's file -> hard links made to it
	mine      []*advObj          // the neighbour's link targets
	sockFDs   []int              // bound sockets, kept open
	squats    int
	reacted   map[string]bool // .uds-* names already answered

	seq    atomic.Int64
	counts sync.Map // string -> *atomic.Int64

	trapRoot, trapOther atomic.Int64
}

const (
	advMaxPins    = 6000
	advMaxSockets = 48
	advMaxSquats  = 600
)

func (r *advRacer) count(what string) {
	v, _ := r.counts.LoadOrStore(what, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (r *advRacer) name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, r.seq.Add(1))
}

// vlinksOK tells whether hard links to root's files may be put in the
// directory under attack: in a sticky directory the neighbour cannot take
// back a file it does not own, so one would block the path for good; there
// they come only in the last phase.
func (r *advRacer) vlinksOK() bool { return !r.sticky || r.final.Load() }

// register pins the file just made at name in dirfd (or takes fd, already
// open on it) and records it. It refuses a file that is not the
// neighbour's.
func (r *advRacer) register(kind string, dirfd int, name string, fd int, data string) *advObj {
	if fd < 0 {
		flags := unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if kind == "dir" || kind == "squat-dir" {
			flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		var err error
		if fd, err = unix.Openat(dirfd, name, flags, 0); err != nil {
			r.count("pin failed")
			return nil
		}
	}
	// A file made in the directory under attack may have been swapped for
	// another by the time it is pinned: pin only what was made.
	var st unix.Stat_t
	r.mu.Lock()
	defer r.mu.Unlock()
	if unix.Fstat(fd, &st) != nil || st.Uid != advUID || st.Mode&unix.S_IFMT != advKindType(kind) || r.byIno[st.Ino] != nil {
		unix.Close(fd)
		r.count("pin failed")
		return nil
	}
	o := &advObj{kind: kind, ino: st.Ino, mode: st.Mode, nlink: uint64(st.Nlink), data: data, pin: fd}
	r.objs = append(r.objs, o)
	r.byIno[o.ino] = o
	return o
}

// advKindType is the file type of a kind of file the neighbour makes.
func advKindType(kind string) uint32 {
	switch kind {
	case "dir", "squat-dir":
		return unix.S_IFDIR
	case "fifo", "squat-fifo":
		return unix.S_IFIFO
	case "symlink", "squat-symlink", "trap-link":
		return unix.S_IFLNK
	case "socket", "stale socket in a squat":
		return unix.S_IFSOCK
	}
	return unix.S_IFREG
}

func (r *advRacer) pinsLeft() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.objs) < advMaxPins
}

// makeFile creates a regular file of the neighbour's (mode 0600, known
// content) at name in dirfd, failing if the name exists.
func (r *advRacer) makeFile(kind string, dirfd int, name string) bool {
	fd, err := unix.Openat(dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false
	}
	data := fmt.Sprintf("%s of uid %d: %s\n", kind, advUID, name)
	if _, err := unix.Pwrite(fd, []byte(data), 0); err != nil {
		unix.Close(fd)
		return false
	}
	return r.register(kind, dirfd, name, fd, data) != nil
}

// makeVLink hard-links one of root's files at name in dirfd.
func (r *advRacer) makeVLink(dirfd int, name string) bool {
	v := r.victims[rand.IntN(len(r.victims))]
	if err := unix.Linkat(unix.AT_FDCWD, v, dirfd, name, 0); err != nil {
		r.count("link to root's file failed: " + advErrno(err))
		return false
	}
	r.mu.Lock()
	r.links[v]++
	r.mu.Unlock()
	return true
}

// makeMineLink hard-links one of the neighbour's link targets at name in
// dirfd.
func (r *advRacer) makeMineLink(dirfd int, name string) bool {
	r.mu.Lock()
	m := r.mine[rand.IntN(len(r.mine))]
	r.mu.Unlock()
	if unix.Linkat(r.stashfd, "mine-"+strconv.FormatUint(m.ino, 10), dirfd, name, 0) != nil {
		return false
	}
	r.mu.Lock()
	m.nlink++
	r.mu.Unlock()
	return true
}

// makeSocket binds a socket of the neighbour's at name in dirfd (the
// directory dirPath). It never listens and stays open, so its file is in
// use.
func (r *advRacer) makeSocket(dirfd int, dirPath, name string) bool {
	r.mu.Lock()
	full := len(r.sockFDs) >= advMaxSockets
	r.mu.Unlock()
	if full {
		return false
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	if unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(dirPath, name)}) != nil {
		unix.Close(fd)
		return false
	}
	if r.register("socket", dirfd, name, -1, "") == nil {
		unix.Close(fd)
		return false
	}
	r.mu.Lock()
	r.sockFDs = append(r.sockFDs, fd)
	r.mu.Unlock()
	return true
}

// makeObj makes a file of the class at name in dirfd (the stash or the
// directory under attack). For advFile the kind is picked at random: a
// decoy file, a FIFO, a symbolic link (to a root file, to a file of the
// neighbour's, to nothing) or a hard link to a file of the neighbour's.
func (r *advRacer) makeObj(class string, dirfd int, name string) bool {
	dirPath := r.stash
	if dirfd == r.dirfd {
		dirPath = r.dir
	}
	switch class {
	case advVLink:
		return r.makeVLink(dirfd, name)
	case advSocket:
		return r.makeSocket(dirfd, dirPath, name)
	case advTrap:
		return unix.Symlinkat(r.trapPath, dirfd, name) == nil && r.register("trap-link", dirfd, name, -1, "") != nil
	case advDir:
		return unix.Mkdirat(dirfd, name, 0o755) == nil && r.register("dir", dirfd, name, -1, "") != nil
	}
	if !r.pinsLeft() {
		return r.makeMineLink(dirfd, name)
	}
	switch rand.IntN(6) {
	case 0, 1:
		return r.makeFile("decoy", dirfd, name)
	case 2:
		return unix.Mknodat(dirfd, name, unix.S_IFIFO|0o600, 0) == nil && r.register("fifo", dirfd, name, -1, "") != nil
	case 3, 4:
		var target string
		switch rand.IntN(3) {
		case 0:
			target = r.victims[rand.IntN(len(r.victims))]
		case 1:
			r.mu.Lock()
			target = filepath.Join(r.stash, "mine-"+strconv.FormatUint(r.mine[rand.IntN(len(r.mine))].ino, 10))
			r.mu.Unlock()
		default:
			target = "/nonexistent/adversary"
		}
		return unix.Symlinkat(target, dirfd, name) == nil && r.register("symlink", dirfd, name, -1, "") != nil
	default:
		return r.makeMineLink(dirfd, name)
	}
}

// classOf tells whether the file at name in the stash is one the neighbour
// may move around (its own, or one of its hard links to a root file), and
// its class.
func (r *advRacer) classOf(name string) (class string, ok bool) {
	var st unix.Stat_t
	if unix.Fstatat(r.stashfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.victimIno[st.Ino]; ok {
		return advVLink, true
	}
	o := r.byIno[st.Ino]
	switch {
	case o == nil:
		return "", false
	case o.kind == "socket":
		return advSocket, true
	case o.kind == "trap-link":
		return advTrap, true
	case o.kind == "dir":
		return advDir, true
	case o.kind == "squat-dir":
		return "", false // it holds a file: not moved around
	}
	return advFile, true
}

// advPool is a goroutine's own list of stash names that hold files it may
// move, by class.
type advPool map[string][]string

func (p advPool) pop(class string) (string, bool) {
	l := p[class]
	if len(l) == 0 {
		return "", false
	}
	i := rand.IntN(len(l))
	name := l[i]
	l[i] = l[len(l)-1]
	p[class] = l[:len(l)-1]
	return name, true
}

func (p advPool) push(class, name string) { p[class] = append(p[class], name) }

// reconcile looks at what a stash name holds after a move and keeps it in
// the pool if it is the neighbour's; a file of root's that came back (the
// server's socket, lock file or private directory, taken by an exchange)
// stays where it is.
func (r *advRacer) reconcile(p advPool, name string) {
	if class, ok := r.classOf(name); ok {
		p.push(class, name)
		return
	}
	var st unix.Stat_t
	if unix.Fstatat(r.stashfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Uid == 0 {
		r.count("root's files taken into the stash")
	}
}

// refill tops each class of the pool up to its size.
func (r *advRacer) refill(p advPool, prefix string, sizes map[string]int) {
	for class, n := range sizes {
		for len(p[class]) < n {
			name := r.name(prefix)
			if !r.makeObj(class, r.stashfd, name) {
				break
			}
			p.push(class, name)
		}
	}
}

// pick pops a file to put in the directory: mostly a file, sometimes a
// socket, a directory or (where allowed) a hard link to root's file.
func (r *advRacer) pick(p advPool) (class, name string, ok bool) {
	class = advFile
	switch k := rand.IntN(20); {
	case k < 5 && r.vlinksOK():
		class = advVLink
	case k < 8:
		class = advSocket
	case k < 9:
		class = advDir
	}
	if name, ok = p.pop(class); !ok && class != advFile {
		class = advFile
		name, ok = p.pop(class)
	}
	return class, name, ok
}

// renameOver moves the stash file name to target in the directory: over
// what is there (RENAME_EXCHANGE, so that what was there comes back to the
// stash and nothing is destroyed), or onto a free name.
func (r *advRacer) renameOver(p advPool, class, name, target string) bool {
	if rand.IntN(2) == 0 {
		switch err := unix.Renameat2(r.stashfd, name, r.dirfd, target, unix.RENAME_EXCHANGE); err {
		case nil:
			r.count("renames")
			r.count("exchanges at " + r.what(target))
			r.reconcile(p, name)
			return true
		case unix.ENOENT:
		default:
			r.count("exchange refused: " + advErrno(err))
			p.push(class, name)
			return false
		}
	}
	if err := unix.Renameat2(r.stashfd, name, r.dirfd, target, unix.RENAME_NOREPLACE); err != nil {
		p.push(class, name)
		return false
	}
	r.count("renames")
	r.count("renames onto a free " + r.what(target))
	return true
}

// what names a target for the counts.
func (r *advRacer) what(target string) string {
	switch target {
	case r.base:
		return "path"
	case r.lock:
		return "lock file"
	}
	return ".uds-* name"
}

func advErrno(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// clear takes whatever is at target back into the stash under a new name.
func (r *advRacer) clear(p advPool, target string) bool {
	name := r.name("c")
	if unix.Renameat2(r.dirfd, target, r.stashfd, name, unix.RENAME_NOREPLACE) != nil {
		return false
	}
	r.count("renames")
	r.reconcile(p, name)
	return true
}

// place puts a file of the neighbour's at target for a random moment, then
// usually takes it back.
func (r *advRacer) place(p advPool, target string) {
	class, name, ok := r.pick(p)
	if !ok || !r.renameOver(p, class, name, target) {
		return
	}
	relSpin(time.Duration(rand.IntN(200)) * time.Microsecond)
	if rand.IntN(8) != 0 {
		r.clear(p, target)
	}
}

// createAt makes a file of the neighbour's right at target (no rename), as
// a neighbour does before the server starts, and usually takes it back
// after a random moment.
func (r *advRacer) createAt(p advPool, target string) {
	class := advFile
	switch k := rand.IntN(10); {
	case k < 3 && r.vlinksOK():
		class = advVLink
	case k < 5:
		class = advSocket
	}
	if !r.makeObj(class, r.dirfd, target) {
		return
	}
	r.count("created at " + r.what(target))
	relSpin(time.Duration(rand.IntN(200)) * time.Microsecond)
	if rand.IntN(8) != 0 {
		r.clear(p, target)
	}
}

// hammer tries, for up to 2ms, to exchange a file of its own with the
// socket the server has just bound (in a sticky directory the kernel
// refuses).
func (r *advRacer) hammer(p advPool) {
	class, name, ok := r.pick(p)
	if !ok {
		return
	}
	deadline := time.Now().Add(time.Duration(200+rand.IntN(1800)) * time.Microsecond)
	for time.Now().Before(deadline) && !r.stop.Load() {
		err := unix.Renameat2(r.stashfd, name, r.dirfd, r.base, unix.RENAME_EXCHANGE)
		if err == nil {
			r.count("renames")
			r.count("hammer exchanges")
			r.reconcile(p, name)
			if rand.IntN(8) != 0 {
				r.clear(p, r.base)
			}
			return
		}
		if err != unix.ENOENT {
			r.count("hammer refused: " + advErrno(err))
			break
		}
	}
	p.push(class, name)
}

// flip puts a socket of its own (bound, not listening) at the path, so that
// the server probes it, and flips it many times with a symbolic link to a
// listening socket of its own (the trap): a probe that connects by name
// after lstat saw the socket follows the link, and the trap sees root
// connect.
func (r *advRacer) flip(p advPool) {
	s, ok := p.pop(advSocket)
	if !ok {
		return
	}
	l, ok := p.pop(advTrap)
	if !ok {
		p.push(advSocket, s)
		return
	}
	if unix.Renameat2(r.stashfd, s, r.dirfd, r.base, unix.RENAME_NOREPLACE) != nil {
		p.push(advSocket, s)
		p.push(advTrap, l)
		return
	}
	r.count("renames")
	for k := 10 + rand.IntN(50); k > 0 && !r.stop.Load(); k-- {
		if unix.Renameat2(r.stashfd, l, r.dirfd, r.base, unix.RENAME_EXCHANGE) != nil {
			break
		}
		r.count("renames")
		r.count("flips")
		relSpin(time.Duration(rand.IntN(20)) * time.Microsecond)
	}
	r.clear(p, r.base)
	r.reconcile(p, l)
}

// squatName creates a file of the neighbour's of a random type (regular,
// directory, directory holding a socket of its own that nothing is bound
// to, FIFO, symbolic link to the path or to root's directory) at a .uds-*
// name in the directory.
func (r *advRacer) squatName(name string) {
	r.mu.Lock()
	full := r.squats >= advMaxSquats || len(r.objs) >= advMaxPins
	if !full {
		r.squats++
	}
	r.mu.Unlock()
	if full {
		return
	}
	var ok bool
	switch rand.IntN(6) {
	case 0:
		ok = r.makeFile("squat-file", r.dirfd, name)
	case 1:
		ok = unix.Mkdirat(r.dirfd, name, 0o700) == nil && r.register("squat-dir", r.dirfd, name, -1, "") != nil
	case 2:
		// A directory with a stale socket of the neighbour's in it, as a
		// server's leftover private directory would hold.
		if unix.Mkdirat(r.dirfd, name, 0o700) != nil || r.register("squat-dir", r.dirfd, name, -1, "") == nil {
			break
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			break
		}
		inner := filepath.Join(r.dir, name, "f")
		if unix.Bind(fd, &unix.SockaddrUnix{Name: inner}) == nil {
			unix.Close(fd)
			ok = r.register("stale socket in a squat", unix.AT_FDCWD, inner, -1, "") != nil
		} else {
			unix.Close(fd)
		}
	case 3:
		ok = unix.Mknodat(r.dirfd, name, unix.S_IFIFO|0o600, 0) == nil && r.register("squat-fifo", r.dirfd, name, -1, "") != nil
	case 4:
		ok = unix.Symlinkat(r.base, r.dirfd, name) == nil && r.register("squat-symlink", r.dirfd, name, -1, "") != nil
	default:
		ok = unix.Symlinkat(filepath.Dir(r.victims[0]), r.dirfd, name) == nil && r.register("squat-symlink", r.dirfd, name, -1, "") != nil
	}
	if ok {
		r.count("squats")
	}
}

func (r *advRacer) squat() {
	var rnd [16]byte
	for i := range rnd {
		rnd[i] = byte(rand.IntN(256))
	}
	switch rand.IntN(4) {
	case 0:
		r.squatName(fmt.Sprintf(".uds-remove-%d-%d", r.serverPID, 1+rand.IntN(100000)))
	case 1:
		r.squatName(fmt.Sprintf(".uds-remove-%d-%d", 1+rand.IntN(32768), 1+rand.IntN(64)))
	default:
		// The form of a private directory name: a prefix and 32 hex digits.
		r.squatName(fmt.Sprintf(".uds-%s-%x", []string{"rm", "tmp", "aside"}[rand.IntN(3)], rnd))
	}
}

var advMainPool = map[string]int{advFile: 24, advVLink: 4, advSocket: 3, advTrap: 2, advDir: 2}

// loop is the main attack, as fast as it can until stopped.
func (r *advRacer) loop() {
	p := advPool{}
	for !r.stop.Load() {
		select {
		case <-r.finalReq:
			r.lastPhase(p)
		default:
		}
		if r.final.Load() {
			time.Sleep(time.Millisecond) // the last phase: leave the path as it is
			continue
		}
		r.refill(p, "h", advMainPool)
		switch k := rand.IntN(100); {
		case k < 20:
			r.place(p, r.base)
		case k < 40:
			r.place(p, r.lock)
		case k < 48:
			r.createAt(p, r.lock)
		case k < 52:
			r.createAt(p, r.base)
		case k < 60:
			r.hammer(p)
		case k < 68:
			r.flip(p)
		case k < 71:
			r.squat()
		case k < 85:
			r.clear(p, r.base)
			r.clear(p, r.lock)
		default:
			// Let the server run a few cycles undisturbed (but watched).
			relSpin(time.Duration(rand.IntN(500)) * time.Microsecond)
		}
	}
}

// lastPhase leaves hard links to root's files at the lock file's name and
// at the path, for the server's last cycles, and says so.
func (r *advRacer) lastPhase(p advPool) {
	r.final.Store(true)
	placed := map[string]bool{}
	var lastErr error
	for try := 0; try < 1000 && len(placed) < 2; try++ {
		for _, target := range []string{r.lock, r.base} {
			if placed[target] {
				continue
			}
			r.clear(p, target)
			name := r.name("v")
			if lastErr = unix.Linkat(unix.AT_FDCWD, r.victims[0], r.stashfd, name, 0); lastErr != nil {
				continue
			}
			r.mu.Lock()
			r.links[r.victims[0]]++
			r.mu.Unlock()
			if lastErr = unix.Renameat2(r.stashfd, name, r.dirfd, target, unix.RENAME_NOREPLACE); lastErr == nil {
				r.count("renames")
				placed[target] = true
			} else {
				p.push(advVLink, name)
			}
		}
	}
	fmt.Printf("FINAL lock=%v path=%v (last error: %v)\n", placed[r.lock], placed[r.base], lastErr)
}

var advAsideRe = regexp.MustCompile(`^\.uds-remove-(\d+)-(\d+)$`)

var advWatchPool = map[string]int{advFile: 6, advVLink: 3, advDir: 3}

// watch answers the server's moves as they happen (inotify): a socket file
// just bound at the path, a lock file just created, a file or directory
// just made or renamed under a .uds-* name are each exchanged at once with a
// file (or empty directory) of the neighbour's; and an old-style aside name
// (.uds-remove-<pid>-<n>) predicts the next ones, which are squatted now
// and then.
func (r *advRacer) watch(ifd int, wg *sync.WaitGroup) {
	defer wg.Done()
	p := advPool{}
	buf := make([]byte, 64<<10)
	for !r.stop.Load() {
		r.refill(p, "w", advWatchPool)
		fds := []unix.PollFd{{Fd: int32(ifd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 50); n <= 0 {
			continue
		}
		n, err := unix.Read(ifd, buf)
		if err != nil {
			continue
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			l := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+l]), "\x00")
			off += unix.SizeofInotifyEvent + l
			if !r.final.Load() {
				r.react(p, mask, name)
			}
		}
	}
}

func (r *advRacer) react(p advPool, mask uint32, name string) {
	swap := func(class, target string) {
		if class == advVLink && !r.vlinksOK() {
			class = advFile
		}
		h, ok := p.pop(class)
		if !ok {
			if h, ok = p.pop(advFile); !ok {
				return
			}
			class = advFile
		}
		if err := unix.Renameat2(r.stashfd, h, r.dirfd, target, unix.RENAME_EXCHANGE); err != nil {
			p.push(class, h)
			return
		}
		r.count("renames")
		r.count("answers at " + r.what(target))
		r.reconcile(p, h)
		if target == r.base || target == r.lock {
			// Leave it there a moment, then usually take it back.
			relSpin(time.Duration(rand.IntN(300)) * time.Microsecond)
			if rand.IntN(8) != 0 {
				r.clear(p, target)
			}
		}
	}
	switch {
	case mask&unix.IN_CREATE != 0 && name == r.base:
		swap(advFile, name) // a socket just bound
	case mask&unix.IN_CREATE != 0 && name == r.lock:
		swap(advVLink, name) // a lock file just created
	case strings.HasPrefix(name, ".uds-"):
		r.mu.Lock()
		seen := r.reacted[name]
		r.reacted[name] = true
		r.mu.Unlock()
		var st unix.Stat_t
		if seen || unix.Fstatat(r.dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Uid == advUID {
			return // gone already, or one of ours
		}
		if mask&unix.IN_ISDIR != 0 {
			swap(advDir, name)
		} else {
			swap(advFile, name)
		}
		if m := advAsideRe.FindStringSubmatch(name); m != nil && rand.IntN(3) == 0 {
			n, _ := strconv.Atoi(m[2])
			r.squatName(fmt.Sprintf(".uds-remove-%s-%d", m[1], n+1+rand.IntN(3)))
		}
	}
}

// trap accepts on a listening socket of the neighbour's that only its
// symbolic links lead to, and counts who connects.
func (r *advRacer) trap(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		uid := -1
		if rc, err := c.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
					uid = int(cred.Uid)
				}
			})
		}
		if uid == 0 {
			r.trapRoot.Add(1)
		} else {
			r.trapOther.Add(1)
		}
		c.Close()
	}
}

// advReport is what the neighbour reports at the end.
type advReport struct {
	Counts    map[string]int64
	Objects   int
	Touched   int
	Problems  []string
	Links     map[string]int // root's file -> hard links the neighbour made to it
	TrapRoot  int64
	TrapOther int64
	Err       string
}

// check looks at every file the neighbour made, through its pin.
func (r *advRacer) check() advReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := advReport{Counts: map[string]int64{}, Objects: len(r.objs), Links: map[string]int{}}
	for k, v := range r.links {
		rep.Links[k] = v
	}
	bad := func(o *advObj, format string, args ...any) {
		rep.Touched++
		if len(rep.Problems) < 30 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the neighbour's %s (inode %d): ", o.kind, o.ino)+fmt.Sprintf(format, args...))
		}
	}
	buf := make([]byte, 4096)
	for _, o := range r.objs {
		var st unix.Stat_t
		if err := unix.Fstat(o.pin, &st); err != nil {
			bad(o, "fstat of its pin: %v", err)
			continue
		}
		switch {
		case st.Nlink == 0:
			bad(o, "removed by someone else (its last name is gone)")
		case uint64(st.Nlink) < o.nlink:
			bad(o, "one of its names was removed by someone else (%d links, want %d)", st.Nlink, o.nlink)
		}
		if st.Uid != advUID || st.Gid != advUID {
			bad(o, "chowned to %d:%d", st.Uid, st.Gid)
		}
		if st.Mode != o.mode {
			bad(o, "mode changed from %#o to %#o", o.mode, st.Mode)
		}
		if o.data != "" {
			n, _ := unix.Pread(o.pin, buf, 0)
			if string(buf[:max(n, 0)]) != o.data {
				bad(o, "content changed from %q to %q", o.data, buf[:max(n, 0)])
			}
		}
	}
	r.counts.Range(func(k, v any) bool {
		rep.Counts[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	rep.TrapRoot, rep.TrapOther = r.trapRoot.Load(), r.trapOther.Load()
	return rep
}

func childAdvRacer(args []string) int {
	fail := func(format string, a ...any) int {
		b, _ := json.Marshal(advReport{Err: fmt.Sprintf(format, a...)})
		fmt.Println("RESULT", string(b))
		return 1
	}
	r := &advRacer{dir: args[0], stash: args[1], base: "s.sock", lock: "s.sock.lock", finalReq: make(chan struct{}, 1),
		byIno: map[uint64]*advObj{}, victimIno: map[uint64]string{}, links: map[string]int{}, reacted: map[string]bool{}}
	r.serverPID, _ = strconv.Atoi(args[3])
	var err error
	if r.dirfd, err = unix.Open(r.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fail("open %s: %v", r.dir, err)
	}
	var dst unix.Stat_t
	if err := unix.Fstat(r.dirfd, &dst); err != nil {
		return fail("stat %s: %v", r.dir, err)
	}
	r.sticky = dst.Mode&unix.S_ISVTX != 0
	if r.stashfd, err = unix.Open(r.stash, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fail("open %s: %v", r.stash, err)
	}
	ents, err := os.ReadDir(args[2])
	if err != nil {
		return fail("read the victims: %v", err)
	}
	for _, e := range ents {
		v := filepath.Join(args[2], e.Name())
		var st unix.Stat_t
		if err := unix.Lstat(v, &st); err != nil {
			return fail("lstat %s: %v", v, err)
		}
		r.victims = append(r.victims, v)
		r.victimIno[st.Ino] = v
	}
	// The neighbour's own link targets, named by inode.
	for i := 0; i < 4; i++ {
		tmp := r.name("tmp")
		if !r.makeFile("link target", r.stashfd, tmp) {
			return fail("create a file of its own")
		}
		o := r.objs[len(r.objs)-1]
		if err := unix.Renameat(r.stashfd, tmp, r.stashfd, "mine-"+strconv.FormatUint(o.ino, 10)); err != nil {
			return fail("rename: %v", err)
		}
		r.mine = append(r.mine, o)
	}
	r.trapPath = filepath.Join(r.stash, "trap.sock")
	tln, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.trapPath, Net: "unix"})
	if err != nil {
		return fail("listen on the trap: %v", err)
	}
	tln.SetUnlinkOnClose(false)
	go r.trap(tln)
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fail("inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(ifd, r.dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		return fail("inotify watch: %v", err)
	}
	for i := 0; i < 40; i++ {
		r.squat()
	}
	// fd 3: "final" starts the last phase; its end stops everything.
	go func() {
		ctl := bufio.NewReader(os.NewFile(3, "ctl"))
		for {
			l, err := ctl.ReadString('\n')
			if strings.TrimSpace(l) == "final" {
				r.finalReq <- struct{}{}
			}
			if err != nil {
				r.stop.Store(true)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go r.watch(ifd, &wg)
	fmt.Println(childproc.Ready, os.Getpid())
	r.loop()
	wg.Wait()
	tln.Close()

	rep := r.check()
	// The inventory for the parent's own look: inode:mode of every file of
	// the neighbour's, on short lines.
	r.mu.Lock()
	var line []string
	for i, o := range r.objs {
		line = append(line, fmt.Sprintf("%d:%o", o.ino, o.mode))
		if len(line) == 400 || i == len(r.objs)-1 {
			fmt.Println("INV", strings.Join(line, " "))
			line = line[:0]
		}
	}
	r.mu.Unlock()
	b, _ := json.Marshal(rep)
	fmt.Println("RESULT", string(b))
	time.Sleep(2 * time.Minute) // keep the pins until the parent kills us
	return 0
}

// ---- the squatter and the server (children) -------------------------------

func childAdvSquat(args []string) int {
	dir := args[0]
	lo, _ := strconv.Atoi(args[1])
	hi, _ := strconv.Atoi(args[2])
	nmax, _ := strconv.Atoi(args[3])
	made := 0
	mk := func(name string, kind int) {
		p := filepath.Join(dir, name)
		var err error
		switch kind % 4 {
		case 0:
			err = os.WriteFile(p, []byte("squatter's "+name+"\n"), 0o600)
		case 1:
			err = os.Mkdir(p, 0o700)
		case 2:
			err = unix.Mkfifo(p, 0o600)
		default:
			err = os.Symlink("s.sock", p)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "squat:", err)
			os.Exit(1)
		}
		made++
	}
	for pid := lo; pid <= hi; pid++ {
		for n := 0; n <= nmax; n++ {
			mk(fmt.Sprintf(".uds-remove-%d-%d", pid, n), pid*7+n)
		}
	}
	for i, name := range []string{".uds-", ".uds-remove-", ".uds-remove--1", ".uds-lock", ".uds-tmp", ".uds-remove-0-0", ".uds-aside", ".uds-rm-"} {
		mk(name, i)
	}
	// Names of the form of a private directory (a prefix and 32 hex
	// digits): files, FIFOs, directories holding a stale socket of the
	// squatter's, and symbolic links to a directory of root's elsewhere
	// that holds a stale socket of root's.
	for i := 0; i < 40; i++ {
		var rnd [16]byte
		for j := range rnd {
			rnd[j] = byte(rand.IntN(256))
		}
		name := fmt.Sprintf(".uds-%s-%x", []string{"rm", "tmp", "aside", "remove"}[i%4], rnd)
		switch i % 5 {
		case 0, 1:
			mk(name, i)
		case 2, 3:
			if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
				fmt.Fprintln(os.Stderr, "squat:", err)
				return 1
			}
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				err = unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(dir, name, "f")})
				unix.Close(fd)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "squat:", err)
				return 1
			}
			made++
		default:
			if err := os.Symlink(args[4], filepath.Join(dir, name)); err != nil {
				fmt.Fprintln(os.Stderr, "squat:", err)
				return 1
			}
			made++
		}
	}
	// A directory that holds a file.
	mk(".uds-box", 1)
	if err := os.WriteFile(filepath.Join(dir, ".uds-box", "inside"), []byte("squatter's file in a box\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "squat:", err)
		return 1
	}
	fmt.Println(childproc.Ready, made)
	return 0
}

type advServerResult struct {
	OK  bool
	Err string
}

func childAdvServer(args []string) int {
	ctl := bufio.NewReader(os.NewFile(3, "ctl"))
	fmt.Println(childproc.Ready, os.Getpid())
	if _, err := ctl.ReadString('\n'); err != nil {
		return 1
	}
	report := func(what string, err error) {
		r := advServerResult{OK: err == nil}
		if err != nil {
			r.Err = err.Error()
		}
		b, _ := json.Marshal(r)
		fmt.Println(what, string(b))
	}
	ln, err := uds.Listen(context.Background(), uds.Path(args[0]))
	report("LISTEN", err)
	if err != nil {
		return 0
	}
	go echoLoop(ln)
	_, _ = ctl.ReadString('\n')
	report("CLOSE", ln.Close())
	return 0
}

// ---- the parent's side ------------------------------------------------------

// advSysctl sets a /proc/sys value for the test and restores it after. The
// returned function fails the test if the value has been changed since
// (the settings are the whole machine's: another test binary may change
// them too).
func advSysctl(t *testing.T, path, value string) (check func(t *testing.T)) {
	t.Helper()
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(value), 0o644), "set %s", path)
	t.Cleanup(func() {
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Errorf("restore %s to %q: %v", path, strings.TrimSpace(string(old)), err)
		}
	})
	return func(t *testing.T) {
		t.Helper()
		now, err := os.ReadFile(path)
		if assert.NoError(t, err) {
			assert.Equal(t, value, strings.TrimSpace(string(now)), "%s was changed by another process during the test: the attacks it enables were not all made", path)
		}
	}
}

// advVictim is a root file the neighbour can read and hard-link.
type advVictim struct {
	path string
	data string
}

// advMkdir makes dir with exactly mode and owner.
func advMkdir(t *testing.T, dir string, mode os.FileMode, uid int) {
	t.Helper()
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chmod(dir, mode))
	require.NoError(t, os.Chown(dir, uid, uid))
}

// advDescribe names the file at p with its owner, mode and, for a
// directory, what it holds.
func advDescribe(p string) string {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Sprintf("%s (%v)", filepath.Base(p), err)
	}
	s := fmt.Sprintf("%s (%d:%d %#o)", filepath.Base(p), st.Uid, st.Gid, st.Mode)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		ents, _ := os.ReadDir(p)
		var in []string
		for _, e := range ents {
			in = append(in, advDescribe(filepath.Join(p, e.Name())))
		}
		s += fmt.Sprintf(" holding %v", in)
	}
	return s
}

// advErrors counts errors by kind, with one example each.
type advErrors struct {
	n       map[string]int
	example map[string]string
}

func (e *advErrors) add(kind, text string) {
	if e.n == nil {
		e.n, e.example = map[string]int{}, map[string]string{}
	}
	e.n[kind]++
	if _, ok := e.example[kind]; !ok {
		e.example[kind] = text
	}
}

func (e *advErrors) String() string {
	var keys []string
	for k := range e.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n    %6d  %s (e.g. %q)", e.n[k], k, e.example[k])
	}
	return b.String()
}

var (
	advDigits  = regexp.MustCompile(`\d+`)
	advUDSName = regexp.MustCompile(`\.uds-[0-9A-Za-z-]+`)
)

// advErrKind names what kind of Listen or Close error err is.
func advErrKind(err error, dir string) (kind, text string) {
	text = strings.ReplaceAll(relOneLine(err), dir+"/", "DIR/")
	switch {
	case errors.Is(err, uds.ErrInUse):
		return "ErrInUse", text
	case errors.Is(err, uds.ErrNotSocket):
		return "ErrNotSocket", text
	}
	// Other errors, grouped by their text without names and numbers.
	return "other: " + advDigits.ReplaceAllString(advUDSName.ReplaceAllString(text, ".uds-NAME"), "N"), text
}

// TestAdversaryRaces: see the top of this file.
func TestAdversaryRaces(t *testing.T) {
	testutil.RequireRoot(t)
	// The worst case: no kernel protection for links, FIFOs and regular
	// files in world-writable directories.
	var checks []func(*testing.T)
	for _, name := range []string{"protected_hardlinks", "protected_symlinks", "protected_fifos", "protected_regular"} {
		checks = append(checks, advSysctl(t, "/proc/sys/fs/"+name, "0"))
	}

	cycles := relSize(1000, 10000)
	limit := 10 * time.Second
	if relLong() {
		limit = 10 * time.Minute
	}
	root := testutil.MkSockDir(t)
	require.NoError(t, os.Chmod(root, 0o755))
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{
		{"sticky", 0o777 | os.ModeSticky},
		{"writable", 0o777},
	} {
		t.Run(d.name, func(t *testing.T) {
			advRace(t, filepath.Join(root, d.name), d.name, d.mode, cycles, limit)
			for _, check := range checks {
				check(t)
			}
		})
	}
}

// advLastCycles is how many cycles run in the last phase, with hard links
// to root's files at the lock file's name and at the path.
const advLastCycles = 20

// advRace runs the cycles in a directory of the given mode under area
// (made here, with root's files beside it on the same file system), with a
// neighbour racing them, and checks that nothing of anyone else's changed.
func advRace(t *testing.T, area, name string, mode os.FileMode, cycles int, limit time.Duration) {
	advMkdir(t, area, 0o755, 0)
	dir, stash, victimsDir := filepath.Join(area, "d"), filepath.Join(area, "stash"), filepath.Join(area, "victims")
	advMkdir(t, dir, mode, 0)
	advMkdir(t, stash, 0o755, advUID)
	advMkdir(t, victimsDir, 0o755, 0)
	var victims []advVictim
	for i := 0; i < 4; i++ {
		v := advVictim{path: filepath.Join(victimsDir, fmt.Sprintf("v%d", i)), data: fmt.Sprintf("root's file %d: must never change\n", i)}
		require.NoError(t, os.WriteFile(v.path, []byte(v.data), 0o644))
		require.NoError(t, os.Chmod(v.path, 0o644))
		victims = append(victims, v)
	}
	path := filepath.Join(dir, "s.sock")

	ctlR, ctlW, err := os.Pipe()
	require.NoError(t, err)
	defer ctlW.Close()
	c := childproc.Start(t, childproc.Options{Credential: advNobody(), ExtraFiles: []*os.File{ctlR}},
		roleAdvRacer, dir, stash, victimsDir, strconv.Itoa(os.Getpid()))
	ctlR.Close()
	c.WaitReady()

	ctx := context.Background()
	configs := []uds.ListenConfig{
		{Mode: 0o660, Owner: "0", Group: "0"},
		{},
		{Mode: 0o660, Owner: "0", Group: "0"},
		{Mode: 0o660},
	}
	var listenErrs, closeErrs advErrors
	// .uds-* names that an error reported to the caller (a file kept aside
	// because it could not be put back).
	reported := map[string]bool{}
	report := func(errs *advErrors, err error) {
		kind, text := advErrKind(err, dir)
		errs.add(kind, text)
		for _, m := range advUDSName.FindAllString(err.Error(), -1) {
			reported[m] = true
		}
	}
	listened, n := 0, 0
	cycle := func() {
		lc := configs[n%len(configs)]
		n++
		ln, err := lc.Listen(ctx, uds.Path(path))
		if err != nil {
			report(&listenErrs, err)
			// A refusal is quick: wait a moment, so that the cycles do
			// not all fall on one file the neighbour left in place.
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
			return
		}
		listened++
		if err := ln.Close(); err != nil {
			report(&closeErrs, err)
		}
	}
	start := time.Now()
	for deadline := start.Add(limit); n < cycles && time.Now().Before(deadline); {
		cycle()
	}
	listenedRacing := listened
	// The last phase: hard links to root's files at the lock file's name
	// and at the path (in a sticky directory the neighbour could never take
	// them back, so they come only now).
	_, err = io.WriteString(ctlW, "final\n")
	require.NoError(t, err)
	var final string
	for final == "" {
		final, _ = strings.CutPrefix(c.Line(60*time.Second), "FINAL ")
	}
	require.Contains(t, final, "lock=true", "the neighbour could not put a hard link to root's file at the lock file's name")
	for k := 0; k < advLastCycles; k++ {
		cycle()
	}
	assert.Equal(t, listenedRacing, listened, "Listen succeeded with a hard link to root's file at the lock file's name")
	elapsed := time.Since(start)

	// Stop the neighbour and read its report.
	ctlW.Close()
	inv := map[uint64]uint32{}
	var rep advReport
	for {
		l := c.Line(60 * time.Second)
		if rest, ok := strings.CutPrefix(l, "INV "); ok {
			for _, f := range strings.Fields(rest) {
				ino, m, _ := strings.Cut(f, ":")
				i, _ := strconv.ParseUint(ino, 10, 64)
				md, _ := strconv.ParseUint(m, 8, 32)
				inv[i] = uint32(md)
			}
			continue
		}
		if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), &rep))
			break
		}
	}
	require.Empty(t, rep.Err, "the neighbour failed to set up; stderr:\n%s", c.Stderr())

	// Root's files: content, mode and owner as they were, and every hard
	// link the neighbour made to them still there (it never removes one).
	var problems []string
	for _, v := range victims {
		b, err := os.ReadFile(v.path)
		var st unix.Stat_t
		switch {
		case err != nil || unix.Lstat(v.path, &st) != nil:
			problems = append(problems, fmt.Sprintf("root's %s is gone: %v", v.path, err))
			continue
		case string(b) != v.data:
			problems = append(problems, fmt.Sprintf("root's %s was written: %q, want %q", v.path, b, v.data))
		}
		if st.Mode != unix.S_IFREG|0o644 || st.Uid != 0 || st.Gid != 0 {
			problems = append(problems, fmt.Sprintf("root's %s: mode %#o owner %d:%d, want 0100644 0:0", v.path, st.Mode, st.Uid, st.Gid))
		}
		if want := 1 + rep.Links[v.path]; uint64(st.Nlink) != uint64(want) {
			problems = append(problems, fmt.Sprintf("root's %s has %d links, want %d (1 + %d the neighbour made): the server removed a hard link of the neighbour's", v.path, st.Nlink, want, rep.Links[v.path]))
		}
	}
	// The neighbour's files, as it saw them through its pins.
	touched := len(problems) + rep.Touched
	problems = append(problems, rep.Problems...)

	// The parent's own look: every file of the neighbour's still has its
	// owner and mode; nothing of the neighbour's has the server's mode; no
	// .uds-* file of root's is left in the directory.
	var leftovers, keptAside []string
	for _, d := range []string{dir, stash} {
		err := filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil {
				return nil
			}
			if m, ok := inv[st.Ino]; ok && (st.Uid != advUID || st.Gid != advUID || st.Mode != m) {
				touched++
				problems = append(problems, fmt.Sprintf("%s (the neighbour's): owner %d:%d mode %#o, was %d:%d %#o", p, st.Uid, st.Gid, st.Mode, advUID, advUID, m))
			}
			if st.Uid == advUID && st.Mode&0o7777 == 0o660 {
				touched++
				problems = append(problems, fmt.Sprintf("%s (the neighbour's) has the server's mode 0660", p))
			}
			if filepath.Dir(p) == dir && st.Uid == 0 && strings.HasPrefix(e.Name(), ".uds-") {
				if reported[e.Name()] {
					keptAside = append(keptAside, advDescribe(p))
				} else {
					leftovers = append(leftovers, advDescribe(p))
				}
			}
			if e.IsDir() && p != d && st.Uid != advUID {
				return filepath.SkipDir // root's (a private directory taken into the stash)
			}
			return nil
		})
		require.NoError(t, err)
	}
	c.Kill()

	var counts []string
	for k, v := range rep.Counts {
		counts = append(counts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(counts)
	t.Logf("ADVERSARY %s: %d cycles, %d adversary renames, files touched %d", name, n, rep.Counts["renames"], touched)
	vlinks := 0
	for _, k := range rep.Links {
		vlinks += k
	}
	t.Logf("  %v; Listen succeeded %d times (%d of them while racing); the neighbour made %d files of its own and %d hard links to root's files; root connected to its trap through a swapped symbolic link %d times",
		elapsed.Round(time.Millisecond), listened, listenedRacing, rep.Objects, vlinks, rep.TrapRoot)
	t.Logf("  Listen errors:%s", listenErrs.String())
	t.Logf("  Close errors:%s", closeErrs.String())
	if len(keptAside) > 0 {
		t.Logf("  kept aside, as errors reported: %v", keptAside)
	}
	t.Logf("  neighbour: %s", strings.Join(counts, ", "))

	if len(problems) > 40 {
		problems = append(problems[:40], fmt.Sprintf("... and %d more", len(problems)-40))
	}
	assert.Zero(t, touched, "the server changed, removed, chmodded or chowned files of root's or of the neighbour's:\n%s", strings.Join(problems, "\n"))
	assert.Zero(t, rep.TrapRoot, "the probe followed a symbolic link swapped in after lstat and connected to the neighbour's socket as root")
	assert.Empty(t, leftovers, "root's .uds-* files left in %s that no error reported", dir)
	assert.Greater(t, listenedRacing, cycles/50, "too few Listen calls succeeded for the race to reach bind often")
}

// TestAdversaryAsideSquatting: a neighbour creates, in advance, files at
// every name of the form .uds-remove-<pid>-<n> for a range of PIDs around
// the next server's (and other .uds-* names). A server killed with SIGKILL
// left its socket and lock file; the next server must still reclaim the
// path, and its Close must remove its socket and lock file, leave no
// .uds-* file of its own, and leave every file of the squatter's as it
// was.
func TestAdversaryAsideSquatting(t *testing.T) {
	testutil.RequireRoot(t)
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{
		{"writable", 0o777},
		{"sticky", 0o777 | os.ModeSticky},
	} {
		t.Run(d.name, func(t *testing.T) {
			root := testutil.MkSockDir(t)
			require.NoError(t, os.Chmod(root, 0o755))
			dir := filepath.Join(root, "d")
			advMkdir(t, dir, d.mode, 0)
			// A directory of root's elsewhere, with a stale socket of root's
			// in it, that the squatter's symbolic links lead to.
			elsewhere := filepath.Join(root, "elsewhere")
			advMkdir(t, elsewhere, 0o700, 0)
			relStaleSocket(t, filepath.Join(elsewhere, "f"))
			elsewhereBefore := relTree(t, elsewhere)
			path := filepath.Join(dir, "s.sock")
			makeStale(t, path)
			require.FileExists(t, path+".lock", "the killed server's lock file")

			// The next server, waiting to listen.
			ctlR, ctlW, err := os.Pipe()
			require.NoError(t, err)
			defer ctlW.Close()
			srv := childproc.Start(t, childproc.Options{ExtraFiles: []*os.File{ctlR}}, roleAdvServer, path)
			ctlR.Close()
			pid, err := strconv.Atoi(srv.WaitReady())
			require.NoError(t, err)

			sq := childproc.Start(t, childproc.Options{Credential: advNobody()}, roleAdvSquat,
				dir, strconv.Itoa(max(pid-50, 2)), strconv.Itoa(pid+50), "32", elsewhere)
			made := sq.WaitReady()
			require.Zero(t, sq.Wait(30*time.Second), "squatter: %s", sq.Stderr())
			before := relTree(t, dir)

			_, err = io.WriteString(ctlW, "listen\n")
			require.NoError(t, err)
			var res advServerResult
			l := srv.Line(30 * time.Second)
			rest, ok := strings.CutPrefix(l, "LISTEN ")
			require.True(t, ok, "server: %q", l)
			require.NoError(t, json.Unmarshal([]byte(rest), &res))
			listened := assert.True(t, res.OK, "the server must reclaim the stale socket despite %s squatted names: %s", made, res.Err)
			if listened {
				got, err := echoCheckPID(path)
				assert.NoError(t, err, "the new server answers on the path")
				assert.Equal(t, pid, got, "the path is the new server's")
				_, err = io.WriteString(ctlW, "close\n")
				require.NoError(t, err)
				l = srv.Line(30 * time.Second)
				rest, ok = strings.CutPrefix(l, "CLOSE ")
				require.True(t, ok, "server: %q", l)
				require.NoError(t, json.Unmarshal([]byte(rest), &res))
				assert.True(t, res.OK, "Close must succeed despite the squatted names: %s", res.Err)
				assertNotExist(t, path)
				assertNotExist(t, path+".lock")
			}
			srv.Wait(30 * time.Second)

			after := relTree(t, dir)
			var created, changed []string
			for p, e := range after {
				if p == "s.sock" || p == "s.sock.lock" {
					continue // checked above
				}
				b, ok := before[p]
				switch {
				case !ok:
					created = append(created, p)
				case b != e:
					changed = append(changed, fmt.Sprintf("%s: %+v -> %+v", p, b, e))
				}
			}
			var removed []string
			for p := range before {
				if _, ok := after[p]; !ok && p != "s.sock" && p != "s.sock.lock" {
					removed = append(removed, p)
				}
			}
			sort.Strings(created)
			sort.Strings(changed)
			sort.Strings(removed)
			assert.Empty(t, created, "files left behind by the server (.uds-* names that are not the squatter's)")
			assert.Empty(t, changed, "the squatter's files changed")
			assert.Empty(t, removed, "the squatter's files removed")
			var owners []string
			for p := range after {
				if !strings.HasPrefix(p, ".uds-") {
					continue
				}
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(dir, p), &st); err == nil && (st.Uid != advUID || st.Gid != advUID) {
					owners = append(owners, fmt.Sprintf("%s: %d:%d", p, st.Uid, st.Gid))
				}
			}
			assert.Empty(t, owners, "the squatter's files chowned, or .uds-* files of another user's")
			assert.Empty(t, relTreeDiff(elsewhereBefore, relTree(t, elsewhere)), "the server followed a squatter's symbolic link into a directory of root's")
			outcome := "reclaimed, listened and closed"
			if res.Err != "" {
				outcome = res.Err
			}
			t.Logf("ADVERSARY aside squatting (%s): %s names squatted around PID %d: %s; files created %d, changed %d, removed %d",
				d.name, made, pid, outcome, len(created), len(changed), len(removed))
		})
	}
}
