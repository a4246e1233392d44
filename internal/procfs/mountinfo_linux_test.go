package procfs

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMountDev(t *testing.T) {
	table := []byte("22 1 0:21 / /proc rw,nosuid - proc proc rw\n" +
		"46 27 0:40 / /mnt/b rw,relatime - btrfs /dev/loop0 rw,subvolid=5,subvol=/\n" +
		"45 27 7:1 / /mnt/x rw - xfs /dev/loop1 rw,inode64\n" +
		"460 27 259:1048575 / /big rw - ext4 /dev/x rw") // no final newline
	for _, c := range []struct {
		id       uint64
		maj, min uint32
	}{{46, 0, 40}, {45, 7, 1}, {22, 0, 21}, {460, 259, 1048575}} {
		dev, err := mountDev(table, c.id)
		require.NoError(t, err, "mount %d", c.id)
		assert.Equal(t, unix.Mkdev(c.maj, c.min), dev, "mount %d", c.id)
	}
	_, err := mountDev(table, 4)
	assert.ErrorContains(t, err, "mount 4 not found")
	_, err = mountDev([]byte("7 1 bad / / rw - x y rw\n"), 7)
	assert.Error(t, err, "a device field that is not MAJ:MIN")
}

// TestSuperDevOfRoot checks SuperDev (which finds the mount by its ID) on
// "/" against the device of the mount table's last entry mounted on "/"
// (found by mount point instead).
func TestSuperDevOfRoot(t *testing.T) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	dev, err := SuperDev(fd)
	require.NoError(t, err)

	table, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var want string
	for _, line := range strings.Split(string(table), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/" {
			want = f[2] // the last mount on "/" is the one seen
		}
	}
	require.NotEmpty(t, want, "no mount on / in the mount table")
	assert.Equal(t, want, fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)))
}
