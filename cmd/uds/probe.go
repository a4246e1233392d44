package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/udskit/uds"
	"github.com/udskit/uds/diag"
)

// probe's exit codes, one per state.
const (
	exitLive      = 0
	exitStale     = 1
	exitMissing   = 2
	exitNotSocket = 3
)

var probeCmd = &command{
	name:    "probe",
	summary: "tell whether a process serves ADDR: live, stale, missing, not a socket",
	usage: `Usage: uds probe [--json] [--type stream|seqpacket|datagram] ADDR

Tell whether a process serves the Unix socket ADDR, without changing
anything: no lock is taken and nothing is removed. Prints one line:

  live pid=1234 (server) accepting connections
                 a process holds the address (the PID is left out when it
                 cannot be learnt; an abstract name's socket type follows
                 in parentheses unless it is stream); also "listening, backlog full",
                 "socket of another type", "bound, not listening", or
                 "lock ADDR.lock held" by a server that is starting
  stale          a socket file no process holds: a crashed server's
                 leftover, which 'uds listen' and uds.Listen replace
  missing        nothing at the path, or no socket has the abstract name
  not a socket: a directory ...
                 something else is at the path (nothing is followed)

Options:
  --json         print a JSON object instead:
                 {"addr":"/run/app.sock","state":"live","pid":1234,
                  "comm":"server","detail":"accepting connections"}
                 state is "live", "stale", "missing" or "not a socket";
                 pid is 0 and comm left out when unknown; for a live
                 abstract name, "type" is its socket type
  --type TYPE    probe with a socket of this type: stream, seqpacket or
                 datagram. For a path, the default is stream (a socket of
                 another type is live all the same, with detail "socket
                 of another type"). Each socket type has its own abstract
                 names, so for an abstract name the default is to look for
                 all three, and --type looks for that type only. A
                 datagram socket is looked up with sock_diag and never
                 connected to.

Exit status:
  0   live          1   stale          2   missing      3   not a socket
  64  usage error   69  the probe failed (for example permission denied)
`,
	examples: []string{
		"uds probe /run/app.sock            # live pid=812 (app) accepting connections",
		"uds probe --json @app              # {\"addr\":\"@app\",\"state\":\"missing\",...}",
		"uds probe /run/app.sock >/dev/null || echo \"app is not running\"",
	},
	run: runProbe,
}

func runProbe(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	asJSON := fs.Bool("json", false, "")
	typ := fs.String("type", "", "")
	operands, code, ok := parseArgs(st, c, fs, args, 1, 1)
	if !ok {
		return code
	}
	typeSet := false
	fs.Visit(func(f *flag.Flag) { typeSet = typeSet || f.Name == "type" })
	t, ok := parseSocketType(*typ)
	if !ok || typeSet && *typ == "" {
		return usageError(st, c, "--type %q: want stream, seqpacket or datagram", *typ)
	}
	a, code, ok := parseTarget(st, c, operands[0], " to probe")
	if !ok {
		return code
	}
	var r diag.ProbeResult
	var err error
	foundType := ""
	if a.Kind() == uds.KindAbstract && !typeSet {
		r, foundType, err = probeAnyType(ctx, a)
	} else {
		r, err = diag.Probe(ctx, a.WithType(t))
		if a.Kind() == uds.KindAbstract && r.State == diag.ProbeLive {
			foundType = t.String()
		}
	}
	if err != nil {
		return fail(st, err, exitUnavailable)
	}
	comm := ""
	if r.State == diag.ProbeLive && r.PID > 0 {
		comm = processName(r.PID)
	}
	if *asJSON {
		out := struct {
			Addr   string `json:"addr"`
			State  string `json:"state"`
			PID    int    `json:"pid"`
			Comm   string `json:"comm,omitempty"`
			Detail string `json:"detail"`
			Type   string `json:"type,omitempty"`
		}{a.String(), r.State.String(), r.PID, comm, r.Detail, foundType}
		b, err := json.Marshal(out)
		if err != nil {
			return fail(st, err, exitUnavailable)
		}
		fmt.Fprintf(st.out, "%s\n", b)
	} else {
		line := probeLine(r, comm)
		if foundType != "" && foundType != uds.Stream.String() {
			line += " (" + foundType + ")"
		}
		fmt.Fprintln(st.out, line)
	}
	switch r.State {
	case diag.ProbeLive:
		return exitLive
	case diag.ProbeStale:
		return exitStale
	case diag.ProbeMissing:
		return exitMissing
	case diag.ProbeNotSocket:
		return exitNotSocket
	}
	fmt.Fprintf(st.err, "uds: probe %s: unknown state %v\n", a, r.State)
	return exitUnavailable
}

// probeLine is probe's one-line answer: "live pid=1234 (comm) accepting
// connections", "stale", "missing", "not a socket: a directory".
func probeLine(r diag.ProbeResult, comm string) string {
	var b strings.Builder
	b.WriteString(r.State.String())
	if r.State == diag.ProbeLive {
		if r.PID > 0 {
			b.WriteString(" pid=")
			b.WriteString(strconv.Itoa(r.PID))
			if comm != "" {
				b.WriteString(" (" + comm + ")")
			}
		}
		if r.Detail != "" {
			b.WriteString(" " + r.Detail)
		}
	} else if r.Detail != "" {
		b.WriteString(": " + r.Detail)
	}
	return b.String()
}

// processName returns the command name of process pid, "" if it cannot be
// read.
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// probeAnyType probes the abstract name a with each socket type in turn,
// stream, seqpacket, then datagram (each type has its own abstract names),
// and returns the first live answer with its type's name. The datagram
// probe asks sock_diag and connects to nothing. If sock_diag cannot be
// asked, the name is missing for the types that could be probed, and the
// detail says that datagram sockets could not be looked for.
func probeAnyType(ctx context.Context, a uds.Addr) (diag.ProbeResult, string, error) {
	var last diag.ProbeResult
	for _, t := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		r, err := diag.Probe(ctx, a.WithType(t))
		if err != nil {
			if t == uds.Datagram && errors.Is(err, uds.ErrUnverified) {
				last.Detail = "no stream or seqpacket socket; datagram sockets cannot be seen without sock_diag"
				break
			}
			return diag.ProbeResult{}, "", err
		}
		if r.State == diag.ProbeLive {
			return r, t.String(), nil
		}
		last = r
	}
	return last, "", nil
}

// parseSocketType reads a --type value: SocketType's words ("stream",
// "seqpacket", "datagram"), with "dgram" and "packet" accepted too; "" is
// stream.
func parseSocketType(s string) (uds.SocketType, bool) {
	switch strings.ToLower(s) {
	case "stream", "":
		return uds.Stream, true
	case "seqpacket", "packet":
		return uds.SeqPacket, true
	case "dgram", "datagram":
		return uds.Datagram, true
	}
	return 0, false
}
