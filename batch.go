package uds

// Message is one message of a batch read or write (ReadBatch, WriteBatch).
// The caller owns the slice of Messages and their buffers and can reuse them
// from call to call: a batch in steady state allocates nothing.
type Message struct {
	// Buf is the buffer to read the message into, or the message to write.
	Buf []byte

	// N is the number of bytes read into Buf, or written.
	N int

	// Len is the message's full length after a read. Len > N means the
	// message did not fit in Buf and was truncated (Err is ErrTruncated).
	Len int

	// Addr is the sender after a read on a DatagramConn (exact, like
	// ReadFromAddr; KindUnnamed for a sender that never bound). For a write
	// on a DatagramConn it is the destination; the zero (unnamed) address
	// sends to the connected peer. SeqPacketConn ignores it.
	Addr Addr

	// Cred, if not nil on a read, receives the sender's credentials
	// (SCM_CREDENTIALS; the socket needs SO_PASSCRED from before the
	// message was sent, see PassCred); Err is ErrNoCredentials if the
	// message carried none. If not nil on a write, the credentials are sent
	// with the message (see SeqPacketConn.WriteCred).
	Cred *Cred

	// Err reports a problem of this message alone after a read:
	// ErrTruncated or ErrNoCredentials. The data in Buf[:N] is valid.
	Err error
}

// ReadBatch reads up to len(ms) messages with as few system calls as
// possible (recvmmsg on Linux): it waits, honouring the read deadline, until
// at least one message is queued, then takes every queued message that fits
// in ms, and returns how many it filled. Each Message gets its data, length,
// truncation, sender address and, if asked, credentials. Descriptors a peer
// sends along are closed, never leaked.
func (c *DatagramConn) ReadBatch(ms []Message) (int, error) { return c.m.readBatch(ms) }

// WriteBatch sends the messages in ms, each to its Addr (or the connected
// peer for the zero address), with as few system calls as possible (sendmmsg
// on Linux). It waits for room like WriteTo, within the write deadline, and
// returns how many messages went: on an error, the messages before the
// returned count were sent and the one at the count was not.
func (c *DatagramConn) WriteBatch(ms []Message) (int, error) { return c.m.writeBatch(ms, true) }

// ReadBatch reads up to len(ms) messages with as few system calls as
// possible; see DatagramConn.ReadBatch. Message.Addr is not set. An empty
// message is a Message with N == 0; the end of the connection is io.EOF
// from the call that finds it with no message before it. (After
// SetZeroReadIsEOF(true), empty messages that fill the end of ms are taken
// for the end of the connection.)
func (c *SeqPacketConn) ReadBatch(ms []Message) (int, error) { return c.m.readBatch(ms) }

// WriteBatch sends the messages in ms to the peer with as few system calls
// as possible; see DatagramConn.WriteBatch. Message.Addr is ignored.
func (c *SeqPacketConn) WriteBatch(ms []Message) (int, error) { return c.m.writeBatch(ms, false) }
