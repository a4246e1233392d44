package uds_test

import (
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
)

// onLinux is true where abstract names and the long-path trick exist.
const onLinux = runtime.GOOS == "linux"

var _ net.Addr = uds.Addr{}

func TestAddrConstructors(t *testing.T) {
	tests := []struct {
		name   string
		addr   uds.Addr
		kind   uds.Kind
		text   string // Name()
		str    string // String()
		linux  bool   // valid only on Linux
		valid  bool
		reason string
	}{
		{name: "abs path", addr: uds.Path("/run/app.sock"), kind: uds.KindPath, text: "/run/app.sock", str: "/run/app.sock", valid: true},
		{name: "rel path", addr: uds.Path("rel/app.sock"), kind: uds.KindPath, text: "rel/app.sock", str: "rel/app.sock", valid: true},
		{name: "dot rel path", addr: uds.Path("./app.sock"), kind: uds.KindPath, text: "./app.sock", str: "./app.sock", valid: true},
		{name: "path starting with @", addr: uds.Path("@x"), kind: uds.KindPath, text: "./@x", str: "./@x", valid: true},
		{name: "path already ./@", addr: uds.Path("./@x"), kind: uds.KindPath, text: "./@x", str: "./@x", valid: true},
		{name: "path starting with (", addr: uds.Path("(autobind)"), kind: uds.KindPath, text: "./(autobind)", str: "./(autobind)", valid: true},
		{name: "path starting with unix:", addr: uds.Path("unix:x"), kind: uds.KindPath, text: "./unix:x", str: "./unix:x", valid: true},
		{name: "path starting with unix-abstract:", addr: uds.Path("unix-abstract:x"), kind: uds.KindPath, text: "./unix-abstract:x", str: "./unix-abstract:x", valid: true},
		{name: "path with @ inside", addr: uds.Path("a@b"), kind: uds.KindPath, text: "a@b", str: "a@b", valid: true},
		{name: "empty path", addr: uds.Path(""), kind: uds.KindPath, text: "", str: "", reason: "empty path"},
		{name: "path with NUL", addr: uds.Path("/tmp/a\x00b"), kind: uds.KindPath, text: "/tmp/a\x00b", str: "/tmp/a\x00b", reason: "NUL byte at offset 6"},
		{name: "abstract", addr: uds.Abstract("app"), kind: uds.KindAbstract, text: "app", str: "@app", linux: true, valid: true},
		{name: "abstract empty", addr: uds.Abstract(""), kind: uds.KindAbstract, text: "", str: "@", linux: true, valid: true},
		{name: "abstract NUL inside", addr: uds.Abstract("a\x00b"), kind: uds.KindAbstract, text: "a\x00b", str: `@a\x00b`, linux: true, valid: true},
		{name: "abstract NUL at end", addr: uds.Abstract("HELLO\x00"), kind: uds.KindAbstract, text: "HELLO\x00", str: `@HELLO\x00`, linux: true, valid: true},
		{name: "abstract NUL at start", addr: uds.Abstract("\x00lead"), kind: uds.KindAbstract, text: "\x00lead", str: `@\x00lead`, linux: true, valid: true},
		{name: "abstract backslash", addr: uds.Abstract(`a\b`), kind: uds.KindAbstract, text: `a\b`, str: `@a\x5cb`, linux: true, valid: true},
		{name: "abstract invalid utf8", addr: uds.Abstract("\xff\xfe"), kind: uds.KindAbstract, text: "\xff\xfe", str: `@\xff\xfe`, linux: true, valid: true},
		{name: "abstract newline", addr: uds.Abstract("a\nb"), kind: uds.KindAbstract, text: "a\nb", str: `@a\x0ab`, linux: true, valid: true},
		{name: "abstract zero width space", addr: uds.Abstract("a\u200bb"), kind: uds.KindAbstract, text: "a\u200bb", str: `@a\xe2\x80\x8bb`, linux: true, valid: true},
		{name: "abstract printable unicode and space", addr: uds.Abstract("héllo wörld"), kind: uds.KindAbstract, text: "héllo wörld", str: "@héllo wörld", linux: true, valid: true},
		{name: "abstract @ and (", addr: uds.Abstract("@(x)"), kind: uds.KindAbstract, text: "@(x)", str: "@@(x)", linux: true, valid: true},
		{name: "abstract max length", addr: uds.Abstract(strings.Repeat("a", 107)), kind: uds.KindAbstract, text: strings.Repeat("a", 107), str: "@" + strings.Repeat("a", 107), linux: true, valid: true},
		{name: "abstract too long", addr: uds.Abstract(strings.Repeat("a", 108)), kind: uds.KindAbstract, text: strings.Repeat("a", 108), str: "@" + strings.Repeat("a", 108), linux: true, reason: "abstract name is 108 bytes, longer than the limit of 107"},
		{name: "autobind", addr: uds.Autobind(), kind: uds.KindAutobind, text: "", str: "(autobind)", linux: true, valid: true},
		{name: "unnamed", addr: uds.Unnamed(), kind: uds.KindUnnamed, text: "", str: "(unnamed)", reason: "unnamed address names no socket"},
		{name: "zero Addr", addr: uds.Addr{}, kind: uds.KindUnnamed, text: "", str: "(unnamed)", reason: "unnamed address names no socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.kind, tt.addr.Kind())
			assert.Equal(t, tt.text, tt.addr.Name())
			assert.Equal(t, tt.str, tt.addr.String())
			assert.Equal(t, uds.Stream, tt.addr.Type())
			assert.Equal(t, "unix", tt.addr.Network())
			if tt.linux && !onLinux {
				assert.ErrorIs(t, tt.addr.Valid(), errors.ErrUnsupported)
				return
			}
			err := tt.addr.Valid()
			if tt.valid {
				require.NoError(t, err)
				got, err := uds.ParseAddr(tt.addr.String())
				require.NoError(t, err)
				assert.Equal(t, tt.addr, got, "ParseAddr(%q)", tt.addr.String())
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, uds.ErrInvalidAddr)
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
}

func TestKindAndTypeStrings(t *testing.T) {
	assert.Equal(t, "unnamed", uds.KindUnnamed.String())
	assert.Equal(t, "path", uds.KindPath.String())
	assert.Equal(t, "abstract", uds.KindAbstract.String())
	assert.Equal(t, "autobind", uds.KindAutobind.String())
	assert.Equal(t, "Kind(9)", uds.Kind(9).String())

	assert.Equal(t, "stream", uds.Stream.String())
	assert.Equal(t, "datagram", uds.Datagram.String())
	assert.Equal(t, "seqpacket", uds.SeqPacket.String())
	assert.Equal(t, "SocketType(9)", uds.SocketType(9).String())
	assert.Equal(t, uds.Stream, uds.SocketType(0), "Stream is the zero SocketType")
}

func TestAddrNetwork(t *testing.T) {
	tests := []struct {
		typ  uds.SocketType
		want string
	}{
		{uds.Stream, "unix"},
		{uds.Datagram, "unixgram"},
		{uds.SeqPacket, "unixpacket"},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			assert.Equal(t, tt.want, uds.Unnamed().WithType(tt.typ).Network())
			for _, a := range []uds.Addr{uds.Path("/x"), uds.Abstract("x"), uds.Autobind(), uds.Unnamed()} {
				b := a.WithType(tt.typ)
				assert.Equal(t, tt.typ, b.Type())
				assert.Equal(t, tt.want, b.Network(), "%v", a)
				assert.Equal(t, a.Kind(), b.Kind())
				assert.Equal(t, a.Name(), b.Name())
				assert.Equal(t, a.String(), b.String(), "the text form does not carry the type")
				if tt.typ != uds.Stream {
					assert.NotEqual(t, a, b, "addresses of different types are not ==")
				}
				var na net.Addr = b
				assert.Equal(t, tt.want, na.Network())
			}
		})
	}
}

