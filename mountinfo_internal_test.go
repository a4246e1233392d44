//go:build linux

package uds

import (
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

// TestSuperDevOfRoot checks superDev against the mount table for a file on
// the root file system (whose stat device is the superblock's on the
// file systems CI runs on).
func TestSuperDevOfRoot(t *testing.T) {
	fd, st, err := pinFile(unix.AT_FDCWD, "/")
	require.NoError(t, err)
	defer unix.Close(fd)
	dev, err := superDev(fd)
	require.NoError(t, err)
	if dev != uint64(st.Dev) {
		t.Logf("/ is on a file system whose stat device (%d:%d) is not its superblock's (%d:%d)",
			unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), unix.Major(dev), unix.Minor(dev))
	}
	assert.NotZero(t, dev)
}
