package wsframe

import (
	"encoding/binary"
	"math"
)

// MaxHeaderSize is the largest frame header: 2 bytes, 8 of extended length
// and a 4-byte mask (RFC 6455 section 5.2).
const MaxHeaderSize = 14

// Frame header bits (RFC 6455 section 5.2).
const (
	bitFin    = 0x80
	bitsRsv   = 0x70
	bitsOp    = 0x0f
	bitMask   = 0x80
	bitsLen7  = 0x7f
	len16Mark = 126
	len64Mark = 127
)

// Header is a parsed frame header.
type Header struct {
	Fin    bool
	Rsv    byte // RSV1-3 as the high nibble bits 0x40, 0x20, 0x10 of the first byte
	Op     Opcode
	Masked bool
	Mask   [4]byte
	Length int64 // payload length in bytes
}

// ParseHeader parses the frame header at the start of b. It returns the header
// and its size; n == 0 with a nil error means b holds only part of a header.
// It checks only what the encoding itself forbids (a 64-bit length with its
// top bit set); Check applies the rules for frames a client sends.
//
// It is written out byte by byte rather than with a reader so that it runs on
// bytes peeked from the event loop's buffer without copying or allocating.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&bitFin != 0
	h.Rsv = b[0] & bitsRsv
	h.Op = Opcode(b[0] & bitsOp)
	h.Masked = b[1]&bitMask != 0
	n = 2
	switch l := b[1] & bitsLen7; l {
	case len16Mark:
		if len(b) < n+2 {
			return Header{}, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case len64Mark:
		if len(b) < n+8 {
			return Header{}, 0, nil
		}
		u := binary.BigEndian.Uint64(b[n:])
		if u > math.MaxInt64 {
			return Header{}, 0, ErrLengthMSB
		}
		h.Length = int64(u)
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return Header{}, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// CheckClient applies RFC 6455's rules for a frame sent by a client: masked
// (section 5.1), no reserved bits without a negotiated extension (5.2), no
// reserved opcode (5.2), control frames unfragmented and at most 125 bytes (5.5).
func (h *Header) CheckClient() error {
	switch {
	case !h.Masked:
		return ErrUnmasked
	case h.Rsv != 0:
		return ErrReservedBits
	case h.Op.IsReserved():
		return ErrReservedOpcode
	case h.Op.IsControl() && !h.Fin:
		return ErrControlFragment
	case h.Op.IsControl() && h.Length > maxControlPayload:
		return ErrControlTooLong
	}
	return nil
}

// HeaderSize returns the size of an unmasked header for a payload of length n.
func HeaderSize(n int) int {
	switch {
	case n < len16Mark:
		return 2
	case n <= math.MaxUint16:
		return 4
	}
	return 10
}

// PutHeader writes an unmasked server frame header for a payload of length n
// into dst, which must hold at least HeaderSize(n) bytes, and returns its size.
func PutHeader(dst []byte, fin bool, op Opcode, n int) int {
	b0 := byte(op)
	if fin {
		b0 |= bitFin
	}
	dst[0] = b0
	switch {
	case n < len16Mark:
		dst[1] = byte(n)
		return 2
	case n <= math.MaxUint16:
		dst[1] = len16Mark
		binary.BigEndian.PutUint16(dst[2:], uint16(n))
		return 4
	}
	dst[1] = len64Mark
	binary.BigEndian.PutUint64(dst[2:], uint64(n))
	return 10
}
