package wsframe

import "math"

// StepKind is what one ClientStream.Next step found.
type StepKind uint8

// Step kinds.
const (
	// StepMore: b holds too little for a step; wait for more bytes.
	StepMore StepKind = iota
	// StepHeader: a data frame header was consumed; its payload follows.
	StepHeader
	// StepData: Payload is the next piece of a data frame, unmasked.
	StepData
	// StepControl: a whole control frame; Op and Payload (unmasked) say which.
	StepControl
)

// Step is the result of ClientStream.Next.
type Step struct {
	Kind    StepKind
	N       int    // bytes of b consumed
	Op      Opcode // StepControl: the control opcode
	Payload []byte // StepData, StepControl: unmasked, aliasing b
}

// ClientStream parses the frames a client sends, in place, as they arrive:
// data payloads are unmasked and handed out piece by piece (a relay writes
// them on without waiting for whole frames), control frames whole. It
// enforces RFC 6455's rules for client frames and the message size limit,
// and refuses text frames unless AllowText is set (the relay is binary-only,
// as websockify).
//
// The zero value is ready to use with no size limit. It never allocates.
type ClientStream struct {
	// MaxMessage caps a message (all its fragments); zero means no cap.
	MaxMessage int64
	// MaxFragments caps the frames of one fragmented message (the first
	// frame and its continuations); zero means no cap. Without it a client
	// could keep a message open for ever with empty continuation frames, which
	// never count against MaxMessage. Over it: ErrTooManyFragments (1009).
	MaxFragments int
	// AllowText accepts text frames (their payloads are not checked for UTF-8).
	AllowText bool

	// The parse state, ordered so that the small fields share a word: a
	// relay holds one ClientStream per open console.
	inMessage   bool
	mask        [4]byte
	payloadLeft int64
	messageLen  int64
	maskOff     int
	fragments   int // frames of the open message so far
}

// maxControlFrame is the longest control frame: header and 125-byte payload.
const maxControlFrame = MaxHeaderSize + maxControlPayload

// Want returns how many bytes the next step can use at most: the rest of the
// current payload, else enough for a header and a whole control frame. A
// caller whose buffer is costly to read in full can read only this much.
func (s *ClientStream) Want() int {
	if s.payloadLeft > 0 {
		return int(min(s.payloadLeft, math.MaxInt32))
	}
	return maxControlFrame
}

// InMessage reports whether a fragmented message is open.
func (s *ClientStream) InMessage() bool { return s.inMessage }

// Next takes one step over the bytes at the start of b, which it may unmask
// in place. The caller discards Step.N bytes and calls again. An error is a
// *ProtocolError: the stream cannot go on and the connection should close
// with its code.
func (s *ClientStream) Next(b []byte) (Step, error) {
	if s.payloadLeft > 0 {
		if len(b) == 0 {
			return Step{}, nil
		}
		n := int(min(int64(len(b)), s.payloadLeft))
		p := b[:n]
		s.maskOff = Unmask(p, s.mask, s.maskOff)
		s.payloadLeft -= int64(n)
		return Step{Kind: StepData, N: n, Payload: p}, nil
	}
	h, hn, err := ParseHeader(b)
	if err != nil {
		return Step{}, err
	}
	if hn == 0 {
		return Step{}, nil
	}
	if err := h.CheckClient(); err != nil {
		return Step{}, err
	}
	if h.Op.IsControl() {
		whole := hn + int(h.Length)
		if len(b) < whole {
			return Step{}, nil
		}
		p := b[hn:whole]
		Unmask(p, h.Mask, 0)
		return Step{Kind: StepControl, N: whole, Op: h.Op, Payload: p}, nil
	}
	if err := s.startData(&h); err != nil {
		return Step{}, err
	}
	return Step{Kind: StepHeader, N: hn}, nil
}

// startData checks a data frame against the message state and the size cap
// and sets up its payload.
func (s *ClientStream) startData(h *Header) error {
	switch h.Op {
	case OpText:
		if !s.AllowText {
			return ErrTextFrame
		}
		fallthrough
	case OpBinary:
		if s.inMessage {
			return ErrMessageOpen
		}
		s.messageLen, s.fragments = 0, 0
	case OpContinuation:
		if !s.inMessage {
			return ErrContinuation
		}
	}
	s.fragments++
	if s.MaxFragments > 0 && s.fragments > s.MaxFragments {
		return ErrTooManyFragments
	}
	s.messageLen += h.Length
	if s.MaxMessage > 0 && s.messageLen > s.MaxMessage {
		return ErrTooBig
	}
	s.inMessage = !h.Fin
	s.payloadLeft, s.mask, s.maskOff = h.Length, h.Mask, 0
	return nil
}
