//go:build !(linux || darwin || freebsd)

package uds

import (
	"os"
	"syscall"
)

func (c *msgConn) writeMsg(string, *Message) error { return unsupported("sendmsg") }

func (c *msgConn) readMsg(string, *Message) error { return unsupported("recvmsg") }

func (c *msgConn) setUnlinkOnClose(bool) {}

func foreignMsgConn(syscall.Conn) (*msgConn, error) { return nil, unsupported("SCM_RIGHTS") }

func putMsgConn(*msgConn) {}

func setRefuseFiles(int) error { return unsupported("SO_PASSRIGHTS") }

func dupFile(syscall.Conn, Addr) (*os.File, error) { return nil, unsupported("File") }

func fileListener(*os.File) (*Listener, error) { return nil, unsupported("FileListener") }

func fileConn(*os.File) (*Conn, error) { return nil, unsupported("FileConn") }

func fileMsgConn(*os.File, SocketType) (*msgConn, error) {
	return nil, unsupported("FileDatagramConn")
}
