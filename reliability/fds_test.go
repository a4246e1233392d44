//go:build linux

package reliability_test

// Reliability area 5: descriptor leaks. Many send/receive iterations over
// every kind of connection and every way of receiving, including forced
// MSG_CTRUNC (a message with far more descriptors than the receiver's
// control space) and receivers under `prlimit --nofile` whose descriptor
// table is full to a varying degree: zero descriptors leaked, counted in
// /proc/self/fd (and, in the limited child, by the free slots left).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/udskit/uds"
	"github.com/udskit/uds/internal/childproc"
	"github.com/udskit/uds/internal/testutil"
)

// TestReliabilityDescriptorLeaks: see the top of this file.
func TestReliabilityDescriptorLeaks(t *testing.T) {
	t.Run("in process", relFDsInProcess)
	t.Run("prlimit receivers", relFDsRlimit)
}

func relFDsInProcess(t *testing.T) {
	iterations := relSize(10000, 100000)
	type end struct {
		name string
		typ  uds.SocketType
		a, b testutil.FDEnd
	}
	var ends []end
	for _, p := range testutil.FDPairs() {
		a, b := p.Make(t)
		ends = append(ends, end{p.Name, p.Type, a, b})
	}
	files := testutil.OpenFiles(t, 6)
	many := make([]int, 200) // one descriptor 200 times: far beyond any control space asked for
	for i := range many {
		many[i] = int(files[0].Fd())
	}
	rng := rand.New(rand.NewPCG(9, 9))
	buf := make([]byte, 64)
	fds := make([]int, 8)
	ms := make([]uds.Message, 4)
	for i := range ms {
		ms[i].Buf = make([]byte, 64)
	}
	const nOps = 8
	var ops [nOps]int
	var ctrunc, truncated, ok int
	before := testutil.OpenFDCount(t)
	start := time.Now()
	for i := 0; i < iterations; i++ {
		e := ends[i%len(ends)]
		op := (i / len(ends)) % nOps
		k := 1 + rng.IntN(5)
		msg := []byte("m" + strconv.Itoa(i))
		var err error
		switch op {
		case 0: // everything wanted
			_, err = testutil.WriteFiles(e.a, msg, files[:k]...)
			require.NoError(t, err)
			n, got, err := testutil.ReadFiles(e.b, buf, k+rng.IntN(3))
			require.NoError(t, err, "iteration %d (%s)", i, e.name)
			require.Equal(t, string(msg), string(buf[:n]))
			require.Len(t, got, k)
			testutil.CloseAll(got)
			ok++
		case 1: // more descriptors than allowed
			_, err = testutil.WriteFiles(e.a, msg, files[:k]...)
			require.NoError(t, err)
			n, got, err := testutil.ReadFiles(e.b, buf, rng.IntN(k))
			require.ErrorIs(t, err, uds.ErrTruncated, "iteration %d (%s)", i, e.name)
			require.Equal(t, string(msg), string(buf[:n]))
			require.Empty(t, got)
			truncated++
		case 2: // forced MSG_CTRUNC: 200 descriptors, room asked for 0 to 2
			_, err = testutil.WriteFDs(e.a, msg, many)
			require.NoError(t, err)
			n, got, err := testutil.ReadFiles(e.b, buf, rng.IntN(3))
			require.ErrorIs(t, err, uds.ErrTruncated, "iteration %d (%s)", i, e.name)
			require.Contains(t, err.Error(), "MSG_CTRUNC")
			require.Equal(t, string(msg), string(buf[:n]))
			require.Empty(t, got)
			ctrunc++
		case 3: // the raw variant, slice too small or big enough
			_, err = testutil.WriteFDs(e.a, msg, testutil.Ints(files[:k]))
			require.NoError(t, err)
			m := rng.IntN(len(fds) + 1)
			for j := range fds {
				fds[j] = -1
			}
			n, nfd, err := testutil.ReadFDs(e.b, buf, fds[:m:m])
			require.Equal(t, string(msg), string(buf[:n]))
			if m >= k {
				require.NoError(t, err)
				require.Equal(t, k, nfd)
				for _, fd := range fds[:nfd] {
					unix.Close(fd)
				}
				ok++
			} else {
				require.ErrorIs(t, err, uds.ErrTruncated)
				require.Zero(t, nfd)
				for j := range fds {
					require.Equal(t, -1, fds[j], "no descriptor left in the caller's slice")
				}
				truncated++
			}
		case 4: // plain Read, which cannot hand descriptors out
			_, err = testutil.WriteFiles(e.a, msg, files[:k]...)
			require.NoError(t, err)
			n, err := e.b.Read(buf)
			require.NoError(t, err)
			require.Equal(t, string(msg), string(buf[:n]))
		case 5: // a message longer than the buffer (streams: all wanted)
			_, err = testutil.WriteFiles(e.a, msg, files[:k]...)
			require.NoError(t, err)
			if e.typ == uds.Stream {
				n, got, err := testutil.ReadFiles(e.b, buf, k)
				require.NoError(t, err)
				require.Equal(t, string(msg), string(buf[:n]))
				testutil.CloseAll(got)
				ok++
				break
			}
			n, got, err := testutil.ReadFiles(e.b, buf[:1], 8)
			var te *uds.TruncatedError
			require.ErrorAs(t, err, &te, "iteration %d (%s)", i, e.name)
			require.Equal(t, 1, n)
			require.Empty(t, got)
			truncated++
		case 6: // ReadBatch, which closes what it cannot hand out
			_, err = testutil.WriteFiles(e.a, msg, files[:k]...)
			require.NoError(t, err)
			_, foreign := e.b.(*net.UnixConn)
			if e.typ == uds.Stream || foreign {
				n, err := e.b.Read(buf)
				require.NoError(t, err)
				require.Equal(t, string(msg), string(buf[:n]))
				break
			}
			n, err := uds.ReadBatch(e.b, ms)
			require.NoError(t, err, "iteration %d (%s)", i, e.name)
			require.Equal(t, 1, n)
			require.Equal(t, string(msg), string(ms[0].Buf[:ms[0].N]))
		case 7: // files without data
			_, err = testutil.WriteFiles(e.a, nil, files[:k]...)
			require.NoError(t, err)
			n, got, err := testutil.ReadFiles(e.b, nil, k)
			require.NoError(t, err, "iteration %d (%s)", i, e.name)
			require.Zero(t, n)
			require.Len(t, got, k)
			testutil.CloseAll(got)
			ok++
		}
		ops[op]++
		if i%1000 == 999 {
			require.Equal(t, before, testutil.OpenFDCount(t), "descriptors open after %d iterations", i+1)
		}
	}
	leaked := testutil.OpenFDCount(t) - before
	assert.Zero(t, leaked, "descriptors leaked")
	relReport(t, "descriptor leaks", "in process: %d send/receive iterations over %d kinds of connection (ops %v: all wanted, over the maximum, forced MSG_CTRUNC with 200 descriptors, raw slice, plain Read, long message, ReadBatch, files without data): %d delivered, %d ErrTruncated, %d MSG_CTRUNC; %d descriptors leaked (/proc/self/fd %d before, %d after); %v",
		iterations, len(ends), ops, ok, truncated, ctrunc, leaked, before, before+leaked, time.Since(start).Round(time.Millisecond))
}

