package wsframe

import (
	"bytes"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(noVNCRequest))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET /%2f%2fevil HTTP/1.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := FindRequestEnd(b, 0, 0, 0)
		if err != nil || end == 0 {
			return
		}
		// Feeding the head a byte at a time finds the same end.
		got := 0
		for i := 1; i <= len(b) && got == 0; i++ {
			got, _ = FindRequestEnd(b[:i], i-1, 0, 0)
		}
		if got != end {
			t.Fatalf("incremental end %d, whole %d", got, end)
		}
		r, err := ParseRequest(b[:end])
		if err != nil {
			return
		}
		if !bytes.HasPrefix(r.Target, r.Path) {
			t.Fatalf("path %q not in target %q", r.Path, r.Target)
		}
		_, _, _ = Upgrade(nil, b[:end])
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x82, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) || n > MaxHeaderSize || h.Length < 0 {
			t.Fatalf("n=%d len=%d length=%d", n, len(b), h.Length)
		}
		// A shorter prefix is incomplete, never a different header.
		if _, m, err := ParseHeader(b[:n-1]); m != 0 || err != nil {
			t.Fatalf("prefix parsed: %d %v", m, err)
		}
		_ = h.CheckClient()
	})
}

func FuzzParseClosePayload(f *testing.F) {
	f.Add([]byte{0x03, 0xe8})
	f.Add([]byte{0x03, 0xe8, 0xff})
	f.Add([]byte{0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		code, reason, err := ParseClosePayload(b)
		if err != nil {
			return
		}
		if len(b) >= 2 {
			if !code.ValidOnWire() {
				t.Fatalf("accepted code %d", code)
			}
			round := AppendClosePayload(nil, code, string(reason))
			if len(reason) <= MaxCloseReason && !bytes.Equal(round, b) {
				t.Fatalf("round trip % x -> % x", b, round)
			}
		}
	})
}
