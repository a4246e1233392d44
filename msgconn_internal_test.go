//go:build linux

package uds

// In package uds, not uds_test: these tests fuzz unexported parsers
// (parseControlInto, walkControl), as the other _internal_test.go files test
// unexported code.

// Reliability area 6: fuzzing of the decoders that read what the kernel
// hands back: control messages (parseControlInto, walkControl) here, socket
// addresses (decodeSockaddr, decodeInto) in sockaddr_internal_test.go. The
// control-message parsers close descriptors, so the fuzzed buffers never name
// a descriptor this process did not open for the purpose: every word a parser
// may read as a descriptor is replaced with a decoy (a memfd opened for the
// run) or with -1 or a huge number, and after each run every other descriptor
// of the process must still be open and the same file.
//
// The address fuzzers of the public API are in addr_test.go.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ---- control messages -------------------------------------------------------

const (
	fuzzDecoys = 12
	sizeofCmsg = unix.SizeofCmsghdr
)

// fuzzSpecials are the non-descriptors a buffer may name instead of a decoy.
var fuzzSpecials = [...]int32{-1, math.MaxInt32, math.MinInt32, 1 << 24}

type fuzzSlot struct {
	off   int // offset of the word in the buffer
	typ   int32
	nth   int // index of the word in its message's data
	hdr   int // index of the message
	fd    int32
	decoy int // index in the decoys, -1 for a special value
}

// fuzzWalk walks ctl as the kernel's CMSG_NXTHDR does, reading a message
// whose cmsg_len runs past the buffer (whatever its size) as far as the
// buffer goes, and stopping there.
func fuzzWalk(ctl []byte, fn func(off int, level, typ int32, data []byte)) {
	off := 0
	for len(ctl)-off >= sizeofCmsg {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[off]))
		l, rest := uint64(h.Len), uint64(len(ctl)-off)
		if l < sizeofCmsg {
			return
		}
		fn(off, h.Level, h.Type, ctl[off+sizeofCmsg:off+int(min(l, rest))])
		if l > rest {
			return
		}
		next := (l + 7) &^ 7
		if next > rest {
			return
		}
		off += int(next)
	}
}

// fuzzFDs is the set of descriptors of this process, with their identity.
type fuzzFDs map[int][2]uint64

func fuzzSnapshot(upTo int) fuzzFDs {
	s := fuzzFDs{}
	for fd := 0; fd <= upTo; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			s[fd] = [2]uint64{uint64(st.Dev), st.Ino}
		}
	}
	return s
}

func fuzzSame(fd int, id [2]uint64) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && uint64(st.Dev) == id[0] && st.Ino == id[1]
}

// fuzzControl prepares a fuzzed control buffer: it opens the decoys and
// rewrites every descriptor word (SCM_RIGHTS data, SCM_PIDFD data) to name
// a decoy or a special value, chosen by the fuzzed word. It returns the
// buffer, the slots, the decoys and a snapshot of the process's other
// descriptors.
func fuzzControl(t *testing.T, in []byte) (ctl []byte, slots []fuzzSlot, decoys []int, ids [][2]uint64, others fuzzFDs) {
	// The buffer is 8-aligned, as the kernel's is.
	backing := make([]uint64, (len(in)+7)/8)
	ctl = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(backing))), len(backing)*8)[:len(in)]
	copy(ctl, in)
	hdr := 0
	fuzzWalk(ctl, func(off int, level, typ int32, data []byte) {
		if level == unix.SOL_SOCKET && (typ == unix.SCM_RIGHTS || typ == unix.SCM_PIDFD) {
			for i := 0; i+4 <= len(data); i += 4 {
				slots = append(slots, fuzzSlot{off: off + sizeofCmsg + i, typ: typ, nth: i / 4, hdr: hdr})
			}
		}
		hdr++
	})
	decoys, ids = fuzzPool.ensure(t)
	next := 0
	for i := range slots {
		s := &slots[i]
		w := binary.LittleEndian.Uint32(ctl[s.off:])
		s.decoy = -1
		if w%4 != 3 && next < len(decoys) {
			s.decoy = next
			s.fd = int32(decoys[next])
			next++
		} else {
			s.fd = fuzzSpecials[(w/4)%uint32(len(fuzzSpecials))]
		}
		binary.LittleEndian.PutUint32(ctl[s.off:], uint32(s.fd))
	}
	others = fuzzSnapshot(slices.Max(decoys) + 16)
	for _, d := range decoys {
		delete(others, d)
	}
	return ctl, slots, decoys, ids, others
}

