package uds_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
)

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
