package peertool

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const missing = "uds-peertool-no-such-program"

// fakeTB records what Require does to a test; Skipf and Fatalf end the
// goroutine as testing.T's do.
type fakeTB struct {
	name            string
	skipped, failed string
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return f.name }

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// require runs s.Require(f, name) as a test body would, and returns its
// result ("" if the test ended).
func (f *fakeTB) require(s *Skips, name string) (path string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = s.Require(f, name)
	}()
	<-done
	return path
}

func TestSummary(t *testing.T) {
	var s Skips
	assert.Empty(t, s.Summary("uds"), "nothing skipped, nothing said")

	s.Add("socat", "TestA")
	s.Add("socat", "TestB/sub")
	s.Add("nc", "TestC")
	s.Add("socat", "TestA")
	assert.Equal(t, "uds: skipped because peers are missing: nc (TestC), socat (TestA, TestB/sub)", s.Summary("uds"))
	assert.Equal(t, "cmd/uds: skipped because peers are missing: nc (TestC), socat (TestA, TestB/sub)", s.Summary("cmd/uds"))
}

func TestAddConcurrent(t *testing.T) {
	var s Skips
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { s.Add("socat", fmt.Sprintf("Test%d", i)) })
	}
	wg.Wait()
	for i := range 8 {
		assert.Contains(t, s.Summary("uds"), fmt.Sprintf("Test%d", i))
	}
}

func TestRequire(t *testing.T) {
	t.Run("found", func(t *testing.T) {
		self, err := os.Executable()
		require.NoError(t, err)
		var s Skips
		f := &fakeTB{name: "TestFound"}
		assert.Equal(t, self, f.require(&s, self))
		assert.Empty(t, f.skipped)
		assert.Empty(t, f.failed)
		assert.Empty(t, s.Summary("uds"))
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv("CI", "")
		var s Skips
		f := &fakeTB{name: "TestMissing"}
		assert.Empty(t, f.require(&s, missing))
		assert.Contains(t, f.skipped, missing+" is not installed")
		assert.Empty(t, f.failed)
		assert.Equal(t, "uds: skipped because peers are missing: "+missing+" (TestMissing)", s.Summary("uds"))
	})
	t.Run("missing under CI", func(t *testing.T) {
		t.Setenv("CI", "true")
		var s Skips
		f := &fakeTB{name: "TestMissing"}
		assert.Empty(t, f.require(&s, missing))
		assert.Contains(t, f.failed, missing+" is required under CI")
		assert.Empty(t, f.skipped)
		assert.Empty(t, s.Summary("uds"), "a failure is no skip")
	})
	t.Run("a real test", func(t *testing.T) {
		t.Setenv("CI", "")
		var s Skips
		var after bool
		t.Run("sub", func(t *testing.T) {
			s.Require(t, missing)
			after = true
		})
		assert.False(t, after, "the test ended at Require")
		assert.Equal(t, "uds: skipped because peers are missing: "+missing+" (TestRequire/a_real_test/sub)", s.Summary("uds"))
	})
}