// fuzzDecoyPool keeps the decoys open from one run to the next; a run
// reopens those that the previous one closed.
type fuzzDecoyPool struct {
	fds [fuzzDecoys]int
	ids [fuzzDecoys][2]uint64
	ok  bool
}

var fuzzPool fuzzDecoyPool

func (p *fuzzDecoyPool) ensure(t *testing.T) ([]int, [][2]uint64) {
	for i := range p.fds {
		if p.ok && fuzzSame(p.fds[i], p.ids[i]) {
			continue
		}
		fd, err := unix.MemfdCreate(fmt.Sprintf("decoy-%d", i), unix.MFD_CLOEXEC)
		if err != nil {
			t.Fatalf("memfd_create: %v", err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		p.fds[i], p.ids[i] = fd, [2]uint64{uint64(st.Dev), st.Ino}
	}
	p.ok = true
	return p.fds[:], p.ids[:]
}

// fuzzCheckOthers fails if a descriptor that was not in the buffer changed.
func fuzzCheckOthers(t *testing.T, others fuzzFDs) {
	t.Helper()
	for fd, id := range others {
		if !fuzzSame(fd, id) {
			t.Fatalf("descriptor %d, which was not in the buffer, was closed or replaced", fd)
		}
	}
}

func fuzzControlSeeds(f *testing.F) {
	cm := func(level, typ int32, data []byte, lenDelta int) []byte {
		l := sizeofCmsg + len(data)
		b := make([]byte, (l+7)&^7)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = level, typ
		h.SetLen(l + lenDelta)
		copy(b[sizeofCmsg:], data)
		return b
	}
	words := func(ws ...uint32) []byte {
		b := make([]byte, 4*len(ws))
		for i, w := range ws {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return b
	}
	ucred := words(1234, 1000, 1000)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, s := range [][]byte{
		nil,
		cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0, 1, 2), 0),
		cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), 0),
		cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(3, 7, 11), 0), // specials
		cat(cm(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, ucred, 0), cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0, 1), 0)),
		cat(cm(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, ucred, 0), cm(unix.SOL_SOCKET, unix.SCM_PIDFD, words(0), 0),
			cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(1, 2), 0)),
		cat(cm(unix.SOL_SOCKET, unix.SCM_PIDFD, words(0), 0), cm(unix.SOL_SOCKET, unix.SCM_PIDFD, words(1), 0)),
		cat(cm(unix.SOL_SOCKET, unix.SCM_PIDFD, words(3), 0), cm(unix.SOL_SOCKET, unix.SCM_PIDFD, words(1), 0),
			cm(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, ucred, 0)),
		cm(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, words(0, 0, 0), 0),
		cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0, 1, 2), 64),  // claims more than arrived
		cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0, 1, 2), -3),  // unaligned
		cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0, 1, 2), -16), // too short
		cm(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16), 0),
		cat(cm(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16), 0), cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0), 0)),
		cm(unix.SOL_IP, unix.SCM_RIGHTS, words(0, 1), 0), // another level
		cm(unix.SOL_SOCKET, 99, words(0, 1), 0),
		cat(cm(unix.SOL_SOCKET, unix.SCM_RIGHTS, words(0), 0), []byte{1, 2, 3}),
		make([]byte, 15),
	} {
		f.Add(s, true, uint8(4))
	}
}

