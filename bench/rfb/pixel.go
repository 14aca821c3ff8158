package rfb

import "encoding/binary"

// PixelFormat is the subset of RFC 6143's PIXEL_FORMAT the server honours:
// 32 bits per pixel true colour with 8-bit channels at any shifts.
type PixelFormat struct {
	BigEndian                       bool
	RedShift, GreenShift, BlueShift uint8
}

// DefaultPixelFormat is what ServerInit announces: 32 bpp, depth 24,
// little-endian, red at bit 16, green 8, blue 0.
var DefaultPixelFormat = PixelFormat{RedShift: 16, GreenShift: 8, BlueShift: 0}

func (pf PixelFormat) bytes() []byte {
	b := make([]byte, 16)
	b[0], b[1] = 32, 24
	if pf.BigEndian {
		b[2] = 1
	}
	b[3] = 1 // true colour
	binary.BigEndian.PutUint16(b[4:], 255)
	binary.BigEndian.PutUint16(b[6:], 255)
	binary.BigEndian.PutUint16(b[8:], 255)
	b[10], b[11], b[12] = pf.RedShift, pf.GreenShift, pf.BlueShift
	return b
}

// parsePixelFormat reads a PIXEL_FORMAT; ok is false for formats other than
// 32 bpp true colour, which the server then ignores (keeping its own).
func parsePixelFormat(b []byte) (pf PixelFormat, ok bool) {
	if b[0] != 32 || b[3] == 0 {
		return pf, false
	}
	return PixelFormat{BigEndian: b[2] != 0, RedShift: b[10], GreenShift: b[11], BlueShift: b[12]}, true
}

// put writes one pixel of colour r, g, b.
func (pf PixelFormat) put(dst []byte, r, g, b uint8) {
	v := uint32(r)<<pf.RedShift | uint32(g)<<pf.GreenShift | uint32(b)<<pf.BlueShift
	if pf.BigEndian {
		binary.BigEndian.PutUint32(dst, v)
	} else {
		binary.LittleEndian.PutUint32(dst, v)
	}
}
