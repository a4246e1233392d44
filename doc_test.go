//go:build linux

package uds_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goBlock is a ```go block of a Markdown file.
type goBlock struct {
	line int // the line of the block's first line of code, from 1
	code string
}

// goBlocks returns the ```go blocks of a Markdown text; blocks in other
// languages (sh, text, none) are left out.
func goBlocks(md string) []goBlock {
	var blocks []goBlock
	var code strings.Builder
	inFence, isGo, first := false, false, 0
	for i, line := range strings.Split(md, "\n") {
		fence, ok := strings.CutPrefix(strings.TrimSpace(line), "```")
		switch {
		case !inFence && ok:
			inFence, isGo, first = true, strings.TrimSpace(fence) == "go", i+2
			code.Reset()
		case inFence && ok && fence == "":
			if isGo {
				blocks = append(blocks, goBlock{line: first, code: code.String()})
			}
			inFence = false
		case inFence:
			code.WriteString(line)
			code.WriteByte('\n')
		}
	}
	return blocks
}

// snippetImports are the packages a snippet may use without importing
// them, by name, each with a function of its own. Every wrapped snippet
// imports them all, and the glue uses each function once, so that no
// import is unused.
var snippetImports = map[string]struct{ path, use string }{
	"activation": {"github.com/udskit/uds/activation", "Get"},
	"context":    {"context", "Background"},
	"errors":     {"errors", "New"},
	"fmt":        {"fmt", "Sprint"},
	"io":         {"io", "Copy"},
	"log":        {"log", "Print"},
	"net":        {"net", "Dial"},
	"http":       {"net/http", "Serve"},
	"os":         {"os", "Exit"},
	"exec":       {"os/exec", "Command"},
	"time":       {"time", "Now"},
	"uds":        {"github.com/udskit/uds", "Listen"},
	"udshttp":    {"github.com/udskit/uds/udshttp", "Client"},
	"diag":       {"github.com/udskit/uds/diag", "Probe"},
}

// snippetGlue declares what a snippet may use without declaring it:
// ctx (the parameter of the function the snippet is the body of) and the
// variables below, standing for what the surrounding program has.
const snippetGlue = `
// What a snippet may use without declaring it.
var (
	handler http.Handler       // the HTTP handler to serve
	conn    *uds.Conn          // a connected stream socket
	ln      *uds.Listener      // a stream listener
	srv     *uds.DatagramConn  // a datagram server socket
	logFile *os.File           // a file to pass
)

func main() { example(context.Background()) }
`

// snippetProgram returns the program that compiles b: b itself if it is
// a complete program, or b as the body of a function in one. Line
// directives make the compiler report README lines.
func snippetProgram(file string, b goBlock) string {
	directive := fmt.Sprintf("//line %s:%d\n", file, b.line)
	if regexp.MustCompile(`(?m)^package main\s*$`).MatchString(b.code) {
		return directive + b.code
	}
	var s strings.Builder
	names := slices.Sorted(maps.Keys(snippetImports))
	s.WriteString("package main\n\nimport (\n")
	for _, name := range names {
		fmt.Fprintf(&s, "\t%q\n", snippetImports[name].path)
	}
	s.WriteString(")\n\nvar _ = []any{")
	for _, name := range names {
		fmt.Fprintf(&s, "%s.%s, ", name, snippetImports[name].use)
	}
	s.WriteString("}\n")
	s.WriteString(snippetGlue)
	s.WriteString("\nfunc example(ctx context.Context) {\n")
	s.WriteString(directive)
	s.WriteString(b.code)
	s.WriteString("}\n")
	return s.String()
}

// vetSnippets writes every ```go block of the Markdown text md (called
// file in messages) as a package of a module that uses this repository's
// uds, and runs go vet on them all at once. It returns go vet's output and
// error.
func vetSnippets(t *testing.T, goTool, file, md string) (string, error) {
	t.Helper()
	blocks := goBlocks(md)
	require.NotEmpty(t, blocks, "%s has ```go blocks", file)
	progs := make([]linkProgram, len(blocks))
	for i, b := range blocks {
		progs[i] = linkProgram{dir: fmt.Sprintf("snippet%02d", i+1), src: snippetProgram(file, b)}
	}
	dir, env := linkModule(t, progs...)

	cmd := exec.Command(goTool, "vet", "./...")
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestREADMESnippets compiles (go vet) every ```go block of README.md as a
// program of its own, so that a snippet that stops compiling, or uses the
// API wrongly, fails the tests.
func TestREADMESnippets(t *testing.T) {
	goTool := requireTool(t, "go")
	file, err := filepath.Abs("README.md") // errors name README's lines
	require.NoError(t, err)
	md, err := os.ReadFile(file)
	require.NoError(t, err)
	out, err := vetSnippets(t, goTool, file, string(md))
	assert.NoError(t, err, "go vet of README.md's snippets:\n%s", out)
}

// TestREADMESnippetsCatch checks the check: a snippet that does not compile
// fails it, with the README line, while blocks in other languages are not
// compiled.
func TestREADMESnippetsCatch(t *testing.T) {
	goTool := requireTool(t, "go")
	md := strings.Join([]string{
		"# t",
		"```sh",
		"this is not Go",
		"```",
		"```go",
		"ln, err := uds.Listen(ctx, uds.Abstract(\"x\"))",
		"if err != nil {",
		"	log.Fatal(err)",
		"}",
		"defer ln.Close()",
		"```",
		"```go",
		"package main",
		"",
		"func main() {}",
		"```",
		"```go",
		"c, err := uds.Dial(ctx, uds.Abstract(\"x\"))",
		"if err != nil {",
		"	log.Fatal(err)",
		"}",
		"c.NoSuchMethod()",
		"```",
		"",
	}, "\n")
	blocks := goBlocks(md)
	require.Len(t, blocks, 3, "the sh block is left out")
	assert.Equal(t, 6, blocks[0].line)
	assert.Equal(t, 13, blocks[1].line)

	out, err := vetSnippets(t, goTool, "FAKE.md", md)
	require.Error(t, err, "a snippet that does not compile fails the check:\n%s", out)
	assert.Contains(t, out, "FAKE.md:22", "the error names the snippet's line")
	assert.Contains(t, out, "NoSuchMethod")
	assert.NotContains(t, out, "FAKE.md:6:", "the good snippet compiles")
	assert.NotContains(t, out, "FAKE.md:13:", "the complete program compiles as it is")
}