// fuzzCmsgRef is what the walk finds: the credentials and descriptor slots
// in order.
type fuzzCmsgRef struct {
	creds  []unix.Ucred // valid SCM_CREDENTIALS (pid != 0), in order
	rights []int        // slot indices of SCM_RIGHTS words, in order
	pidfds []int        // slot indices of the first word of each SCM_PIDFD
}

func fuzzRef(ctl []byte, slots []fuzzSlot) fuzzCmsgRef {
	var r fuzzCmsgRef
	fuzzWalk(ctl, func(off int, level, typ int32, data []byte) {
		if level == unix.SOL_SOCKET && typ == unix.SCM_CREDENTIALS && len(data) >= unix.SizeofUcred {
			uc := *(*unix.Ucred)(unsafe.Pointer(&data[0]))
			if uc.Pid != 0 {
				r.creds = append(r.creds, uc)
			}
		}
	})
	for i, s := range slots {
		switch {
		case s.typ == unix.SCM_RIGHTS:
			r.rights = append(r.rights, i)
		case s.typ == unix.SCM_PIDFD && s.nth == 0:
			r.pidfds = append(r.pidfds, i)
		}
	}
	return r
}

// FuzzParseControl: parseControlInto closes every SCM_RIGHTS descriptor and
// every SCM_PIDFD but the one it hands out in the credentials, fills the
// credentials from the last valid SCM_CREDENTIALS, and touches no other
// descriptor.
func FuzzParseControl(f *testing.F) {
	fuzzControlSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte, wantCred bool, _ uint8) {
		ctl, slots, decoys, ids, others := fuzzControl(t, in)
		ref := fuzzRef(ctl, slots)
		var cred *Cred
		if wantCred {
			cred = &Cred{PID: 77, UID: 77, GID: 77}
		}
		err := parseControlInto(ctl, cred)
		fuzzCheckOthers(t, others)

		kept := -1 // the slot whose descriptor is cred.PIDFD
		if cred != nil {
			if cred.PIDFD != nil {
				fd := int(cred.PIDFD.Fd())
				for _, i := range ref.pidfds {
					if int(slots[i].fd) == fd {
						kept = i
						break
					}
				}
				if kept < 0 {
					t.Fatalf("cred.PIDFD is descriptor %d, which no SCM_PIDFD named", fd)
				}
				// The first SCM_PIDFD that names a descriptor (>= 0).
				for _, i := range ref.pidfds {
					if slots[i].fd >= 0 {
						if i != kept {
							t.Fatalf("cred.PIDFD is the SCM_PIDFD of slot %d, want the first, slot %d", kept, i)
						}
						break
					}
				}
			}
			switch {
			case len(ref.creds) > 0:
				if err != nil {
					t.Fatalf("credentials present, err %v", err)
				}
				uc := ref.creds[len(ref.creds)-1]
				if cred.PID != int(uc.Pid) || cred.UID != int(uc.Uid) || cred.GID != int(uc.Gid) {
					t.Fatalf("cred %+v, want the last SCM_CREDENTIALS %+v", *cred, uc)
				}
			default:
				if err != ErrNoCredentials {
					t.Fatalf("no credentials: err %v, want ErrNoCredentials", err)
				}
				if cred.PID != 0 || cred.UID != -1 || cred.GID != -1 || cred.PIDFD != nil {
					t.Fatalf("no credentials: cred %+v", *cred)
				}
			}
		} else if err != nil {
			t.Fatalf("no credentials asked for: err %v", err)
		}
		inSlot := make([]bool, len(decoys))
		for i, s := range slots {
			if s.decoy < 0 {
				continue
			}
			inSlot[s.decoy] = true
			open := fuzzSame(decoys[s.decoy], ids[s.decoy])
			wantOpen := i == kept || (s.typ == unix.SCM_PIDFD && s.nth > 0)
			if open != wantOpen {
				t.Fatalf("slot %d (%+v): open %v, want %v", i, s, open, wantOpen)
			}
		}
		for d := range decoys {
			if !inSlot[d] && !fuzzSame(decoys[d], ids[d]) {
				t.Fatalf("decoy %d was closed though the buffer did not name it", d)
			}
		}
		if cred != nil && cred.PIDFD != nil {
			cred.PIDFD.Close()
		}
	})
}

