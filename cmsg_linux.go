package uds

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux's credential control messages (SCM_CREDENTIALS, SCM_PIDFD) and its
// refusal of descriptors (SO_PASSRIGHTS); cmsg_bsd.go is darwin's and
// FreeBSD's.

// credCtlSize is the control space for one SCM_CREDENTIALS message.
const credCtlSize = unix.SizeofCmsghdr + 16

// controlCred reads a control message of type typ that is not SCM_RIGHTS:
// SCM_CREDENTIALS into cred (if not nil; it reports whether it did), and
// SCM_PIDFD, whose descriptor goes to cred or is closed.
func controlCred(typ int32, data []byte, cred *Cred) bool {
	switch typ {
	case unix.SCM_CREDENTIALS:
		if cred != nil && len(data) >= unix.SizeofUcred {
			uc := (*unix.Ucred)(unsafe.Pointer(&data[0]))
			if uc.Pid != 0 {
				cred.PID, cred.UID, cred.GID = int(uc.Pid), int(uc.Uid), int(uc.Gid)
				return true
			}
		}
	case unix.SCM_PIDFD:
		if len(data) >= 4 {
			fd := int(*(*int32)(unsafe.Pointer(&data[0])))
			if cred != nil && cred.PIDFD == nil {
				cred.PIDFD = os.NewFile(uintptr(fd), "pidfd")
			} else {
				unix.Close(fd)
			}
		}
	}
	return false
}

// putCredControl writes an SCM_CREDENTIALS message for cred into buf and
// returns it.
func putCredControl(buf []byte, cred *Cred) ([]byte, error) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&buf[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_CREDENTIALS
	h.SetLen(unix.CmsgLen(unix.SizeofUcred))
	uc := (*unix.Ucred)(unsafe.Pointer(&buf[unix.SizeofCmsghdr]))
	uc.Pid, uc.Uid, uc.Gid = int32(cred.PID), uint32(cred.UID), uint32(cred.GID)
	return buf[:unix.CmsgSpace(unix.SizeofUcred)], nil
}

// setRefuseFiles sets SO_PASSRIGHTS to 0 on fd.
func setRefuseFiles(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSRIGHTS, 0); err != nil {
		if err == unix.ENOPROTOOPT {
			return unsupported("SO_PASSRIGHTS (Linux 6.16 or later)")
		}
		return os.NewSyscallError("setsockopt(SO_PASSRIGHTS)", err)
	}
	return nil
}
