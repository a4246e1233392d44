//go:build linux

package uds_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// TestListenRelativeAtPath: a relative path whose name starts with "@" is a
// file in the working directory, never the abstract name.
func TestListenRelativeAtPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := context.Background()
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket} {
		t.Run(typ.String(), func(t *testing.T) {
			tag := uniqTag()
			a := uds.Path("@" + tag).WithType(typ)
			// Listen hands this name to package net, which would read
			// "@..." as abstract: Path keeps it a relative path.
			require.Equal(t, "./@"+tag, a.Name())
			var ln interface{ Close() error }
			var err error
			if typ == uds.SeqPacket {
				ln, err = uds.Listen(ctx, a.WithType(uds.SeqPacket))
			} else {
				ln, err = uds.Listen(ctx, a)
			}
			require.NoError(t, err)
			fi, err := os.Lstat(filepath.Join(dir, "@"+tag))
			require.NoError(t, err, "the socket file must be in the working directory")
			assert.Equal(t, os.ModeSocket, fi.Mode().Type())

			r, err := diag.Probe(ctx, uds.Abstract(tag).WithType(typ))
			require.NoError(t, err)
			assert.Equal(t, diag.ProbeMissing, r.State, "nothing may be bound at the abstract name")
			r, err = diag.Probe(ctx, a)
			require.NoError(t, err)
			assert.Equal(t, diag.ProbeLive, r.State)

			require.NoError(t, ln.Close())
			_, err = os.Lstat(filepath.Join(dir, "@"+tag))
			assert.True(t, os.IsNotExist(err), "Close removes the file: %v", err)
		})
	}
}

// linkProgram is a program of the module linkModule builds: its package
// directory and its source.
type linkProgram struct {
	dir, src string
}

// linkModule writes a module that requires this repository's uds (its
// go.mod with another module path, uds replaced by this directory, so that
// nothing is looked up) with the programs progs, and returns its directory
// and the environment to run the go tool in it.
func linkModule(t *testing.T, progs ...linkProgram) (string, []string) {
	t.Helper()
	repo, err := filepath.Abs(".")
	require.NoError(t, err)
	gomod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	require.NoError(t, err)
	gosum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	require.NoError(t, err)
	dir := t.TempDir()
	mod := strings.Replace(string(gomod), "module github.com/udskit/uds", "module udslinktest", 1)
	require.NotEqual(t, string(gomod), mod, "go.mod names the module")
	mod += fmt.Sprintf("\nrequire github.com/udskit/uds v0.0.0\n\nreplace github.com/udskit/uds => %s\n", repo)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))
	for _, p := range progs {
		require.NoError(t, os.Mkdir(filepath.Join(dir, p.dir), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p.dir, "main.go"), []byte(p.src), 0o644))
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_ENABLED=0")
	return dir, env
}

// goOutput runs the go tool with args in dir and returns its standard
// output, failing the test if it fails.
func goOutput(t *testing.T, goTool, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), stderr.String())
	return string(out)
}

// httpPackages returns the packages of a go list -deps output that are
// net/http or below it.
func httpPackages(deps string) []string {
	var out []string
	for _, p := range strings.Fields(deps) {
		if p == "net/http" || strings.HasPrefix(p, "net/http/") {
			out = append(out, p)
		}
	}
	return out
}

