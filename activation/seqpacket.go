package activation

import (
	"os"

	"github.com/udskit/uds"
)

// SeqPacketListener takes the seqpacket listener named name ("" for the
// first one not yet taken), through uds.FileSeqPacketListener; see
// Listener.
func (s *Set) SeqPacketListener(name string) (*uds.SeqPacketListener, error) {
	var l *uds.SeqPacketListener
	err := s.take(name, "Unix seqpacket listener", func(f *os.File) (err error) {
		l, err = uds.FileSeqPacketListener(f)
		return err
	})
	return l, err
}
