package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
)

// TestAddrForms checks the addresses every command refuses: an empty one
// (lock included) and URLs of schemes other than unix: and unix-abstract:.
func TestAddrForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lock", "", "--", "true"}, "NAME: empty name"},
		{[]string{"lock", "", "true"}, "NAME: empty name"},
		{[]string{"lock", "tcp://x", "--", "true"}, "tcp URL"},
		{[]string{"probe", ""}, "empty path"},
		{[]string{"probe", "tcp://x"}, "tcp URL, not a Unix socket address"},
		{[]string{"probe", "http://localhost:80/x"}, "http URL"},
		{[]string{"who", "grpc+unix://x"}, "grpc+unix URL"},
		{[]string{"ls", "--name", "tcp://x"}, "tcp URL"},
		{[]string{"probe", "--type", "raw", "@x"}, "want stream, seqpacket or datagram"},
		{[]string{"ls", "--type", "raw"}, "want stream, seqpacket or datagram"},
	} {
		code, out, errOut := runCLI(t, "", tc.args...)
		assert.Equal(t, exitUsage, code, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
	}
	// The uds forms with "://" and a relative path written with ./ still
	// parse.
	dir := socketDir(t)
	for _, addr := range []string{"unix://" + dir + "/none.sock", "./tcp://x", "unix-abstract:a://b"} {
		code, out, errOut := runCLI(t, "", "probe", addr)
		assert.Equal(t, exitMissing, code, "%s: %s%s", addr, out, errOut)
	}
}

// TestTypeWords checks that the TYPE column, the JSON and the --type values
// are SocketType's words.
func TestTypeWords(t *testing.T) {
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		got, ok := parseSocketType(typ.String())
		assert.True(t, ok, typ.String())
		assert.Equal(t, typ, got)
	}
	path := filepath.Join(socketDir(t), "d.sock")
	c, err := uds.ListenDatagram(context.Background(), uds.Path(path))
	require.NoError(t, err)
	defer c.Close()
	for _, word := range []string{"datagram", "dgram"} {
		code, out, errOut := runCLI(t, "", "ls", "--path", path, "--type", word)
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, `(?m)^path +datagram +unconnected .*`+regexpQuote(path), out)
	}
}

func regexpQuote(s string) string { return strings.NewReplacer(".", `\.`).Replace(s) }

// TestOwnerLookupSaysItOnce checks that an unknown group or user is named
// once, without os/user's prefix repeated.
func TestOwnerLookupSaysItOnce(t *testing.T) {
	dir := socketDir(t)
	for _, lc := range []uds.ListenConfig{{Group: "no-such-group-uds"}, {Owner: "no-such-user-uds"}} {
		_, err := lc.Listen(context.Background(), uds.Path(filepath.Join(dir, "o.sock")))
		require.Error(t, err)
		msg := describe(err)
		if lc.Group != "" {
			assert.Contains(t, msg, "socket group: unknown group no-such-group-uds")
			assert.Equal(t, 1, strings.Count(msg, "group:"), msg)
			assert.Equal(t, 1, strings.Count(msg, "unknown group"), msg)
		} else {
			assert.Contains(t, msg, "socket owner: unknown user no-such-user-uds")
			assert.Equal(t, 1, strings.Count(msg, "unknown user"), msg)
			assert.NotContains(t, msg, "user: ")
		}
	}
}