// The limited receiver: args: socket type, iterations; fd 3 is the socket.
// Before iteration i it leaves exactly i%5 descriptor slots free; the parent
// sends (i/5)%7 files. Files that fit arrive; otherwise the kernel delivers
// what fits and MSG_CTRUNC, and ReadMsg must close those. After every
// receive the free slots are counted again. It acknowledges each iteration
// with one byte on the socket and ends with "REPORT <json>".
const roleRelFDsRlimit = "rel-fds-rlimit"

func init() { childproc.Register(roleRelFDsRlimit, childRelFDsRlimit) }

type relRlimitReport struct {
	Limit, Iterations, Delivered, CTrunc, Leaks, Wrong int
	First                                              string
	Before, After                                      int
}

func childRelFDsRlimit(args []string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	iterations, _ := strconv.Atoi(args[1])
	c, limit, before, fillers, err := testutil.ChildStart(args[0])
	if err != nil {
		return fail(err)
	}
	r := relRlimitReport{Limit: limit, Iterations: iterations, Before: before}
	open := func() (int, error) { return unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0) }
	free := 0
	setFree := func(n int) {
		for free < n {
			unix.Close(fillers[len(fillers)-1])
			fillers = fillers[:len(fillers)-1]
			free++
		}
		for free > n {
			fd, err := open()
			if err != nil {
				panic(err)
			}
			fillers = append(fillers, fd)
			free--
		}
	}
	wrong := func(format string, a ...any) {
		r.Wrong++
		if r.First == "" {
			r.First = fmt.Sprintf(format, a...)
		}
	}
	fmt.Println(childproc.Ready)
	buf := make([]byte, 64)
	for i := 0; i < iterations; i++ {
		want := i % 5
		k := (i / 5) % 7
		setFree(want)
		n, files, err := testutil.ReadFiles(c, buf, 8)
		if got := string(buf[:n]); got != "m"+strconv.Itoa(i) {
			wrong("iteration %d: data %q", i, got)
		}
		switch {
		case k <= want && err == nil && len(files) == k:
			r.Delivered++
		case k > want && errors.Is(err, uds.ErrTruncated) && strings.Contains(err.Error(), "MSG_CTRUNC") && len(files) == 0:
			r.CTrunc++
		default:
			wrong("iteration %d: %d files, %d free slots: got %d files, err %v", i, k, want, len(files), err)
		}
		for _, f := range files {
			f.Close()
		}
		if got := testutil.CountFree(); got != want {
			r.Leaks += want - got
			wrong("iteration %d: %d free slots after the receive, want %d", i, got, want)
		}
		if _, err := c.Write([]byte{'a'}); err != nil {
			return fail(err)
		}
	}
	setFree(0)
	for _, fd := range fillers {
		unix.Close(fd)
	}
	r.After = testutil.ProcFDCount()
	out, _ := json.Marshal(r)
	fmt.Println("REPORT", string(out))
	return 0
}

