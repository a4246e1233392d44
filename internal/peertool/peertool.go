// Package peertool finds the external programs that tests talk to (socat,
// nc, systemd-socket-activate, ...) and records the tests skipped because
// one is missing, so that a test run can say what it did not test.
package peertool

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
)

// TB is the part of testing.TB that Require uses.
type TB interface {
	Helper()
	Name() string
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Skips records the tests skipped because a peer program is missing. The
// zero value is ready to use, and a Skips is safe for concurrent use.
type Skips struct {
	mu    sync.Mutex
	tests map[string][]string // by program, in the order recorded
}

// Add records that test was skipped because the program tool is missing.
// A test recorded twice for the same program is named once.
func (s *Skips) Add(tool, test string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tests == nil {
		s.tests = make(map[string][]string)
	}
	if !slices.Contains(s.tests[tool], test) {
		s.tests[tool] = append(s.tests[tool], test)
	}
}

// Summary returns one line, starting with prefix, that names each missing
// program (by name) with the tests it made skip (in the order recorded),
// such as "uds: skipped because peers are missing: nc (TestC), socat
// (TestA, TestB)". It returns "" if no test was skipped.
func (s *Skips) Summary(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tests) == 0 {
		return ""
	}
	var parts []string
	for _, tool := range slices.Sorted(maps.Keys(s.tests)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", tool, strings.Join(s.tests[tool], ", ")))
	}
	return prefix + ": skipped because peers are missing: " + strings.Join(parts, ", ")
}

// Require returns the path of the program name. If it is not found, the
// test fails when the environment variable CI is set to anything, and is
// otherwise skipped, the skip recorded in s.
func (s *Skips) Require(t TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if ci := os.Getenv("CI"); ci != "" {
		t.Fatalf("%s is required under CI (CI=%q) but was not found: %v", name, ci, err)
		return ""
	}
	s.Add(name, t.Name())
	t.Skipf("%s is not installed (%v); with CI set this is a failure", name, err)
	return ""
}

// Exit ends a TestMain: it prints the summary of the skips under prefix, if
// there were any, and exits with code, the tests' exit code.
func (s *Skips) Exit(prefix string, code int) {
	if sum := s.Summary(prefix); sum != "" {
		fmt.Println(sum)
	}
	os.Exit(code)
}
