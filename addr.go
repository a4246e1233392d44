package uds

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says which of the Unix socket address families an Addr belongs to.
type Kind uint8

const (
	// KindUnnamed is the address of a socket that has no name: either end of a
	// socket pair, or a client that never bound. It is the zero Kind.
	KindUnnamed Kind = iota
	// KindPath is a name in the file system.
	KindPath
	// KindAbstract is a name in Linux's abstract namespace: exact bytes, any
	// length from 0 to MaxPathLen (107), NUL bytes included.
	KindAbstract
	// KindAutobind asks the kernel to choose an unused abstract name when the
	// socket is bound. It is only a request: a bound socket reads back as
	// KindAbstract with the name the kernel chose.
	KindAutobind
)

// String returns the Kind's name: "unnamed", "path", "abstract" or "autobind".
func (k Kind) String() string {
	switch k {
	case KindUnnamed:
		return "unnamed"
	case KindPath:
		return "path"
	case KindAbstract:
		return "abstract"
	case KindAutobind:
		return "autobind"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// SocketType is the type of a Unix socket: Stream, SeqPacket or Datagram.
type SocketType uint8

const (
	// Stream is SOCK_STREAM, a byte stream ("unix" in package net). It is the
	// zero SocketType.
	Stream SocketType = iota
	// Datagram is SOCK_DGRAM ("unixgram").
	Datagram
	// SeqPacket is SOCK_SEQPACKET ("unixpacket"): a connection that keeps
	// message boundaries.
	SeqPacket
)

// network returns the net package's name for the type: "unix", "unixgram"
// or "unixpacket" (Addr.Network).
func (t SocketType) network() string {
	switch t {
	case Datagram:
		return "unixgram"
	case SeqPacket:
		return "unixpacket"
	}
	return "unix"
}

// String returns the type's name: "stream", "datagram" or "seqpacket".
func (t SocketType) String() string {
	switch t {
	case Stream:
		return "stream"
	case Datagram:
		return "datagram"
	case SeqPacket:
		return "seqpacket"
	}
	return fmt.Sprintf("SocketType(%d)", uint8(t))
}

// Addr is the address of a Unix socket: its kind, its exact name bytes and
// the socket type it is used with. Addr implements net.Addr. The zero Addr is
// an unnamed stream address.
//
// Addr values are comparable: two Addrs are == exactly when they name the same
// socket address of the same type, byte for byte. The constructors never fail;
// an invalid address (an empty path, a NUL byte inside a path, a name that is
// too long) is reported by Valid and by every function that uses it.
type Addr struct {
	kind Kind
	typ  SocketType
	name string
}

// Path returns the address of the file-system socket at path p.
//
// A relative path whose text could be read as another form by ParseAddr (one
// that starts with "@", "(", "unix:" or "unix-abstract:") is stored with a
// leading "./", which names the same file and keeps String and ParseAddr
// inverse to each other.
func Path(p string) Addr {
	if needsDotSlash(p) {
		p = "./" + p
	}
	return Addr{kind: KindPath, name: p}
}

// Abstract returns the address with the exact name in Linux's abstract
// namespace. The name is bytes, not a C string: NUL bytes anywhere count, so
// Abstract("x") and Abstract("x\x00") are two different sockets, and
// Abstract("") is a valid name of its own. Do not include the leading NUL
// that the kernel uses to mark abstract names. A name has at most MaxPathLen
// bytes (107 on Linux; other systems have no abstract names).
func Abstract(name string) Addr {
	return Addr{kind: KindAbstract, name: name}
}

// Autobind returns the request for a kernel-chosen abstract name (Linux binds
// the socket to five hex digits that are not in use). A socket bound this way
// reports KindAbstract with the chosen name from LocalAddr.
func Autobind() Addr {
	return Addr{kind: KindAutobind}
}

// Unnamed returns the address of a socket without a name.
func Unnamed() Addr {
	return Addr{}
}

// Kind returns the address's kind.
func (a Addr) Kind() Kind { return a.kind }

// Type returns the socket type the address is used with.
func (a Addr) Type() SocketType { return a.typ }

// Name returns the path of a KindPath address or the exact name bytes of a
// KindAbstract address (without the kernel's leading NUL). It is empty for
// the other kinds.
func (a Addr) Name() string { return a.name }

// WithType returns a copy of the address for sockets of type t.
func (a Addr) WithType(t SocketType) Addr {
	a.typ = t
	return a
}

// Network returns "unix", "unixgram" or "unixpacket" after the address's
// socket type, as net.Addr requires.
func (a Addr) Network() string { return a.typ.network() }

// String returns the address in the text form that ParseAddr reads back:
//
//	/run/app.sock, ./app.sock    a path, as it is (a relative path that would
//	                             read as another form carries a leading "./")
//	@name                        an abstract name; bytes that are not printable
//	                             UTF-8, and the backslash, are written \xNN
//	(autobind)                   the request for a kernel-chosen abstract name
//	(unnamed)                    a socket without a name
//
// ParseAddr(a.String()) returns an address equal to a.WithType(Stream) for
// every valid address a.
func (a Addr) String() string {
	switch a.kind {
	case KindPath:
		return a.name
	case KindAbstract:
		return "@" + escapeName(a.name)
	case KindAutobind:
		return "(autobind)"
	}
	return "(unnamed)"
}

// Valid reports whether the address can be used to bind or connect a socket
// on this platform, and if not, why. Unnamed addresses are never valid for
// that: they name no socket.
func (a Addr) Valid() error {
	return a.validate()
}

func (a Addr) validate() error {
	switch a.kind {
	case KindPath:
		if a.name == "" {
			return errEmptyPath
		}
		if i := strings.IndexByte(a.name, 0); i >= 0 {
			return fmt.Errorf("%w: path %q has a NUL byte at offset %d", ErrInvalidAddr, a.name, i)
		}
		return checkPathLen(a.name)
	case KindAbstract:
		if !abstractSupported {
			return unsupported("abstract socket names")
		}
		if len(a.name) > maxAbstractLen {
			return fmt.Errorf("%w: abstract name is %d bytes, longer than the limit of %d", ErrInvalidAddr, len(a.name), maxAbstractLen)
		}
		return nil
	case KindAutobind:
		if !abstractSupported {
			return unsupported("autobind")
		}
		return nil
	case KindUnnamed:
		return fmt.Errorf("%w: an unnamed address names no socket", ErrInvalidAddr)
	}
	return fmt.Errorf("%w: unknown kind %d", ErrInvalidAddr, a.kind)
}

var errEmptyPath = fmt.Errorf("%w: empty path", ErrInvalidAddr)

// ParseAddr parses the text form of a Unix socket address and returns a
// Stream address; use WithType for another socket type. It accepts:
//
//	/abs/path, rel/path, ./@rel   a path ("@" at the start means abstract, so a
//	                              relative path starting with "@" needs "./")
//	@name                         an abstract name with \xNN escapes
//	\x00name                      an abstract name given with the kernel's
//	                              leading NUL byte, taken as raw bytes
//	unix:path, unix:///abs/path   gRPC's forms of a path
//	unix-abstract:name            gRPC's form of an abstract name, raw bytes
//	(autobind), (unnamed)         the forms String gives those kinds
//
// A NUL byte inside a path, a malformed escape, an empty path and a name over
// the platform's limit are errors that say what is wrong.
func ParseAddr(s string) (Addr, error) {
	a, err := parseAddr(s)
	if err != nil {
		return Addr{}, err
	}
	if a.kind == KindUnnamed {
		return a, nil
	}
	if err := a.validate(); err != nil {
		return Addr{}, err
	}
	return a, nil
}

func parseAddr(s string) (Addr, error) {
	switch {
	case s == "":
		return Addr{}, errEmptyPath
	case s == "(unnamed)":
		return Unnamed(), nil
	case s == "(autobind)":
		return Autobind(), nil
	case s[0] == '@':
		name, err := unescapeName(s[1:])
		if err != nil {
			return Addr{}, err
		}
		return Abstract(name), nil
	case s[0] == 0:
		return Abstract(s[1:]), nil
	case strings.HasPrefix(s, "unix-abstract:"):
		return Abstract(s[len("unix-abstract:"):]), nil
	case strings.HasPrefix(s, "unix://"):
		rest := s[len("unix://"):]
		if !strings.HasPrefix(rest, "/") {
			return Addr{}, fmt.Errorf("%w: %q: unix:// must be followed by an absolute path (unix:///path)", ErrInvalidAddr, s)
		}
		return Path(rest), nil
	case strings.HasPrefix(s, "unix:"):
		rest := s[len("unix:"):]
		if rest == "" {
			return Addr{}, errEmptyPath
		}
		return Path(rest), nil
	case s[0] == '(':
		return Addr{}, fmt.Errorf("%w: %q: unknown form; a relative path starting with \"(\" is written \"./%s\"", ErrInvalidAddr, s, s)
	}
	return Path(s), nil
}

func needsDotSlash(p string) bool {
	if p == "" {
		return false
	}
	return p[0] == '@' || p[0] == '(' || p[0] == 0 ||
		strings.HasPrefix(p, "unix:") || strings.HasPrefix(p, "unix-abstract:")
}

const hexDigits = "0123456789abcdef"

// escapeName writes an abstract name so that every byte can be read back:
// printable UTF-8 is kept, the backslash and every other byte become \xNN.
func escapeName(name string) string {
	clean := true
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if (r == utf8.RuneError && size <= 1) || r == '\\' || !unicode.IsPrint(r) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if (r == utf8.RuneError && size <= 1) || r == '\\' || !unicode.IsPrint(r) {
			for j := 0; j < size; j++ {
				c := name[i+j]
				b.WriteString(`\x`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			}
		} else {
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	return b.String()
}

func unescapeName(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+4 > len(s) || s[i+1] != 'x' {
			return "", fmt.Errorf("%w: bad escape at byte %d of %q: a backslash must start \\xNN (write a backslash as \\x5c)", ErrInvalidAddr, i+1, "@"+s)
		}
		hi, ok1 := unhex(s[i+2])
		lo, ok2 := unhex(s[i+3])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: bad escape %q at byte %d of %q: want two hex digits", ErrInvalidAddr, s[i:i+4], i+1, "@"+s)
		}
		b = append(b, hi<<4|lo)
		i += 3
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
