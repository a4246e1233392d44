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
	"github.com/udskit/uds/diag"
)

var lsCmd = &command{
	name:    "ls",
	summary: "list Unix sockets with their processes (like ss -xp)",
	usage: `Usage: uds ls [-l] [--path PATH] [--name ADDR] [--pid PID] [--state STATE]
              [--type TYPE] [--json]

List the Unix sockets of the network namespace, one per line, like
'ss -xp': kind (path, abstract, unnamed), type, state, receive and send
queues (for a listener: connections waiting to be accepted, and the
backlog), address, socket inode, the peer's inode, the processes holding
the socket ("comm pid=N fd=N", several separated by ", "; "-" when none
can be seen: a connection not yet accepted, or another user's process
without privilege), and the processes holding the peer socket, as
'lsof -U +E' shows the other end of a connection. A socket whose path now
names another file is marked "(shadowed)". A path longer than sun_path
that was bound through a directory descriptor (/proc/self/fd/N/NAME, as
the uds library does) is shown as the socket file's real path, learnt
from the holder's descriptor N, or marked "(long path via /proc/self/fd)"
when it cannot be. Sockets are sorted by address, listeners first.

Options:
  -l, --listening  only sockets that serve an address, as 'ss -xl' lists
                   them: listeners, and bound sockets that are not
                   connected (datagram servers; a stream socket bound and
                   not listening yet). Unbound sockets are left out.
  --path PATH      only the sockets bound to the socket file PATH, found
                   by its inode as 'uds who' does (a renamed file or a
                   relative path works), with their accepted connections,
                   and the shadowed sockets bound under that name
  --name ADDR      only sockets bound to exactly ADDR: @name for an
                   abstract name (\xNN escapes), or a path as it was bound
                   (or the real path of a long one); a listener's accepted
                   connections carry its address
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
                   when unknown; "peer_procs" (the processes holding the
                   peer) and "file_path" (a long path's real path) are
                   there when known

Exit status:
  0   success (also when no socket matches)
  64  usage error
  69  the sockets could not be listed (no sock_diag: not Linux)
`,
	examples: []string{
		"uds ls -l                          # every listener and who holds it",
		"uds ls --pid $$                    # the sockets this shell holds",
		"uds ls --state established --type stream  # who talks to whom",
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
	// FilePath is the real path of a socket bound through
	// /proc/self/fd/N/NAME (a path longer than sun_path), when known.
	FilePath string `json:"file_path,omitempty"`
	// PeerProcs are the processes holding the peer socket (ls only).
	PeerProcs []procJSON `json:"peer_procs,omitempty"`
}

type procJSON struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	FD   int    `json:"fd"`
}

func toJSON(s diag.Socket) socketJSON {
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
		FilePath: s.FilePath,
	}
	if j.Pending == nil {
		j.Pending = []uint64{}
	}
	for _, p := range s.Procs {
		j.Procs = append(j.Procs, procJSON(p))
	}
	return j
}

