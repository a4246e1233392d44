// Package activation takes the sockets a service manager passes to a
// process by systemd's socket activation protocol (sd_listen_fds(3)):
// descriptors 3, 4, ... counted by LISTEN_FDS, meant for the process whose
// PID is LISTEN_PID, and named by LISTEN_FDNAMES.
//
// Get reads the environment once and returns the Set of descriptors passed.
// Each one is handed out once, by name, as the uds type of its socket
// (Set.Listener, Set.DatagramConn) with its exact bound address, or as an
// *os.File (Set.File) for descriptors uds does not wrap. Sockets passed in
// are never unlinked by uds, since the service manager owns their paths.
//
// When the process was not socket-activated (started by hand, or the
// variables name another process), the Set is empty and taking a socket
// fails with an error wrapping os.ErrNotExist, so that a program can fall
// back to listening itself.
package activation

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/udskit/uds"
)

// Set is the set of descriptors a service manager passed to this process.
// Get returns it. A Set is safe for concurrent use.
type Set struct {
	mu    sync.Mutex
	files []passedFile
}

type passedFile struct {
	name  string
	file  *os.File // nil once taken
	taken bool
}

var (
	getOnce sync.Once
	got     *Set
	gotErr  error
)

// envVars are the variables of the protocol, which Get(true) unsets.
var envVars = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"}

// Get returns the descriptors passed by the service manager. The
// environment is read once, on the first call, and the result cached: later
// calls return the same Set and error. Descriptors are marked close-on-exec
// at once, so that they do not leak into child processes. If unsetEnv is
// true on the first call, LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES and
// LISTEN_PIDFDID are removed from the environment (so that children do not
// think the sockets are theirs).
//
// The names come from LISTEN_FDNAMES by systemd's rule
// (sd_listen_fds_with_names): it is split at every ':' and must hold exactly
// one name per descriptor of LISTEN_FDS, empty names included ("a::b" names
// three descriptors, the second ""; "" names one, ""). A count that differs
// is an error that gives both counts, and no name is dropped or guessed.
// When LISTEN_FDNAMES is not set, every descriptor is named "unknown".
//
// When no descriptors were passed to this process (the variables are
// missing, or LISTEN_PID names another process), the Set is empty and the
// error nil. An error means the variables are malformed (LISTEN_FDS not a
// count, more than the descriptor limit RLIMIT_NOFILE allows, or
// LISTEN_FDNAMES naming more or fewer descriptors than it counts) or name
// descriptors that are not open; the Set is then empty and every descriptor
// is left as it was. The Set is never nil.
func Get(unsetEnv bool) (*Set, error) {
	getOnce.Do(func() {
		got, gotErr = parseEnv()
		if unsetEnv {
			for _, v := range envVars {
				os.Unsetenv(v)
			}
		}
	})
	return got, gotErr
}

// listenFDsStart is the first descriptor passed (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// parseEnv reads the protocol's variables and claims the descriptors they
// name.
func parseEnv() (*Set, error) {
	s := &Set{}
	pidText, ok := os.LookupEnv("LISTEN_PID")
	if !ok {
		return s, nil
	}
	if pidText != strconv.Itoa(os.Getpid()) {
		return s, nil // meant for another process
	}
	nText, ok := os.LookupEnv("LISTEN_FDS")
	if !ok {
		return s, nil // as sd_listen_fds: no count, no descriptors
	}
	n, err := strconv.Atoi(nText)
	if err != nil || n < 0 || strconv.Itoa(n) != nText {
		return s, fmt.Errorf("activation: LISTEN_FDS=%q is not a count of descriptors", nText)
	}
	// A count past the descriptor table cannot be right; it is refused
	// before anything is sized by it.
	if limit := maxInheritedFD() - listenFDsStart; n > limit {
		return s, fmt.Errorf("activation: LISTEN_FDS=%d is more than this process can have open (descriptors %d to %d, RLIMIT_NOFILE)", n, listenFDsStart, limit+listenFDsStart-1)
	}
	names, err := fdNames(n)
	if err != nil {
		return s, err
	}
	// Check every descriptor before taking any: if the count is wrong, the
	// descriptors past the real ones belong to someone else (the Go
	// runtime's own among them) and must be left alone.
	for i := range n {
		if err := checkInheritedFD(listenFDsStart + i); err != nil {
			return s, fmt.Errorf("activation: LISTEN_FDS=%d but descriptor %d %w", n, listenFDsStart+i, err)
		}
	}
	for i := range n {
		fd := listenFDsStart + i
		claimInheritedFD(fd)
		s.files = append(s.files, passedFile{name: names[i], file: os.NewFile(uintptr(fd), names[i])})
	}
	return s, nil
}

