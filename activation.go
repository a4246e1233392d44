package uds

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Activation is the set of sockets a service manager passed to this process
// (systemd socket activation: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES). Get it
// with Activated. Each socket is handed out once, as the uds type of its
// socket type, with its exact address; sockets passed in are never unlinked
// by uds, since the service manager owns their paths.
type Activation struct {
	mu    sync.Mutex
	files []activatedFile
}

type activatedFile struct {
	name  string
	file  *os.File // nil once taken
	taken bool
}

var (
	activationOnce sync.Once
	activation     *Activation
	activationErr  error
)

// Activated returns the sockets passed by the service manager. The
// environment is read once, on the first call, and the result cached: later
// calls return the same Activation. Descriptors are marked close-on-exec at
// once, so that they do not leak into child processes. If unsetEnv is true
// on the first call, LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES and
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
// When no sockets were passed to this process (the variables are missing,
// or LISTEN_PID names another process), the Activation is empty and the
// error nil. An error means the variables are malformed (LISTEN_FDS not a
// count, or LISTEN_FDNAMES naming more or fewer descriptors than it counts)
// or name descriptors that are not open; the Activation is then empty and
// every descriptor is left as it was.
func Activated(unsetEnv bool) (*Activation, error) {
	activationOnce.Do(func() {
		activation, activationErr = parseActivation()
		if unsetEnv {
			for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"} {
				os.Unsetenv(v)
			}
		}
	})
	return activation, activationErr
}

// listenFDsStart is the first descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

func parseActivation() (*Activation, error) {
	a := &Activation{}
	pidText, ok := os.LookupEnv("LISTEN_PID")
	if !ok {
		return a, nil
	}
	if pidText != fmt.Sprint(os.Getpid()) {
		return a, nil // meant for another process
	}
	nText, ok := os.LookupEnv("LISTEN_FDS")
	if !ok {
		return a, nil // as sd_listen_fds: no count, no sockets
	}
	n, err := strconv.Atoi(nText)
	if err != nil || n < 0 || strconv.Itoa(n) != nText {
		return a, fmt.Errorf("uds: activation: LISTEN_FDS=%q is not a count of descriptors", nText)
	}
	// A count past the descriptor table cannot be right; it is refused
	// before anything is sized by it.
	if limit := maxInheritedFD() - listenFDsStart; n > limit {
		return a, fmt.Errorf("uds: activation: LISTEN_FDS=%d is more than this process can have open (descriptors %d to %d, RLIMIT_NOFILE)", n, listenFDsStart, limit+listenFDsStart-1)
	}
	names, err := activationNames(n)
	if err != nil {
		return a, err
	}
	// Check every descriptor before taking any: if the count is wrong, the
	// descriptors past the real ones belong to someone else (the Go
	// runtime's own among them) and must be left alone.
	for i := 0; i < n; i++ {
		if err := checkInheritedFD(listenFDsStart + i); err != nil {
			return a, fmt.Errorf("uds: activation: LISTEN_FDS=%d but descriptor %d %w", n, listenFDsStart+i, err)
		}
	}
	for i := 0; i < n; i++ {
		fd := listenFDsStart + i
		claimInheritedFD(fd)
		a.files = append(a.files, activatedFile{name: names[i], file: os.NewFile(uintptr(fd), names[i])})
	}
	return a, nil
}

// activationNames returns the names of the n descriptors passed, by
// sd_listen_fds_with_names's rule: LISTEN_FDNAMES, if set, is split at every
// ':' (empty names kept) and must name each descriptor; if unset, every
// descriptor is "unknown".
func activationNames(n int) ([]string, error) {
	v, ok := os.LookupEnv("LISTEN_FDNAMES")
	if !ok || n == 0 {
		return slices.Repeat([]string{"unknown"}, n), nil
	}
	names := strings.Split(v, ":")
	if len(names) != n {
		return nil, fmt.Errorf("uds: activation: LISTEN_FDNAMES=%q has %d names but LISTEN_FDS=%d: the counts must be equal", v, len(names), n)
	}
	return names, nil
}

// Names returns the names of the sockets passed in, in descriptor order
// ("unknown" for every socket when LISTEN_FDNAMES was not set), including
// those already taken. A name is empty where LISTEN_FDNAMES has an empty
// field; since "" asks for any socket, such a socket is taken as the first
// one not yet taken.
func (a *Activation) Names() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, len(a.files))
	for i, f := range a.files {
		out[i] = f.name
	}
	return out
}

// take hands out the first socket named name not yet taken ("" for any),
// converted by conv; a socket that conv refuses stays available.
func (a *Activation) take(name, what string, conv func(*os.File) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []string
	for i := range a.files {
		f := &a.files[i]
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
		return fmt.Errorf("uds: activation: no %s %s: %s", what, label, strings.Join(errs, "; "))
	}
	return fmt.Errorf("uds: activation: no %s %s left (passed: %s): %w", what, label, a.describe(), os.ErrNotExist)
}

func (a *Activation) describe() string {
	if len(a.files) == 0 {
		return "none"
	}
	var parts []string
	for _, f := range a.files {
		s := f.name
		if f.taken {
			s += " (taken)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Listener takes the stream or seqpacket listener named name ("" for the
// first one not yet taken). It checks that the descriptor is a listening
// AF_UNIX stream or seqpacket socket and reads its exact address, whose
// Type is the socket's. Its Close never unlinks the path.
func (a *Activation) Listener(name string) (*Listener, error) {
	var l *Listener
	err := a.take(name, "Unix stream or seqpacket listener", func(f *os.File) (err error) {
		l, err = FileListener(f)
		return err
	})
	return l, err
}

// DatagramConn takes the datagram socket named name ("" for the first one
// not yet taken); see Listener.
func (a *Activation) DatagramConn(name string) (*DatagramConn, error) {
	var c *DatagramConn
	err := a.take(name, "Unix datagram socket", func(f *os.File) (err error) {
		c, err = FileDatagramConn(f)
		return err
	})
	return c, err
}

// File takes the descriptor named name ("" for the first one not yet taken)
// as it is, for sockets uds does not wrap (TCP, UDP, FIFOs). The caller owns
// the file.
func (a *Activation) File(name string) (*os.File, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.files {
		f := &a.files[i]
		if !f.taken && (name == "" || f.name == name) {
			file := f.file
			f.file, f.taken = nil, true
			return file, nil
		}
	}
	return nil, fmt.Errorf("uds: activation: no descriptor named %q left (passed: %s): %w", name, a.describe(), os.ErrNotExist)
}
