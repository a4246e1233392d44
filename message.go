package uds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Message is one message read or written with ReadMsg, WriteMsg, ReadBatch
// or WriteBatch: its data, and what travels with it (the sender's or the
// destination's address, credentials, descriptors). The caller owns the
// Message and its buffers and can reuse them from call to call: in steady
// state a Message costs no allocation beyond the files a read returns.
type Message struct {
	// Buf is the buffer to read the message into, or the message to write.
	Buf []byte

	// N is the number of bytes read into Buf, or written.
	N int

	// Len is the message's full length after a read. Len > N means the
	// message did not fit in Buf (ReadMsg then fails with a
	// *TruncatedError, unless Peek is set). On a stream socket Len is N.
	// It is -1 where the kernel does not tell the length of a truncated
	// message (darwin, without Peek).
	Len int

	// Addr is the sender after a read on a datagram socket: exact, with
	// KindUnnamed for a sender that never bound. For a write on a datagram
	// socket it is the destination; the zero (unnamed) address sends to the
	// connected peer. Connected stream and seqpacket sockets ignore it.
	Addr Addr

	// Cred, if not nil on a read, receives the sender's credentials
	// (SCM_CREDENTIALS, and a PIDFD the caller closes with SO_PASSPIDFD).
	// The socket needs SO_PASSCRED from before the message was sent
	// (ListenConfig.PassCred, Dialer.PassCred or PassCred); without them
	// the read fails with ErrNoCredentials after storing the data. If not
	// nil on a write, these credentials are sent with the message (only a
	// privileged process may send IDs other than its own; a receiver with
	// SO_PASSCRED gets the sender's real ones anyway). A stream write with
	// credentials needs at least one byte of data.
	Cred *Cred

	// Files are the descriptors to send with a write (SCM_RIGHTS): they
	// stay open here, and must not be closed during the call. On a read,
	// up to cap(Files) received descriptors are stored in Files[:0] as new
	// close-on-exec files that the caller closes; a message that carries
	// more, or that the kernel could not deliver whole (MSG_CTRUNC), fails
	// with a *TruncatedError, and every descriptor that arrived is closed.
	// With cap(Files) == 0 the read accepts none. At most
	// MaxFilesPerMessage travel in one message.
	Files []*os.File

	// FDs is Files for callers that manage raw descriptors themselves (the
	// caller closes the ones a read stores). Give Files or FDs, not both.
	FDs []int

	// Peek, on a read, leaves the message queued: the next read gets it
	// again. Len is then the message's full length even when Buf is too
	// short, and that is not an error: ReadMsg(c, &Message{Peek: true})
	// waits for the next message and tells its size. A peek takes no
	// descriptors (give no room for them).
	Peek bool

	// Err reports a problem of this message alone after a ReadBatch:
	// ErrTruncated or ErrNoCredentials. The data in Buf[:N] is valid.
	Err error
}

// ReadMsg reads one message from the Unix socket c into m: a *Conn, a
// *DatagramConn, a plain *net.UnixConn or an *os.File holding a socket. It
// waits through the runtime's poller, honouring c's read deadline.
//
// On a seqpacket or datagram socket one call reads one whole message, which
// may be empty; on a stream socket it reads what is there, and credentials
// and descriptors come with the first bytes that carried them. A stream
// read with an empty Buf and room for descriptors reads one byte, the NUL
// that WriteMsg adds to descriptors sent without data.
//
// No descriptor ever leaks into this process: on every error the
// descriptors that arrived are closed and none are returned, and
// descriptors in control messages nobody asked for (a PIDFD, files sent to
// a read without room for them) are closed too. Descriptors are
// close-on-exec from the moment they exist (MSG_CMSG_CLOEXEC; on darwin
// they are marked right after recvmsg under syscall.ForkLock).
//
// Errors are *net.OpError values; the end of a connection is io.EOF. On a
// plain *net.UnixConn of type seqpacket an empty message without
// descriptors cannot be told from the end and reads as io.EOF (a *Conn
// tells them apart). The uds types read with their own buffers and
// allocate nothing beyond the files returned; other connections cost a
// small allocation per call.
func ReadMsg(c syscall.Conn, m *Message) error {
	e, pooled, err := msgConnFor(c)
	if err != nil {
		return err
	}
	err = e.readMsg("read", m)
	if pooled {
		putMsgConn(e)
	}
	return err
}