// writeJSON writes socks as a JSON array, one socket per line; peers, if
// not nil, gives the processes holding each socket's peer.
func writeJSON(w io.Writer, socks []diag.Socket, peers map[uint64][]diag.Proc) error {
	if len(socks) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	for i, s := range socks {
		j := toJSON(s)
		for _, p := range peers[s.Peer] {
			j.PeerProcs = append(j.PeerProcs, procJSON(p))
		}
		b, err := json.Marshal(j)
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
	name  *uds.Addr
	pid   int
	state *diag.SocketState
	typ   *uds.SocketType
	// listening keeps listeners and bound sockets that are not connected
	// (datagram servers; a stream socket bound and not listening yet).
	listening bool
	inodes    map[uint64]bool // from --path
	shadowed  map[uint64]bool // Who's verdict for --path
}

func (f *lsFilter) keep(s diag.Socket) bool {
	if f.inodes != nil && !f.inodes[s.Inode] {
		return false
	}
	if f.name != nil && (s.Addr.Kind() != f.name.Kind() || s.Addr.Name() != f.name.Name() && s.FilePath != f.name.Name()) {
		return false
	}
	if f.state != nil && s.State != *f.state {
		return false
	}
	if f.listening && s.State != diag.StateListen && (s.State != diag.StateUnconnected || s.Addr.Kind() == uds.KindUnnamed) {
		return false
	}
	if f.typ != nil && s.Type != *f.typ {
		return false
	}
	if f.pid != 0 && !slices.ContainsFunc(s.Procs, func(p diag.Proc) bool { return p.PID == f.pid }) {
		return false
	}
	return true
}

func parseState(s string) (diag.SocketState, bool) {
	switch strings.ToLower(s) {
	case "listen", "listening":
		return diag.StateListen, true
	case "established", "estab", "connected":
		return diag.StateEstablished, true
	case "unconnected", "unconn":
		return diag.StateUnconnected, true
	case "connecting":
		return diag.StateConnecting, true
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
		if f.state != nil && *f.state != diag.StateListen && *f.state != diag.StateUnconnected {
			return usageError(st, c, "-l and --state %s contradict each other", *state)
		}
		f.listening = true
	}
	if set["type"] {
		t, ok := parseSocketType(*typ)
		if !ok || *typ == "" {
			return usageError(st, c, "--type %q: want stream, seqpacket or datagram", *typ)
		}
		f.typ = &t
	}

	var socks []diag.Socket
	var err error
	if set["path"] {
		if *path == "" {
			return usageError(st, c, "--path: empty path")
		}
		// Who finds the sockets; list them with everything else that is
		// bound to the same file (accepted connections included).
		var served []diag.Socket
		if served, err = diag.Who(ctx, uds.Path(*path)); err == nil {
			f.inodes, f.shadowed = map[uint64]bool{}, map[uint64]bool{}
			files := map[[2]uint64]bool{} // bound file -> shadowed
			for _, s := range served {
				f.inodes[s.Inode] = true
				f.shadowed[s.Inode] = s.Shadowed
				if s.FileIno != 0 {
					files[[2]uint64{s.FileDev, s.FileIno}] = s.Shadowed
				}
			}
			socks, err = diag.Sockets(ctx)
			for _, s := range socks {
				// Accepted connections are bound to their listener's file.
				if shadowed, ok := files[[2]uint64{s.FileDev, s.FileIno}]; ok && s.FileIno != 0 && !f.inodes[s.Inode] {
					f.inodes[s.Inode] = true
					f.shadowed[s.Inode] = shadowed
				}
			}
		}
	} else {
		socks, err = diag.Sockets(ctx)
	}
	if err != nil {
		return fail(st, err, exitUnavailable)
	}
	// The processes at the other end of each connection, found among all
	// the sockets before they are filtered.
	byInode := make(map[uint64][]diag.Proc, len(socks))
	for _, s := range socks {
		if len(s.Procs) > 0 {
			byInode[s.Inode] = s.Procs
		}
	}
	peers := map[uint64][]diag.Proc{}
	socks = slices.DeleteFunc(socks, func(s diag.Socket) bool { return !f.keep(s) })
	for _, s := range socks {
		if ps, ok := byInode[s.Peer]; ok && s.Peer != 0 {
			peers[s.Peer] = ps
		}
	}
	for i := range socks {
		if f.shadowed != nil {
			// Who judged against the path asked for; Sockets only knows
			// absolute bound names.
			socks[i].Shadowed = f.shadowed[socks[i].Inode]
		}
	}
	sortForDisplay(socks)

	if *asJSON {
		if err := writeJSON(st.out, socks, peers); err != nil {
			return fail(st, err, exitUnavailable)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(st.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTYPE\tSTATE\tRECV-Q\tSEND-Q\tADDRESS\tINODE\tPEER\tPROCESS\tPEER-PROCESS")
	for _, s := range socks {
		addr := sockAddrText(s)
		if s.Shadowed {
			addr += " (shadowed)"
		}
		peer := "-"
		if s.Peer != 0 {
			peer = procList(peers[s.Peer])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n",
			s.Addr.Kind(), s.Type, s.State, s.RQueue, s.WQueue, addr, s.Inode, dashIfZero(s.Peer), procList(s.Procs), peer)
	}
	if err := tw.Flush(); err != nil {
		return fail(st, err, exitUnavailable)
	}
	return exitOK
}

// sortForDisplay orders sockets by address (named ones first), listeners
// first among sockets of one address, then by inode.
func sortForDisplay(socks []diag.Socket) {
	slices.SortStableFunc(socks, func(a, b diag.Socket) int {
		an, bn := a.Addr.Kind() == uds.KindUnnamed, b.Addr.Kind() == uds.KindUnnamed
		if an != bn {
			if an {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(sockAddrText(a), sockAddrText(b)); c != 0 {
			return c
		}
		if al, bl := a.State == diag.StateListen, b.State == diag.StateListen; al != bl {
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

// longPathNote marks a socket bound through /proc/self/fd/N/NAME whose
// real path could not be learnt.
const longPathNote = " (long path via /proc/self/fd)"

// sockAddrText is the address shown for a socket: its file's real path for
// a long path bound through a directory descriptor, if known, and never a
// bare /proc/self/fd/N/NAME, which names nothing outside the binder.
func sockAddrText(s diag.Socket) string {
	if s.FilePath != "" {
		return displayAddr(uds.Path(s.FilePath))
	}
	if s.Addr.Kind() == uds.KindPath && strings.HasPrefix(s.Addr.Name(), "/proc/self/fd/") {
		return displayAddr(s.Addr) + longPathNote
	}
	return displayAddr(s.Addr)
}

func dashIfZero(n uint64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(n, 10)
}

// procList writes the processes holding a socket: "nc pid=12 fd=3, ...".
func procList(ps []diag.Proc) string {
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
