package uds

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrTruncated means a message was longer than the buffer it was read into:
// the bytes that fit were returned and the rest of the message is gone.
// Errors that wrap it are *TruncatedError values, which carry the message's
// full length.
var ErrTruncated = errors.New("message truncated")

// TruncatedError reports a message longer than the read buffer.
// errors.Is(err, ErrTruncated) is true for it.
type TruncatedError struct {
	Len int // the message's full length; -1 where the kernel does not report it (darwin)
	Buf int // the buffer's length: the bytes returned
}

// Error says how long the message was and how much of it was kept.
func (e *TruncatedError) Error() string {
	return fmt.Sprintf("message truncated: %d bytes, buffer held %d", e.Len, e.Buf)
}

// Is reports whether target is ErrTruncated.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

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

var (
	errUnnamedPeer    = fmt.Errorf("%w: the peer is unnamed (it never bound), so it cannot receive replies", ErrInvalidAddr)
	errCredNeedsData  = fmt.Errorf("%w: credentials on a stream socket need at least one byte of data", ErrInvalidAddr)
	errAutobindTarget = fmt.Errorf("%w: autobind is a request for a local name, not a destination", ErrInvalidAddr)
)