// FuzzTakeRights: walkControl hands out the first len(fds) SCM_RIGHTS
// descriptors in order, closes the rest and every SCM_PIDFD, counts them
// all, and touches no other descriptor.
func FuzzTakeRights(f *testing.F) {
	fuzzControlSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte, _ bool, room uint8) {
		ctl, slots, decoys, ids, others := fuzzControl(t, in)
		ref := fuzzRef(ctl, slots)
		const sentinel = -7
		fds := make([]int, int(room)%(MaxFilesPerMessage+2))
		for i := range fds {
			fds[i] = sentinel
		}
		nfd, seen, _ := walkControl(ctl, fds, nil)
		fuzzCheckOthers(t, others)
		if seen != len(ref.rights) {
			t.Fatalf("seen %d, want %d", seen, len(ref.rights))
		}
		if want := min(seen, len(fds)); nfd != want {
			t.Fatalf("nfd %d, want %d", nfd, want)
		}
		for i := range fds {
			switch {
			case i < nfd && fds[i] != int(slots[ref.rights[i]].fd):
				t.Fatalf("fds[%d] = %d, want %d", i, fds[i], slots[ref.rights[i]].fd)
			case i >= nfd && fds[i] != sentinel:
				t.Fatalf("fds[%d] = %d beyond the %d stored", i, fds[i], nfd)
			}
		}
		inSlot := make([]bool, len(decoys))
		for i, s := range slots {
			if s.decoy < 0 {
				continue
			}
			inSlot[s.decoy] = true
			stored := s.typ == unix.SCM_RIGHTS && slices.Index(ref.rights, i) < nfd
			wantOpen := stored || (s.typ == unix.SCM_PIDFD && s.nth > 0)
			if open := fuzzSame(decoys[s.decoy], ids[s.decoy]); open != wantOpen {
				t.Fatalf("slot %d (%+v): open %v, want %v", i, s, open, wantOpen)
			}
		}
		for d := range decoys {
			if !inSlot[d] && !fuzzSame(decoys[d], ids[d]) {
				t.Fatalf("decoy %d was closed though the buffer did not name it", d)
			}
		}
	})
}

// TestReliabilityControlHugeLen: a control message whose cmsg_len is beyond
// math.MaxInt64-7 (the kernel never writes one, but the parsers read
// buffers as untrusted) must end the walk, not panic. (Both parsers
// panicked on it when the fuzzers were written.)
func TestReliabilityControlHugeLen(t *testing.T) {
	if unsafe.Sizeof(unix.Cmsghdr{}.Len) != 8 {
		t.Skip("cmsg_len is 32 bits on this architecture: no such length fits")
	}
	for _, l := range []uint64{1 << 63, math.MaxUint64, math.MaxInt64, math.MaxInt64 - 3} {
		for _, typ := range []int32{unix.SCM_RIGHTS, unix.SCM_PIDFD, unix.SCM_CREDENTIALS} {
			ctl := make([]byte, 32)
			h := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
			*(*uint64)(unsafe.Pointer(&h.Len)) = l
			h.Level, h.Type = unix.SOL_SOCKET, typ
			for i := 16; i < len(ctl); i++ {
				ctl[i] = 0xff // descriptors -1: nothing to close by mistake
			}
			var msgs []string
			for name, f := range map[string]func(){
				"parseControlInto": func() { _ = parseControlInto(ctl, &Cred{}) },
				"walkControl":      func() { walkControl(ctl, make([]int, 4), nil) },
			} {
				func() {
					defer func() {
						if r := recover(); r != nil {
							msgs = append(msgs, fmt.Sprintf("%s panics: %v", name, r))
						}
					}()
					f()
				}()
			}
			slices.Sort(msgs)
			if len(msgs) > 0 {
				t.Errorf("cmsg_len %#x, type %d:\n%s", l, typ, strings.Join(msgs, "\n"))
			}
		}
	}
}