func relFDsRlimit(t *testing.T) {
	prlimit := requireTool(t, "prlimit")
	iterations := relSize(500, 20000)
	exe, err := os.Executable()
	require.NoError(t, err)
	files := testutil.OpenFiles(t, 6)
	for _, typ := range []uds.SocketType{uds.Stream, uds.SeqPacket, uds.Datagram} {
		t.Run(typ.String(), func(t *testing.T) {
			mineF, theirs := testutil.PairFiles(t, typ)
			defer mineF.Close()
			mine := testutil.ConnFromFile(t, mineF, typ)
			cmd := exec.Command(prlimit, "--nofile=64:64", exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "UDS_CHILD_ROLE="+roleRelFDsRlimit,
				fmt.Sprintf(`UDS_CHILD_ARGS=["%s","%d"]`, typ, iterations), relGorace())
			cmd.ExtraFiles = []*os.File{theirs}
			var stderr testutil.SyncBuffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			theirs.Close()
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(stdout)
			require.True(t, lines.Scan(), "stderr: %s", stderr.String())
			require.Equal(t, childproc.Ready, lines.Text())
			start := time.Now()
			ack := make([]byte, 1)
			for i := 0; i < iterations; i++ {
				k := (i / 5) % 7
				msg := []byte("m" + strconv.Itoa(i))
				if k == 0 {
					_, err = mine.Write(msg)
				} else {
					_, err = testutil.WriteFiles(mine, msg, files[:k]...)
				}
				require.NoError(t, err)
				require.NoError(t, mine.SetReadDeadline(time.Now().Add(20*time.Second)))
				_, err = mine.Read(ack)
				require.NoError(t, err, "iteration %d: no acknowledgement; stderr: %s", i, stderr.String())
			}
			require.True(t, lines.Scan(), "stderr: %s", stderr.String())
			require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
			rest, ok := strings.CutPrefix(lines.Text(), "REPORT ")
			require.True(t, ok, lines.Text())
			var r relRlimitReport
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			assert.Equal(t, 64, r.Limit)
			assert.Zero(t, r.Wrong, "first: %s", r.First)
			assert.Zero(t, r.Leaks, "descriptors leaked in the limited receiver")
			assert.Equal(t, r.Before, r.After, "/proc/self/fd of the limited receiver")
			relReport(t, "descriptor leaks", "prlimit --nofile=64 receiver, %s: %d iterations (0-6 files, 0-4 free slots): %d delivered, %d MSG_CTRUNC, %d wrong, %d descriptors leaked (free slots counted after every receive; /proc/self/fd %d before, %d after); %v",
				typ, r.Iterations, r.Delivered, r.CTrunc, r.Wrong, r.Leaks, r.Before, r.After, time.Since(start).Round(time.Millisecond))
		})
	}
}
