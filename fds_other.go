//go:build !linux && !darwin && !freebsd

package uds

import (
	"os"
	"syscall"
)

func (c *msgConn) sendFDs(string, []byte, *Addr, []int, []*os.File) (int, error) {
	return 0, unsupported("SCM_RIGHTS")
}

func (c *msgConn) recvFDs(string, []byte, *Addr, []int) (int, int, error) {
	return 0, 0, unsupported("SCM_RIGHTS")
}

func (c *msgConn) recvFiles(string, []byte, *Addr, int) (int, []*os.File, error) {
	return 0, nil, unsupported("SCM_RIGHTS")
}

func (c *msgConn) setUnlinkOnClose(bool) {}

func foreignEngine(syscall.Conn) (*msgConn, error) { return nil, unsupported("SCM_RIGHTS") }

func putEngine(*msgConn) {}

func setRefuseFiles(int) error { return unsupported("SO_PASSRIGHTS") }

func dupFile(syscall.Conn, Addr) (*os.File, error) { return nil, unsupported("File") }

func fileListener(*os.File, SocketType, *baseListener) error {
	return unsupported("FileListener")
}

func fileConn(*os.File) (*Conn, error) { return nil, unsupported("FileConn") }

func fileMsgConn(*os.File, SocketType) (*msgConn, error) {
	return nil, unsupported("FileSeqPacketConn and FileDatagramConn")
}
