package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/udskit/uds"
)

var lsCmd = &command{
	name:    "ls",
	summary: "list Unix sockets with their processes (like ss -xp)",
	usage: `Usage: uds ls [-l] [--path PATH] [--name ADDR] [--pid PID] [--state STATE]
              [--type TYPE] [--json]

List the Unix sockets of the network namespace, one per line, like
'ss -xp': kind (path, abstract, unnamed), type, state, receive and send
queues (for a listener: connections waiting to be accepted, and the
backlog), address, socket inode, the peer's inode, and the processes
holding the socket ("comm pid=N fd=N", several separated by ", "; "-"
when none can be seen: a connection not yet accepted, or another user's
process without privilege). A socket whose path now names another file
is marked "(shadowed)". Sockets are sorted by address, listeners first.

Options:
  -l, --listening  only listening sockets (same as --state listen)
  --path PATH      only the sockets bound to the socket file PATH, found
                   by its inode as 'uds who' does (a renamed file or a
                   relative path works), with their accepted connections,
                   and the shadowed sockets bound under that name
  --name ADDR      only sockets bound to exactly ADDR: @name for an
                   abstract name (\xNN escapes), or a path as it was bound;
                   a listener's accepted connections carry its address
  --pid PID        only sockets that process PID holds
  --state STATE    listen, established, unconnected or connecting
  --type TYPE      stream, seqpacket or datagram (dgram is accepted too)
  --json           print a JSON array instead, one object per socket:
                   {"kind":"path","type":"stream","state":"listen",
                    "addr":"/run/app.sock","inode":81234,"file_dev":2049,
                    "file_ino":1311,"uid":0,"recv_q":0,"send_q":4096,
                    "peer":0,"pending":[],"procs":[{"pid":812,
                    "comm":"app","fd":3}],"shadowed":false}
                   addr is in the uds text form (see below); uid is -1
                   when unknown

Exit status:
  0   success (also when no socket matches)
  64  usage error
  69  the sockets could not be listed (no sock_diag: not Linux)
`,
	examples: []string{
		"uds ls -l                          # every listener and who holds it",
		"uds ls --pid $$                    # the sockets this shell holds",
		"uds ls --json --name @app | jq '.[].procs'",
	},
	run: runLs,
}

// socketJSON is the JSON form of a socket, shared by ls and who.
type socketJSON struct {
	Kind     string     `json:"kind"`
	Type     string     `json:"type"`
	State    string     `json:"state"`
	Addr     string     `json:"addr"`
	Inode    uint64     `json:"inode"`
	FileDev  uint64     `json:"file_dev"`
	FileIno  uint64     `json:"file_ino"`
	UID      int        `json:"uid"`
	RecvQ    uint32     `json:"recv_q"`
	SendQ    uint32     `json:"send_q"`
	Peer     uint64     `json:"peer"`
	Pending  []uint64   `json:"pending"`
	Procs    []procJSON `json:"procs"`
	Shadowed bool       `json:"shadowed"`
}

type procJSON struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	FD   int    `json:"fd"`
}

func toJSON(s uds.Socket) socketJSON {
	j := socketJSON{
		Kind:     s.Addr.Kind().String(),
		Type:     s.Type.String(),
		State:    s.State.String(),
		Addr:     s.Addr.String(),
		Inode:    s.Inode,
		FileDev:  s.FileDev,
		FileIno:  s.FileIno,
		UID:      s.UID,
		RecvQ:    s.RQueue,
		SendQ:    s.WQueue,
		Peer:     s.Peer,
		Pending:  s.Pending,
		Procs:    []procJSON{},
		Shadowed: s.Shadowed,
	}
	if j.Pending == nil {
		j.Pending = []uint64{}
	}
	for _, p := range s.Procs {
		j.Procs = append(j.Procs, procJSON(p))
	}
	return j
}

// writeJSON writes socks as a JSON array, one socket per line.
func writeJSON(w io.Writer, socks []uds.Socket) error {
	if len(socks) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	for i, s := range socks {
		b, err := json.Marshal(toJSON(s))
		if err != nil {
			return err
		}
		sep := ",\n"
		if i == 0 {
			io.WriteString(w, "[\n")
		}
		if i == len(socks)-1 {
			sep = "\n]\n"
		}
		if _, err := fmt.Fprintf(w, "%s%s", b, sep); err != nil {
			return err
		}
	}
	return nil
}

// lsFilter is the set of ls's filters; the zero value keeps every socket.
type lsFilter struct {
	name     *uds.Addr
	pid      int
	state    *uds.SocketState
	typ      *uds.SocketType
	inodes   map[uint64]bool // from --path
	shadowed map[uint64]bool // Who's verdict for --path
}

func (f *lsFilter) keep(s uds.Socket) bool {
	if f.inodes != nil && !f.inodes[s.Inode] {
		return false
	}
	if f.name != nil && (s.Addr.Kind() != f.name.Kind() || s.Addr.Name() != f.name.Name()) {
		return false
	}
	if f.state != nil && s.State != *f.state {
		return false
	}
	if f.typ != nil && s.Type != *f.typ {
		return false
	}
	if f.pid != 0 && !slices.ContainsFunc(s.Procs, func(p uds.Proc) bool { return p.PID == f.pid }) {
		return false
	}
	return true
}