func TestAddrKindsNeverEqual(t *testing.T) {
	distinct := []uds.Addr{
		uds.Unnamed(),
		uds.Autobind(),
		uds.Abstract(""),
		uds.Abstract("x"),
		uds.Abstract("x\x00"),
		uds.Abstract("\x00x"),
		uds.Abstract("@x"),
		uds.Abstract("./@x"),
		uds.Path("x"),
		uds.Path("@x"),
		uds.Path("/x"),
	}
	for i, a := range distinct {
		for j, b := range distinct {
			if i == j {
				assert.Equal(t, a, b)
				continue
			}
			assert.NotEqual(t, a, b, "%#v vs %#v", a, b)
			assert.NotEqual(t, a.String(), b.String(), "%#v vs %#v have the same text", a, b)
		}
	}
	// The explicit pairs of the design.
	assert.True(t, uds.Abstract("") != uds.Unnamed())
	assert.True(t, uds.Unnamed() != uds.Autobind())
	assert.True(t, uds.Abstract("") != uds.Autobind())
	assert.True(t, uds.Path("@x") == uds.Path("./@x"))
	assert.Equal(t, uds.KindPath, uds.Path("@x").Kind())
	assert.Equal(t, "./@x", uds.Path("@x").String())
	assert.True(t, uds.Path("@x") != uds.Abstract("x"))
	assert.True(t, uds.Abstract("x") != uds.Abstract("x\x00"))
}

