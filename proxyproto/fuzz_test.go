package proxyproto

import (
	"testing"
)

// seeds are inputs of every kind for the fuzz targets.
func seeds(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 0 65535\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY UNKNOWN a b c\r\n"))
	f.Add(cat(sig, []byte{0x21, 0x11, 0x00, 0x0c}, []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 2}))
	f.Add(cat(sig, []byte{0x21, 0x21, 0x00, 0x27}, make([]byte, 36), []byte{0x04, 0x00, 0x00}))
	f.Add(cat(sig, []byte{0x20, 0x00, 0x00, 0x00}))
	f.Add(cat(sig, []byte{0x21, 0x31, 0x00, 0xd8}, make([]byte, 216)))
	f.Add(cat(sig, []byte{0x21, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00}))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
}

// FuzzParse checks Parse's contract on any bytes: bounds, and that feeding
// a header in pieces gives the same answer as feeding it whole.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, need, err := Parse(b)
		switch {
		case err != nil:
			if n != 0 || need != 0 || h != (Header{}) {
				t.Fatalf("error %v with n=%d need=%d h=%+v", err, n, need, h)
			}
		case n == 0:
			if need <= len(b) || need > V2FixedLen+MaxV2Payload {
				t.Fatalf("need %d with %d bytes", need, len(b))
			}
		default:
			if n > len(b) || need != 0 || (h.Version == 1 && n > MaxV1Len) || n > V2FixedLen+MaxV2Payload {
				t.Fatalf("n=%d need=%d len=%d version %d", n, need, len(b), h.Version)
			}
			if _, ok := h.Client(); ok && !h.Source.Addr().IsValid() {
				t.Fatalf("client address invalid: %+v", h)
			}
			// Bytes after the header do not change it.
			h2, n2, _, err2 := Parse(append(b[:n:n], 'x'))
			if h2 != h || n2 != n || err2 != nil {
				t.Fatalf("with a byte after: %+v %d %v", h2, n2, err2)
			}
		}
		// Every proper prefix of a header, or of a valid beginning, is a
		// valid beginning that needs more than it has; never another header.
		if err == nil {
			end := n
			if end == 0 {
				end = len(b)
			}
			for i := 0; i < end; i++ {
				ph, pn, pneed, perr := Parse(b[:i])
				if perr != nil || pn != 0 || pneed <= i || ph != (Header{}) {
					t.Fatalf("prefix of %d: n=%d need=%d err=%v", i, pn, pneed, perr)
				}
			}
		}
	})
}
