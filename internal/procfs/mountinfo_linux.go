package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SuperDev returns the device number of the superblock of the file system
// that holds the file open as fd, as /proc/self/mountinfo, /proc/locks and
// sock_diag report it: the file's mount (statx STATX_MNT_ID, Linux 5.8)
// looked up in the mount table. It differs from stat's device where a file
// system gives each subvolume a device of its own (btrfs).
func SuperDev(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, os.NewSyscallError("statx", err)
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, errors.New("the kernel reports no mount ID (statx STATX_MNT_ID, Linux 5.8)")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMountinfo+1))
	if err != nil {
		return 0, err
	}
	if len(data) > maxMountinfo {
		return 0, fmt.Errorf("/proc/self/mountinfo is over %d bytes", maxMountinfo)
	}
	return mountDev(data, stx.Mnt_id)
}

// maxMountinfo bounds the mount table read by SuperDev (about 50,000
// mounts).
const maxMountinfo = 8 << 20

// mountDev finds mount id in a mountinfo table ("36 35 98:0 / /mnt ...")
// and returns its device.
func mountDev(table []byte, id uint64) (uint64, error) {
	want := strconv.FormatUint(id, 10)
	for len(table) > 0 {
		line := table
		if i := bytes.IndexByte(table, '\n'); i >= 0 {
			line, table = table[:i], table[i+1:]
		} else {
			table = nil
		}
		f := bytes.Fields(line)
		if len(f) < 3 || string(f[0]) != want {
			continue
		}
		maj, min, ok := bytes.Cut(f[2], []byte{':'})
		if !ok {
			break
		}
		ma, err1 := strconv.ParseUint(string(maj), 10, 32)
		mi, err2 := strconv.ParseUint(string(min), 10, 32)
		if err1 != nil || err2 != nil {
			break
		}
		return unix.Mkdev(uint32(ma), uint32(mi)), nil
	}
	return 0, fmt.Errorf("mount %d not found in /proc/self/mountinfo", id)
}