func TestParseAddr(t *testing.T) {
	long107 := strings.Repeat("n", 107)
	tests := []struct {
		in    string
		want  uds.Addr
		linux bool
	}{
		{in: "/abs", want: uds.Path("/abs")},
		{in: "/run/app.sock", want: uds.Path("/run/app.sock")},
		{in: "rel", want: uds.Path("rel")},
		{in: "rel/x.sock", want: uds.Path("rel/x.sock")},
		{in: "./rel", want: uds.Path("./rel")},
		{in: "./@x", want: uds.Path("@x")},
		{in: "./(autobind)", want: uds.Path("(autobind)")},
		{in: "a@b", want: uds.Path("a@b")},
		{in: "unix:path", want: uds.Path("path")},
		{in: "unix:/abs/p", want: uds.Path("/abs/p")},
		{in: "unix:///abs/p", want: uds.Path("/abs/p")},
		{in: "unix:@x", want: uds.Path("./@x")},
		{in: "unix:./@x", want: uds.Path("./@x")},
		{in: "unix:(x", want: uds.Path("./(x")},
		{in: "@name", want: uds.Abstract("name"), linux: true},
		{in: "@", want: uds.Abstract(""), linux: true},
		{in: "@@", want: uds.Abstract("@"), linux: true},
		{in: `@a\x00b`, want: uds.Abstract("a\x00b"), linux: true},
		{in: `@HELLO\x00`, want: uds.Abstract("HELLO\x00"), linux: true},
		{in: `@\x00lead`, want: uds.Abstract("\x00lead"), linux: true},
		{in: `@\x5c`, want: uds.Abstract(`\`), linux: true},
		{in: `@\xFF\xfE`, want: uds.Abstract("\xff\xfe"), linux: true},
		{in: `@\x41\x42C`, want: uds.Abstract("ABC"), linux: true},
		{in: "@raw\x00nul", want: uds.Abstract("raw\x00nul"), linux: true},
		{in: "@" + long107, want: uds.Abstract(long107), linux: true},
		{in: "\x00name", want: uds.Abstract("name"), linux: true},
		{in: "\x00", want: uds.Abstract(""), linux: true},
		{in: "\x00a\x00b", want: uds.Abstract("a\x00b"), linux: true},
		{in: "\x00" + `a\x41`, want: uds.Abstract(`a\x41`), linux: true}, // raw bytes: no escapes
		{in: "unix-abstract:name", want: uds.Abstract("name"), linux: true},
		{in: "unix-abstract:", want: uds.Abstract(""), linux: true},
		{in: `unix-abstract:a\x00`, want: uds.Abstract(`a\x00`), linux: true}, // raw bytes: no escapes
		{in: "unix-abstract:a\x00b", want: uds.Abstract("a\x00b"), linux: true},
		{in: "unix-abstract:@x", want: uds.Abstract("@x"), linux: true},
		{in: "(autobind)", want: uds.Autobind(), linux: true},
		{in: "(unnamed)", want: uds.Unnamed()},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			if tt.linux && !onLinux {
				t.Skip("abstract names are Linux-only")
			}
			got, err := uds.ParseAddr(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, uds.Stream, got.Type())
			// The text form reads back as the same address.
			again, err := uds.ParseAddr(got.String())
			require.NoError(t, err, "ParseAddr(%q)", got.String())
			assert.Equal(t, got, again)
		})
	}
}

func TestParseAddrErrors(t *testing.T) {
	// A 4096-byte path: one byte over PATH_MAX-1, made of short elements.
	var b strings.Builder
	for b.Len() < 4096 {
		b.WriteString("/" + strings.Repeat("d", 40))
	}
	tooLongPath := b.String()[:4096]
	long108 := strings.Repeat("n", 108)

	tests := []struct {
		name  string
		in    string
		want  []string // substrings of the message
		linux bool
	}{
		{name: "empty", in: "", want: []string{"empty path"}},
		{name: "unix: empty", in: "unix:", want: []string{"empty path"}},
		{name: "NUL inside abs path", in: "/tmp/a\x00b", want: []string{"NUL byte at offset 6"}},
		{name: "NUL at end of rel path", in: "rel\x00", want: []string{"NUL byte at offset 3"}},
		{name: "NUL in unix: path", in: "unix:/a\x00b", want: []string{"NUL byte at offset 2"}},
		{name: "NUL in unix:/// path", in: "unix:///ab\x00", want: []string{"NUL byte at offset 3"}},
		{name: "abstract 108 bytes", in: "@" + long108, want: []string{"108 bytes", "limit of 107"}, linux: true},
		{name: "abstract 108 bytes escaped", in: "@" + strings.Repeat(`\x00`, 108), want: []string{"108 bytes", "limit of 107"}, linux: true},
		{name: "abstract 108 bytes raw NUL form", in: "\x00" + long108, want: []string{"108 bytes", "limit of 107"}, linux: true},
		{name: "unix-abstract 108 bytes", in: "unix-abstract:" + long108, want: []string{"108 bytes", "limit of 107"}, linux: true},
		{name: "path over PATH_MAX", in: tooLongPath, want: []string{"4096 bytes", "4095"}, linux: true},
		{name: "unix: path over PATH_MAX", in: "unix:" + tooLongPath, want: []string{"4096 bytes", "4095"}, linux: true},
		{name: "escape cut short", in: `@a\x4`, want: []string{"bad escape"}},
		{name: "escape without digits", in: `@a\x`, want: []string{"bad escape"}},
		{name: "trailing backslash", in: `@abc\`, want: []string{"bad escape", `\x5c`}},
		{name: "backslash n", in: `@a\nbc`, want: []string{"bad escape"}},
		{name: "non-hex digits", in: `@\xzz`, want: []string{"bad escape", "two hex digits"}},
		{name: "one non-hex digit", in: `@\x4g`, want: []string{"bad escape", "two hex digits"}},
		{name: "unix:// with host", in: "unix://host/path", want: []string{"unix:///path"}},
		{name: "unix:// relative", in: "unix://rel", want: []string{"absolute path"}},
		{name: "unknown paren form", in: "(foo)", want: []string{"unknown form", "./(foo)"}},
		{name: "paren alone", in: "(", want: []string{"unknown form"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.linux && !onLinux {
				t.Skip("Linux limits")
			}
			got, err := uds.ParseAddr(tt.in)
			require.Error(t, err, "ParseAddr(%q) = %#v", tt.in, got)
			assert.ErrorIs(t, err, uds.ErrInvalidAddr)
			assert.Equal(t, uds.Addr{}, got, "a failed parse returns the zero Addr")
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestPathLengthLimits(t *testing.T) {
	if !onLinux {
		t.Skip("Linux path limits")
	}
	// Build a path of exactly n bytes out of 40-byte elements, ending in an
	// element of baseLen bytes.
	mk := func(n, baseLen int) string {
		base := "/" + strings.Repeat("f", baseLen)
		var b strings.Builder
		for b.Len()+41+len(base) <= n {
			b.WriteString("/" + strings.Repeat("d", 40))
		}
		b.WriteString("/" + strings.Repeat("e", n-b.Len()-len(base)-1))
		b.WriteString(base)
		p := b.String()
		require.Len(t, p, n)
		return p
	}
	maxLongBase := uds.MaxPathLen - len("/proc/self/fd/") - 10 - 1

	assert.NoError(t, uds.Path(mk(uds.MaxPathLen, 10)).Valid(), "a path that fits sun_path")
	assert.NoError(t, uds.Path(mk(uds.MaxPathLen+1, 10)).Valid(), "long paths work through /proc/self/fd")
	assert.NoError(t, uds.Path(mk(4095, 10)).Valid(), "PATH_MAX-1 bytes")
	assert.NoError(t, uds.Path(mk(200, maxLongBase)).Valid(), "last element at the limit")

	err := uds.Path(mk(4096, 10)).Valid()
	require.Error(t, err)
	assert.ErrorIs(t, err, uds.ErrInvalidAddr)
	assert.Contains(t, err.Error(), "4096 bytes")
	assert.Contains(t, err.Error(), "4095")

	err = uds.Path(mk(200, maxLongBase+1)).Valid()
	require.Error(t, err)
	assert.ErrorIs(t, err, uds.ErrInvalidAddr)
	assert.Contains(t, err.Error(), "200 bytes")
	assert.Contains(t, err.Error(), "limit "+strconv.Itoa(maxLongBase))
	assert.Contains(t, err.Error(), strconv.Itoa(uds.MaxPathLen))

	// A long last element is fine while the whole path fits sun_path.
	short := "/" + strings.Repeat("f", maxLongBase+10)
	require.LessOrEqual(t, len(short), uds.MaxPathLen)
	assert.NoError(t, uds.Path(short).Valid())
}

func TestParseAddrErrorIsNotUnsupported(t *testing.T) {
	// Invalid input is ErrInvalidAddr, never mistaken for a missing feature.
	_, err := uds.ParseAddr("")
	require.Error(t, err)
	assert.False(t, errors.Is(err, errors.ErrUnsupported))
}

// FuzzAddrRoundTrip builds a path and an abstract address from arbitrary
// bytes and checks that every valid one reads back from its text form as
// exactly the same address.
func FuzzAddrRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "/run/app.sock", "rel", "@x", "./@x", "(autobind)", "(unnamed)", "(x",
		"unix:x", "unix:///x", "unix-abstract:x", "a\x00b", "HELLO\x00", "\x00lead",
		`a\b`, `\x41`, "\xff\xfe", "héllo", "a\u200bb", "\n\t\r", strings.Repeat("z", 108),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)

		p := uds.Path(s)
		assert.Equal(t, uds.KindPath, p.Kind())
		assert.True(t, p.Name() == s || p.Name() == "./"+s, "Path(%q).Name() = %q", s, p.Name())
		if strings.HasPrefix(p.Name(), "./") && !strings.HasPrefix(s, "./") {
			// The "./" is only added to text that would read as another form.
			assert.True(t, strings.HasPrefix(s, "@") || strings.HasPrefix(s, "(") || strings.HasPrefix(s, "\x00") ||
				strings.HasPrefix(s, "unix:") || strings.HasPrefix(s, "unix-abstract:"), "Path(%q) got a needless ./", s)
		}

		a := uds.Abstract(s)
		assert.Equal(t, uds.KindAbstract, a.Kind())
		assert.Equal(t, s, a.Name(), "abstract names are kept byte for byte")
		if onLinux {
			if len(s) <= uds.MaxPathLen {
				assert.NoError(t, a.Valid(), "every name up to the limit is valid")
			} else {
				assert.ErrorIs(t, a.Valid(), uds.ErrInvalidAddr)
			}
		}

		for _, addr := range []uds.Addr{p, a, p.WithType(uds.Datagram), a.WithType(uds.SeqPacket)} {
			if addr.Valid() != nil {
				continue
			}
			text := addr.String()
			got, err := uds.ParseAddr(text)
			require.NoError(t, err, "ParseAddr(%q) of %#v", text, addr)
			assert.Equal(t, addr.WithType(uds.Stream), got, "ParseAddr(%q)", text)
			assert.Equal(t, text, got.String())
		}
	})
}

// FuzzParseAddr checks that ParseAddr never panics, fails only with
// ErrInvalidAddr (or ErrUnsupported where abstract names do not exist), and
// that what it parses prints as text that parses back to the same address.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{
		"", "/abs", "rel", "./@x", "@name", `@a\x00b`, `@\x5c`, `@\x`, `@\xzz`, `@a\`, "\x00name",
		"\x00", "unix:path", "unix:", "unix:///abs", "unix://host/x", "unix-abstract:name",
		"unix-abstract:", "(autobind)", "(unnamed)", "(", "@\xff", "/a\x00b", "@" + strings.Repeat("n", 108),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := uds.ParseAddr(s)
		if err != nil {
			assert.True(t, errors.Is(err, uds.ErrInvalidAddr) || errors.Is(err, errors.ErrUnsupported),
				"ParseAddr(%q): unexpected error kind: %v", s, err)
			assert.Equal(t, uds.Addr{}, a)
			assert.NotEmpty(t, err.Error())
			return
		}
		assert.Equal(t, uds.Stream, a.Type())
		if a.Kind() != uds.KindUnnamed {
			assert.NoError(t, a.Valid(), "ParseAddr(%q) returned an invalid address", s)
		}
		text := a.String()
		b, err := uds.ParseAddr(text)
		require.NoError(t, err, "ParseAddr(%q) = %#v, whose text %q does not parse", s, a, text)
		assert.Equal(t, a, b, "ParseAddr(%q) -> %q -> %#v", s, text, b)
		assert.Equal(t, text, b.String())
	})
}