// TestListenOnlyDoesNotLinkHTTP: a program that listens and dials with uds,
// and does nothing with HTTP, does not link net/http (the HTTP helpers are
// in udshttp). A program that uses udshttp does, which shows that the check
// can see it.
func TestListenOnlyDoesNotLinkHTTP(t *testing.T) {
	goTool := requireTool(t, "go")
	dir, env := linkModule(t,
		linkProgram{"listenonly", `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/udskit/uds"
)

func main() {
	ln, err := uds.Listen(context.Background(), uds.Abstract("udslinktest"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer ln.Close()
	c, err := uds.Dial(context.Background(), ln.Addr().(uds.Addr))
	if err == nil {
		c.Close()
	}
}
`},
		linkProgram{"withhttp", `package main

import (
	"fmt"

	"github.com/udskit/uds"
	"github.com/udskit/uds/udshttp"
)

func main() {
	fmt.Println(udshttp.Client(uds.Abstract("udslinktest")) != nil)
}
`})

	deps := goOutput(t, goTool, dir, env, "list", "-deps", "./listenonly")
	require.Contains(t, strings.Fields(deps), "github.com/udskit/uds", "the program uses uds")
	assert.Empty(t, httpPackages(deps), "a listen-only program depends on no net/http package")
	assert.Contains(t, httpPackages(goOutput(t, goTool, dir, env, "list", "-deps", "./withhttp")), "net/http",
		"a program that uses udshttp links net/http")

	// The linked binary, too: no symbol of net/http.
	sizes := map[string]int64{}
	for _, prog := range []string{"listenonly", "withhttp"} {
		bin := filepath.Join(dir, prog+".bin")
		goOutput(t, goTool, dir, env, "build", "-o", bin, "./"+prog)
		fi, err := os.Stat(bin)
		require.NoError(t, err)
		sizes[prog] = fi.Size()
		syms := goOutput(t, goTool, dir, env, "tool", "nm", bin)
		hasHTTP := strings.Contains(syms, " net/http.")
		if prog == "listenonly" {
			assert.False(t, hasHTTP, "the listen-only binary has net/http symbols")
			assert.True(t, strings.Contains(syms, " github.com/udskit/uds."), "the listen-only binary has uds's code")
		} else {
			assert.True(t, hasHTTP, "the udshttp binary has net/http symbols")
		}
	}
	t.Logf("binary sizes: listen-only %d bytes, with udshttp %d bytes", sizes["listenonly"], sizes["withhttp"])
}

func TestListenerCloseTwice(t *testing.T) {
	dir := mkSockDir(t)
	for _, a := range []uds.Addr{uds.Path(filepath.Join(dir, "x.sock")), uds.Abstract(uniqTag()), uds.Autobind()} {
		t.Run(a.Kind().String(), func(t *testing.T) {
			ln, err := uds.Listen(context.Background(), a)
			require.NoError(t, err)
			err1 := ln.Close()
			err2 := ln.Close()
			assert.NoError(t, err1)
			assert.Equal(t, err1, err2, "later calls return the first call's result")
			_, err = ln.Accept()
			assert.ErrorIs(t, err, net.ErrClosed)
		})
	}
	assert.Empty(t, dirListing(t, dir))
}

func TestListenerCloseLeavesReplacement(t *testing.T) {
	t.Run("regular file", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "x.sock")
		ln, err := uds.Listen(context.Background(), uds.Path(p))
		require.NoError(t, err)
		require.NoError(t, os.Remove(p))
		require.NoError(t, os.WriteFile(p, []byte("someone else's"), 0o644))
		assert.NoError(t, ln.Close())
		data, err := os.ReadFile(p)
		require.NoError(t, err, "Close removed a file that was not its socket")
		assert.Equal(t, "someone else's", string(data))
		_, err = os.Lstat(p + ".lock")
		assert.ErrorIs(t, err, os.ErrNotExist, "the lock file is still removed")
		err1, err2 := ln.Close(), ln.Close()
		assert.NoError(t, err1)
		assert.Equal(t, err1, err2)
	})
	t.Run("another socket", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "x.sock")
		ln, err := uds.Listen(context.Background(), uds.Path(p))
		require.NoError(t, err)
		require.NoError(t, os.Remove(p))
		other, err := net.Listen("unix", p)
		require.NoError(t, err)
		defer other.Close()
		before, err := os.Lstat(p)
		require.NoError(t, err)
		assert.NoError(t, ln.Close())
		after, err := os.Lstat(p)
		require.NoError(t, err, "Close removed another server's socket")
		assert.True(t, os.SameFile(before, after))
		// And that server still works.
		c, err := net.DialTimeout("unix", p, 2*time.Second)
		require.NoError(t, err)
		c.Close()
	})
	t.Run("SetUnlinkOnClose(false)", func(t *testing.T) {
		dir := mkSockDir(t)
		p := filepath.Join(dir, "x.sock")
		ln, err := uds.Listen(context.Background(), uds.Path(p))
		require.NoError(t, err)
		ln.SetUnlinkOnClose(false)
		require.NoError(t, ln.Close())
		fi, err := os.Lstat(p)
		require.NoError(t, err, "SetUnlinkOnClose(false) leaves the socket file")
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
		_, err = os.Lstat(p + ".lock")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}
