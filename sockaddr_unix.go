//go:build linux || darwin || freebsd

package uds

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sizeofFamily is the offset of sun_path in struct sockaddr_un: sun_family
// on Linux, sun_len and sun_family on darwin and FreeBSD. Both are 2 bytes.
const sizeofFamily = uint32(unsafe.Offsetof(unix.RawSockaddrUnix{}.Path))

// encodeSockaddr fills sa for a and returns the exact socket address length.
// Paths longer than MaxPathLen are the caller's business: connectTarget and
// the path ownership code reach them through /proc/self/fd (procPath).
func encodeSockaddr(a Addr, sa *unix.RawSockaddrUnix) (uint32, error) {
	*sa = unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	switch a.kind {
	case KindPath:
		if len(a.name) > MaxPathLen {
			return 0, fmt.Errorf("%w: path is %d bytes, longer than the %d-byte limit of sun_path", ErrInvalidAddr, len(a.name), MaxPathLen)
		}
		for i := 0; i < len(a.name); i++ {
			sa.Path[i] = int8(a.name[i])
		}
		n := sizeofFamily + uint32(len(a.name)) + 1
		setSunLen(sa, n)
		return n, nil
	case KindAbstract:
		if !abstractSupported {
			return 0, unsupported("abstract socket names")
		}
		if len(a.name) > maxAbstractLen {
			return 0, fmt.Errorf("%w: abstract name is %d bytes, longer than the limit of %d", ErrInvalidAddr, len(a.name), maxAbstractLen)
		}
		for i := 0; i < len(a.name); i++ {
			sa.Path[i+1] = int8(a.name[i])
		}
		return sizeofFamily + 1 + uint32(len(a.name)), nil
	case KindAutobind:
		if !abstractSupported {
			return 0, unsupported("autobind")
		}
		return sizeofFamily, nil
	}
	return 0, a.validate()
}

// decodeSockaddr returns the address in sa's first n bytes, exactly.
func decodeSockaddr(sa *unix.RawSockaddrUnix, n uint32, typ SocketType) Addr {
	var a Addr
	decodeInto(sa, n, typ, &a)
	return a
}

// decodeInto stores the address in sa's first n bytes in *dst, reusing
// dst's name when it is the same (no allocation for a repeated sender).
func decodeInto(sa *unix.RawSockaddrUnix, n uint32, typ SocketType, dst *Addr) {
	if n <= sizeofFamily || sa.Family != unix.AF_UNIX {
		*dst = Addr{typ: typ}
		return
	}
	if n > uint32(unsafe.Sizeof(*sa)) {
		n = uint32(unsafe.Sizeof(*sa))
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), n-sizeofFamily)
	if raw[0] == 0 {
		if !abstractSupported {
			// darwin and FreeBSD report an unnamed socket with an empty
			// sun_path and a length that covers it.
			*dst = Addr{typ: typ}
			return
		}
		raw = raw[1:]
		if dst.kind != KindAbstract || dst.name != string(raw) {
			dst.name = string(raw)
		}
		dst.kind, dst.typ = KindAbstract, typ
		return
	}
	for i, ch := range raw {
		if ch == 0 {
			raw = raw[:i]
			break
		}
	}
	if dst.kind == KindPath && dst.name == string(raw) {
		dst.typ = typ
		return
	}
	*dst = Path(string(raw)).WithType(typ)
}

// sockType is the socket(2) type of t.
func sockType(t SocketType) int {
	switch t {
	case Datagram:
		return unix.SOCK_DGRAM
	case SeqPacket:
		return unix.SOCK_SEQPACKET
	}
	return unix.SOCK_STREAM
}

// socketTypeOf is the SocketType of the socket(2) type t.
func socketTypeOf(t int) SocketType {
	switch t {
	case unix.SOCK_DGRAM:
		return Datagram
	case unix.SOCK_SEQPACKET:
		return SeqPacket
	}
	return Stream
}