func parseState(s string) (uds.SocketState, bool) {
	switch strings.ToLower(s) {
	case "listen", "listening":
		return uds.StateListen, true
	case "established", "estab", "connected":
		return uds.StateEstablished, true
	case "unconnected", "unconn":
		return uds.StateUnconnected, true
	case "connecting":
		return uds.StateConnecting, true
	}
	return 0, false
}

func runLs(ctx context.Context, c *command, st *stdio, args []string) int {
	fs := newFlagSet(c.name)
	var listening bool
	fs.BoolVar(&listening, "l", false, "")
	fs.BoolVar(&listening, "listening", false, "")
	path := fs.String("path", "", "")
	name := fs.String("name", "", "")
	pid := fs.Int("pid", 0, "")
	state := fs.String("state", "", "")
	typ := fs.String("type", "", "")
	asJSON := fs.Bool("json", false, "")
	if _, code, ok := parseArgs(st, c, fs, args, 0, 0); !ok {
		return code
	}
	var f lsFilter
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["name"] {
		a, code, ok := parseAddr(st, c, "--name", *name)
		if !ok {
			return code
		}
		f.name = &a
	}
	if set["pid"] {
		if *pid <= 0 {
			return usageError(st, c, "--pid %d: want a process ID", *pid)
		}
		f.pid = *pid
	}
	if set["state"] {
		s, ok := parseState(*state)
		if !ok {
			return usageError(st, c, "--state %q: want listen, established, unconnected or connecting", *state)
		}
		f.state = &s
	}
	if listening {
		if f.state != nil && *f.state != uds.StateListen {
			return usageError(st, c, "-l and --state %s contradict each other", *state)
		}
		s := uds.StateListen
		f.state = &s
	}
	if set["type"] {
		t, ok := parseSocketType(*typ)
		if !ok || *typ == "" {
			return usageError(st, c, "--type %q: want stream, seqpacket or datagram", *typ)
		}
		f.typ = &t
	}

	var socks []uds.Socket
	var err error
	if set["path"] {
		if *path == "" {
			return usageError(st, c, "--path: empty path")
		}
		// Who finds the sockets; list them with everything else that is
		// bound to the same file (accepted connections included).
		var served []uds.Socket
		if served, err = uds.Who(ctx, uds.Path(*path)); err == nil {
			f.inodes, f.shadowed = map[uint64]bool{}, map[uint64]bool{}
			files := map[[2]uint64]bool{} // bound file -> shadowed
			for _, s := range served {
				f.inodes[s.Inode] = true
				f.shadowed[s.Inode] = s.Shadowed
				if s.FileIno != 0 {
					files[[2]uint64{s.FileDev, s.FileIno}] = s.Shadowed
				}
			}
			socks, err = uds.Sockets(ctx)
			for _, s := range socks {
				// Accepted connections are bound to their listener's file.
				if shadowed, ok := files[[2]uint64{s.FileDev, s.FileIno}]; ok && s.FileIno != 0 && !f.inodes[s.Inode] {
					f.inodes[s.Inode] = true
					f.shadowed[s.Inode] = shadowed
				}
			}
		}
	} else {
		socks, err = uds.Sockets(ctx)
	}
	if err != nil {
		return fail(st, err, exitUnavailable)
	}
	socks = slices.DeleteFunc(socks, func(s uds.Socket) bool { return !f.keep(s) })
	for i := range socks {
		if f.shadowed != nil {
			// Who judged against the path asked for; Sockets only knows
			// absolute bound names.
			socks[i].Shadowed = f.shadowed[socks[i].Inode]
		}
	}
	sortForDisplay(socks)

	if *asJSON {
		if err := writeJSON(st.out, socks); err != nil {
			return fail(st, err, exitUnavailable)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(st.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTYPE\tSTATE\tRECV-Q\tSEND-Q\tADDRESS\tINODE\tPEER\tPROCESS")
	for _, s := range socks {
		addr := displayAddr(s.Addr)
		if s.Shadowed {
			addr += " (shadowed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\n",
			s.Addr.Kind(), s.Type, s.State, s.RQueue, s.WQueue, addr, s.Inode, dashIfZero(s.Peer), procList(s.Procs))
	}
	if err := tw.Flush(); err != nil {
		return fail(st, err, exitUnavailable)
	}
	return exitOK
}

// sortForDisplay orders sockets by address (named ones first), listeners
// first among sockets of one address, then by inode.
func sortForDisplay(socks []uds.Socket) {
	slices.SortStableFunc(socks, func(a, b uds.Socket) int {
		an, bn := a.Addr.Kind() == uds.KindUnnamed, b.Addr.Kind() == uds.KindUnnamed
		if an != bn {
			if an {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(a.Addr.String(), b.Addr.String()); c != 0 {
			return c
		}
		if al, bl := a.State == uds.StateListen, b.State == uds.StateListen; al != bl {
			if al {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Inode, b.Inode)
	})
}

// displayAddr is an address's text form, quoted if a path holds bytes that
// would break the line or the columns.
func displayAddr(a uds.Addr) string {
	s := a.String()
	if a.Kind() == uds.KindPath && strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}

func dashIfZero(n uint64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(n, 10)
}

// procList writes the processes holding a socket: "nc pid=12 fd=3, ...".
func procList(ps []uds.Proc) string {
	if len(ps) == 0 {
		return "-"
	}
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		comm := p.Comm
		if comm == "" {
			comm = "?"
		}
		fmt.Fprintf(&b, "%s pid=%d fd=%d", comm, p.PID, p.FD)
	}
	return b.String()
}
