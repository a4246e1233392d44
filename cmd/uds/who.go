package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// who's exit codes.
const (
	exitServed    = 0
	exitNotServed = 1
)

var whoCmd = &command{
	name:    "who",
	summary: "show the processes serving ADDR: PID, command, fd, socket inode",
	usage: `Usage: uds who [--json] ADDR

Show the processes serving the Unix socket ADDR, one line per descriptor:
PID, command, descriptor number, socket inode, socket type and state.

A path is matched by its file (device and inode, with lstat: a symbolic
link is not followed), so a relative path, a renamed socket file or a path
through another directory finds the process that bound it. Sockets bound
under the path's name whose file was removed or replaced since (a second
'nc -lU PATH' removes the first one's file) are listed too, marked
"shadowed": clients can no longer reach them. An abstract name is
matched exactly, with one socket per socket type at most. Connections a
listener accepted are left out. PID is "-" when no process can be seen
holding the socket (another user's process, without privilege).

Options:
  --json   print a JSON array of sockets instead, as 'uds ls --json' does

Exit status:
  0   a socket serves ADDR
  1   nothing serves ADDR (shadowed sockets alone do not count)
  64  usage error
  69  the sockets could not be listed (no sock_diag: not Linux)
`,
	examples: []string{
		"uds who /run/docker.sock           # PID COMMAND FD INODE TYPE STATE",
		"uds who @app || echo \"app is not running\"",
		"uds who --json /tmp/app.sock",
	},
	run: runWho,
}

func runWho(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	asJSON := fs.Bool("json", false, "")
	operands, code, ok := parseArgs(st, c, fs, args, 1, 1)
	if !ok {
		return code
	}
	a, code, ok := parseTarget(st, c, operands[0], "")
	if !ok {
		return code
	}
	socks, err := diag.Who(ctx, a)
	if err != nil {
		return fail(st, err, exitUnavailable)
	}
	served := false
	for _, s := range socks {
		served = served || !s.Shadowed
	}

	if *asJSON {
		if err := writeJSON(st.out, socks, nil); err != nil {
			return fail(st, err, exitUnavailable)
		}
	} else if len(socks) > 0 {
		tw := tabwriter.NewWriter(st.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PID\tCOMMAND\tFD\tINODE\tTYPE\tSTATE")
		for _, s := range socks {
			note := ""
			if s.Shadowed {
				note = "shadowed: not reachable at " + displayAddr(a)
			} else if s.Addr.Kind() == uds.KindPath && s.Addr.Name() != a.Name() && s.FilePath != a.Name() {
				note = "bound as " + sockAddrText(s)
			}
			if note != "" {
				note = "\t" + note // a last column only where there is one
			}
			if len(s.Procs) == 0 {
				fmt.Fprintf(tw, "-\t-\t-\t%d\t%s\t%s%s\n", s.Inode, s.Type, s.State, note)
			}
			for _, p := range s.Procs {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s%s\n", p.PID, orDash(p.Comm), p.FD, s.Inode, s.Type, s.State, note)
			}
		}
		if err := tw.Flush(); err != nil {
			return fail(st, err, exitUnavailable)
		}
	}
	if served {
		return exitServed
	}
	if !*asJSON {
		fmt.Fprintf(st.err, "uds who: nothing serves %s%s\n", displayAddr(a), whatIsThere(a))
	}
	return exitNotServed
}

// whatIsThere says why a path is not served, when something else is there.
func whatIsThere(a uds.Addr) string {
	if a.Kind() != uds.KindPath {
		return ""
	}
	fi, err := os.Lstat(a.Name())
	switch {
	case err != nil:
		return ""
	case fi.Mode()&os.ModeSymlink != 0:
		return ": it is a symbolic link (not followed; ask about its target)"
	case fi.Mode()&os.ModeSocket == 0:
		return ": it is not a socket"
	}
	return ": a stale socket file"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
