package uds

import (
	"os"

	"golang.org/x/sys/unix"
)

// peerCred reads LOCAL_PEERCRED (the effective UID and up to 16 groups, the
// first being the effective GID, as getpeereid(3) reports them) and
// LOCAL_PEERPID. darwin has no PIDFD, no security label in the socket layer
// and no way to tell that the peer has exited: the PID is a snapshot from
// connect(2) and may have been reused since.
func peerCred(fd int) (*Cred, error) {
	xu, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(LOCAL_PEERCRED)", err)
	}
	c := &Cred{UID: int(xu.Uid), GID: -1}
	n := min(max(int(xu.Ngroups), 0), len(xu.Groups))
	if n > 0 {
		c.GID = int(xu.Groups[0])
		c.Groups = make([]int, 0, n-1)
		for _, g := range xu.Groups[1:n] {
			c.Groups = append(c.Groups, int(g))
		}
	}
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(LOCAL_PEERPID)", err)
	}
	c.PID = pid
	return c, nil
}

// setPassCred: darwin has no per-message credentials (no SO_PASSCRED and no
// LOCAL_CREDS).
func setPassCred(int, bool) error { return unsupported("per-message credentials") }
