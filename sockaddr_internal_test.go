//go:build linux

package uds

// In package uds, not uds_test: these tests fuzz unexported decoders
// (decodeSockaddr, decodeInto), as the other _internal_test.go files test
// unexported code.

// Reliability area 6 (with msgconn_internal_test.go): fuzzing of the
// decoders that read what the kernel hands back, here the socket addresses
// (decodeSockaddr, decodeInto). The address fuzzers of the public API
// (FuzzAddrRoundTrip, FuzzParseAddr) are in addr_test.go.

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ---- socket addresses -------------------------------------------------------

func FuzzDecodeSockaddr(f *testing.F) {
	sa := func(path []byte) []byte {
		b := make([]byte, 2+len(path))
		binary.LittleEndian.PutUint16(b, unix.AF_UNIX)
		copy(b[2:], path)
		return b
	}
	for _, s := range []struct {
		raw  []byte
		n    uint32
		prev string
	}{
		{sa([]byte("/run/app.sock\x00")), 16, ""},
		{sa([]byte("/run/app.sock\x00")), 110, "/run/app.sock"},
		{sa([]byte("\x00abstract")), 11, "\x00abstract"},
		{sa([]byte("\x00a\x00b\x00")), 7, "abstract"},
		{sa([]byte("\x00")), 3, ""},
		{sa(nil), 2, ""},
		{sa(nil), 0, ""},
		{sa([]byte("@x")), 5, "./@x"},
		{sa([]byte("unix:x")), 9, ""},
		{sa(bytes.Repeat([]byte("p"), 108)), 110, ""},
		{sa(bytes.Repeat([]byte("p"), 108)), 1 << 31, ""},
		{sa(append([]byte{0}, bytes.Repeat([]byte("a"), 107)...)), 110, ""},
		{[]byte{2, 0, '/', 'x', 0}, 5, ""}, // AF_INET
		{sa([]byte("rel\x00junk")), 10, "rel"},
	} {
		f.Add(s.raw, s.n, uint8(0), s.prev)
	}
	f.Fuzz(func(t *testing.T, raw []byte, n uint32, typ8 uint8, prev string) {
		var sa unix.RawSockaddrUnix
		b := unsafe.Slice((*byte)(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
		copy(b, raw)
		orig := slices.Clone(b)
		typ := SocketType(typ8 % 3)

		got := decodeSockaddr(&sa, n, typ)
		if !bytes.Equal(b, orig) {
			t.Fatalf("decodeSockaddr wrote to its input")
		}
		// The reference: what the address means.
		size := uint32(len(b))
		var want Addr
		switch {
		case n <= 2 || sa.Family != unix.AF_UNIX:
			want = Addr{typ: typ}
		default:
			body := b[2:min(n, size)]
			if body[0] == 0 {
				want = Addr{kind: KindAbstract, typ: typ, name: string(body[1:])}
			} else {
				if i := bytes.IndexByte(body, 0); i >= 0 {
					body = body[:i]
				}
				want = Path(string(body)).WithType(typ)
			}
		}
		if got != want {
			t.Fatalf("decodeSockaddr(% x, %d) = %#v, want %#v", raw, n, got, want)
		}
		if got.Type() != typ {
			t.Fatalf("type %v, want %v", got.Type(), typ)
		}

		// decodeInto gives the same, whatever was in *dst before.
		for _, before := range []Addr{{}, got, Path(prev), Abstract(prev), Path(prev).WithType(Datagram), Autobind(), Unnamed().WithType(SeqPacket)} {
			dst := before
			decodeInto(&sa, n, typ, &dst)
			if dst != got {
				t.Fatalf("decodeInto over %#v = %#v, want %#v", before, dst, got)
			}
		}

		// Whatever decodes encodes back to the same bytes and decodes to
		// the same address, and prints as text that parses back.
		if got.Kind() == KindUnnamed || got.Valid() != nil || len(got.Name()) > MaxPathLen {
			return // (longer paths are bound through /proc, not encoded)
		}
		var sa2 unix.RawSockaddrUnix
		n2, err := encodeSockaddr(got, &sa2)
		if err != nil {
			t.Fatalf("encodeSockaddr(%#v): %v", got, err)
		}
		if again := decodeSockaddr(&sa2, n2, typ); again != got {
			t.Fatalf("round trip: %#v -> %#v", got, again)
		}
		parsed, err := ParseAddr(got.String())
		if err != nil || parsed != got.WithType(Stream) {
			t.Fatalf("ParseAddr(%q) = %#v, %v; want %#v", got.String(), parsed, err, got.WithType(Stream))
		}
	})
}
