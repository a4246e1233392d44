//go:build linux || darwin || freebsd

package childproc

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const roleManyLines = "childproc-many-lines" // args: n

func init() {
	Register(roleManyLines, func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		for i := range n {
			fmt.Println("line", i)
		}
		return 0
	})
}

func TestMain(m *testing.M) { Main(m) }

// TestLinesOutliveChild: every line a child wrote is read, however long
// after the child exited the test reads them. More lines than Child buffers
// stay in the pipe meanwhile; a reader whose pipe was closed by Wait when
// the child exited lost them.
func TestLinesOutliveChild(t *testing.T) {
	const n = 500
	c := Start(t, Options{}, roleManyLines, strconv.Itoa(n))
	require.Equal(t, 0, c.Wait(10*time.Second))
	time.Sleep(50 * time.Millisecond) // let Wait's side finish whatever it does
	for i := range n {
		if !assert.Equal(t, fmt.Sprintf("line %d", i), c.Line(5*time.Second)) {
			return
		}
	}
}