// fdNames returns the names of the n descriptors passed, by
// sd_listen_fds_with_names's rule: LISTEN_FDNAMES, if set, is split at every
// ':' (empty names kept) and must name each descriptor; if unset, every
// descriptor is "unknown".
func fdNames(n int) ([]string, error) {
	v, ok := os.LookupEnv("LISTEN_FDNAMES")
	if !ok || n == 0 {
		return slices.Repeat([]string{"unknown"}, n), nil
	}
	names := strings.Split(v, ":")
	if len(names) != n {
		return nil, fmt.Errorf("activation: LISTEN_FDNAMES=%q has %d names but LISTEN_FDS=%d: the counts must be equal", v, len(names), n)
	}
	return names, nil
}

// Names returns the names of the descriptors passed, in descriptor order
// ("unknown" for every one when LISTEN_FDNAMES was not set), including
// those already taken. A name is empty where LISTEN_FDNAMES has an empty
// field; since "" asks for any descriptor, such a descriptor is taken as
// the first one not yet taken.
func (s *Set) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.name
	}
	return out
}

// take hands out the first descriptor named name not yet taken ("" for
// any), converted by conv into a uds value with a descriptor of its own; a
// descriptor that conv refuses stays available. what names the kind asked
// for, in errors.
func (s *Set) take(name, what string, conv func(*os.File) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []string
	for i := range s.files {
		f := &s.files[i]
		if f.taken || (name != "" && f.name != name) {
			continue
		}
		if err := conv(f.file); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		f.file.Close() // conv made its own descriptor
		f.file, f.taken = nil, true
		return nil
	}
	label := fmt.Sprintf("named %q", name)
	if name == "" {
		label = "at all"
	}
	if len(errs) > 0 {
		return fmt.Errorf("activation: no %s %s: %s", what, label, strings.Join(errs, "; "))
	}
	return fmt.Errorf("activation: no %s %s left (passed: %s): %w", what, label, s.describe(), os.ErrNotExist)
}

// describe lists the descriptors passed, for errors; s.mu is held.
func (s *Set) describe() string {
	if len(s.files) == 0 {
		return "none"
	}
	var parts []string
	for _, f := range s.files {
		p := f.name
		if f.taken {
			p += " (taken)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// Listener takes the stream or seqpacket listener named name ("" for the
// first one not yet taken), through uds.FileListener: the descriptor must be
// a listening AF_UNIX stream or seqpacket socket, and the listener has its
// exact bound address, whose Type is the socket's. Its
// Close never unlinks the path. A descriptor of the name that is not such a
// socket stays available, and the error says what it is; when no
// descriptor of the name is left, the error wraps os.ErrNotExist.
func (s *Set) Listener(name string) (*uds.Listener, error) {
	var l *uds.Listener
	err := s.take(name, "Unix stream or seqpacket listener", func(f *os.File) (err error) {
		l, err = uds.FileListener(f)
		return err
	})
	return l, err
}

// DatagramConn takes the datagram socket named name ("" for the first one
// not yet taken), through uds.FileDatagramConn; see Listener.
func (s *Set) DatagramConn(name string) (*uds.DatagramConn, error) {
	var c *uds.DatagramConn
	err := s.take(name, "Unix datagram socket", func(f *os.File) (err error) {
		c, err = uds.FileDatagramConn(f)
		return err
	})
	return c, err
}

// File takes the descriptor named name ("" for the first one not yet taken)
// as it is, for descriptors uds does not wrap (TCP and UDP sockets, FIFOs).
// The caller owns the file. When no descriptor of the name is left, the
// error wraps os.ErrNotExist.
func (s *Set) File(name string) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.files {
		f := &s.files[i]
		if !f.taken && (name == "" || f.name == name) {
			file := f.file
			f.file, f.taken = nil, true
			return file, nil
		}
	}
	return nil, fmt.Errorf("activation: no descriptor named %q left (passed: %s): %w", name, s.describe(), os.ErrNotExist)
}