// WriteMsg writes m on the Unix socket c (see ReadMsg for the kinds of c),
// honouring c's write deadline, and sets m.N. On a seqpacket or datagram
// socket the message is exactly m.Buf, which may be empty, even with
// descriptors. A stream cannot carry descriptors without data, so on a
// stream, and only when Buf is empty, one NUL byte is sent with them (not
// counted in N); a stream write sends all of Buf, as Write does. More than
// MaxFilesPerMessage descriptors is an error, before anything is sent.
func WriteMsg(c syscall.Conn, m *Message) error {
	e, pooled, err := msgConnFor(c)
	if err != nil {
		return err
	}
	err = e.writeMsg("write", m)
	if pooled {
		putMsgConn(e)
	}
	return err
}

// ErrTruncated means a message, or the descriptors that came with it, did
// not fit where it was read: the bytes that fit were returned, and the rest
// is gone. Errors that wrap it are *TruncatedError values.
var ErrTruncated = errors.New("message truncated")

// TruncatedError reports a message longer than the read buffer, or
// descriptors that could not all be received. errors.Is(err, ErrTruncated)
// is true for it.
type TruncatedError struct {
	Len int // the message's full length; -1 where the kernel does not report it (darwin)
	Buf int // the buffer's length: the bytes returned

	// Files, if not zero, says that the descriptors were cut, not the data:
	// at least Files descriptors arrived (all were closed), more than the
	// room of MaxFiles, or, with Ctrunc, the kernel could not deliver them
	// all (MSG_CTRUNC: no control space, or RLIMIT_NOFILE reached).
	Files, MaxFiles int
	Ctrunc          bool
}

// Error says what was cut and how much was kept.
func (e *TruncatedError) Error() string {
	switch {
	case e.Ctrunc:
		return fmt.Sprintf("descriptors truncated: the kernel could not deliver them all "+
			"(MSG_CTRUNC: no control space, or RLIMIT_NOFILE reached); the %d that arrived were closed", e.Files)
	case e.Files > 0:
		return fmt.Sprintf("descriptors truncated: the message carried at least %d descriptors, more than the %d allowed; all were closed",
			e.Files, e.MaxFiles)
	case e.Len < 0:
		return fmt.Sprintf("message truncated: longer than the %d-byte buffer", e.Buf)
	}
	return fmt.Sprintf("message truncated: %d bytes, buffer held %d", e.Len, e.Buf)
}

// Unwrap returns ErrTruncated.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }

// MessageSizeError reports a message too long for the socket to send (the
// kernel's EMSGSIZE). errors.Is(err, syscall.EMSGSIZE) is true for it.
type MessageSizeError struct {
	Len int // the message's length
	Max int // the longest message the socket sends now, -1 if unknown
}

// Error names the message's length and the socket's limit.
func (e *MessageSizeError) Error() string {
	if e.Max < 0 {
		return fmt.Sprintf("message too long: %d bytes", e.Len)
	}
	return fmt.Sprintf("message too long: %d bytes; this socket sends at most %d (its SO_SNDBUF less 32 bytes)", e.Len, e.Max)
}

// Unwrap returns syscall.EMSGSIZE.
func (e *MessageSizeError) Unwrap() error { return syscall.EMSGSIZE }

// truncated returns the *TruncatedError inside err, from recvCheck.
func truncated(err error) (*TruncatedError, bool) {
	if oe, ok := err.(*net.OpError); ok {
		if te, ok := oe.Err.(*TruncatedError); ok {
			return te, true
		}
	}
	return nil, false
}

var (
	errUnnamedPeer    = fmt.Errorf("%w: the peer is unnamed (it never bound), so it cannot receive replies", ErrInvalidAddr)
	errCredNeedsData  = fmt.Errorf("%w: credentials on a stream socket need at least one byte of data", ErrInvalidAddr)
	errAutobindTarget = fmt.Errorf("%w: autobind is a request for a local name, not a destination", ErrInvalidAddr)
	errNoDestination  = fmt.Errorf("%w: no destination: Message.Addr is unnamed and the socket is not connected (a sender that never bound cannot be replied to)", ErrInvalidAddr)
	errFilesAndFDs    = errors.New("a Message gives Files or FDs, not both")
	errPeekFiles      = errors.New("a Peek read cannot take descriptors: the kernel would install them while the message stays queued")
	errBatchFiles     = errors.New("WriteBatch does not send descriptors: send them with WriteMsg")
)
