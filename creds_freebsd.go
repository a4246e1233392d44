package uds

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// xucred is FreeBSD's struct xucred (sys/ucred.h). x/sys declares the last
// member, a union of a pointer and cr_pid, as an unexported pointer field;
// here it is a uintptr so that the PID never sits in a pointer-typed field.
type xucred struct {
	version uint32
	uid     uint32
	ngroups int16
	groups  [16]uint32 // XU_NGROUPS; groups[0] is the effective GID
	pid     uintptr    // union { void *_cr_unused1; pid_t cr_pid; }
}

// The layout must match x/sys's, whose size cgo took from the C header.
var (
	_ [unix.SizeofXucred - unsafe.Sizeof(xucred{})]byte
	_ [unsafe.Sizeof(xucred{}) - unix.SizeofXucred]byte
)

const xucredVersion = 0 // XUCRED_VERSION

// peerCred reads LOCAL_PEERCRED: the peer's effective UID, effective GID and
// up to 15 supplementary groups (the structure holds 16 groups in all), and
// its PID, which FreeBSD 13 and later record at connect(2) (0 before, which
// is reported as no PID). FreeBSD has no PIDFD and no way to tell that the
// peer has exited: the PID may have been reused since.
func peerCred(fd int) (*Cred, error) {
	var xu xucred
	n := uint32(unsafe.Sizeof(xu))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED,
		uintptr(unsafe.Pointer(&xu)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return nil, os.NewSyscallError("getsockopt(LOCAL_PEERCRED)", e)
	}
	if xu.version != xucredVersion {
		return nil, os.NewSyscallError("getsockopt(LOCAL_PEERCRED)", unix.EPROTO)
	}
	c := &Cred{UID: int(xu.uid), GID: -1}
	ng := min(max(int(xu.ngroups), 0), len(xu.groups))
	if ng > 0 {
		c.GID = int(xu.groups[0])
		c.Groups = make([]int, 0, ng-1)
		for _, g := range xu.groups[1:ng] {
			c.Groups = append(c.Groups, int(g))
		}
	}
	// cr_pid is the first member of the union: its first four bytes.
	if n >= uint32(unsafe.Sizeof(xu)) {
		c.PID = int(*(*int32)(unsafe.Pointer(&xu.pid)))
	}
	return c, nil
}

// setPassCred: FreeBSD's LOCAL_CREDS and LOCAL_CREDS_PERSISTENT attach
// SCM_CREDS control messages, which uds does not read on this platform yet.
func setPassCred(int, bool) error { return unsupported("per-message credentials") }
