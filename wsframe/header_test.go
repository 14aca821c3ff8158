package wsframe

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Header
		n    int
		err  error
	}{
		{"empty", nil, Header{}, 0, nil},
		{"one byte", []byte{0x82}, Header{}, 0, nil},
		{
			"masked binary, 5 bytes",
			[]byte{
				0x82,       // FIN, opcode 2 (binary)
				0x85,       // MASK, length 5
				1, 2, 3, 4, // masking key
			},
			Header{Fin: true, Op: OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 5}, 6, nil,
		},
		{
			"mask key incomplete",
			[]byte{0x82, 0x85, 1, 2},
			Header{}, 0, nil,
		},
		{
			"16-bit length",
			[]byte{
				0x02,       // no FIN, binary (first fragment)
				0xfe,       // MASK, length 126: 16-bit length follows
				0x01, 0x00, // 256
				9, 9, 9, 9, // mask
			},
			Header{Op: OpBinary, Masked: true, Mask: [4]byte{9, 9, 9, 9}, Length: 256}, 8, nil,
		},
		{
			"64-bit length, unmasked",
			[]byte{
				0x80,                                           // FIN, continuation
				0x7f,                                           // length 127: 64-bit length follows
				0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // 4 GiB
			},
			Header{Fin: true, Op: OpContinuation, Length: 1 << 32}, 10, nil,
		},
		{
			"64-bit length, top bit set",
			[]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
			Header{}, 0, ErrLengthMSB,
		},
		{
			"64-bit length incomplete",
			[]byte{0x82, 0xff, 0, 0, 0},
			Header{}, 0, nil,
		},
		{
			"rsv1 set, ping",
			[]byte{
				0xc9, // FIN, RSV1, opcode 9 (ping)
				0x80, // MASK, length 0
				0, 0, 0, 0,
			},
			Header{Fin: true, Rsv: 0x40, Op: OpPing, Masked: true}, 6, nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := ParseHeader(tt.in)
			if !errors.Is(err, tt.err) || n != tt.n || got != tt.want {
				t.Fatalf("ParseHeader(% x) = %+v, %d, %v; want %+v, %d, %v", tt.in, got, n, err, tt.want, tt.n, tt.err)
			}
		})
	}
}

func TestCheckClient(t *testing.T) {
	ok := Header{Fin: true, Op: OpBinary, Masked: true}
	tests := []struct {
		name string
		mod  func(h *Header)
		err  error
	}{
		{"valid binary", func(*Header) {}, nil},
		{"unmasked", func(h *Header) { h.Masked = false }, ErrUnmasked},
		{"rsv2", func(h *Header) { h.Rsv = 0x20 }, ErrReservedBits},
		{"opcode 3", func(h *Header) { h.Op = 3 }, ErrReservedOpcode},
		{"opcode 0xb", func(h *Header) { h.Op = 0xb }, ErrReservedOpcode},
		{"fragmented ping", func(h *Header) { h.Op, h.Fin = OpPing, false }, ErrControlFragment},
		{"126-byte close", func(h *Header) { h.Op, h.Length = OpClose, 126 }, ErrControlTooLong},
		{"125-byte pong", func(h *Header) { h.Op, h.Length = OpPong, 125 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ok
			tt.mod(&h)
			if err := h.CheckClient(); !errors.Is(err, tt.err) {
				t.Fatalf("CheckClient(%+v) = %v, want %v", h, err, tt.err)
			}
		})
	}
}

func TestPutHeader(t *testing.T) {
	tests := []struct {
		name string
		fin  bool
		op   Opcode
		n    int
		want []byte
	}{
		{"empty close", true, OpClose, 0, []byte{0x88, 0x00}},
		{"125 binary", true, OpBinary, 125, []byte{0x82, 125}},
		{"126 binary: 16-bit", true, OpBinary, 126, []byte{0x82, 126, 0x00, 126}},
		{"65535: 16-bit", true, OpBinary, 65535, []byte{0x82, 126, 0xff, 0xff}},
		{"65536: 64-bit", false, OpBinary, 65536, []byte{0x02, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b [MaxHeaderSize]byte
			n := PutHeader(b[:], tt.fin, tt.op, tt.n)
			if !bytes.Equal(b[:n], tt.want) || n != HeaderSize(tt.n) {
				t.Fatalf("PutHeader = % x (size %d), want % x", b[:n], HeaderSize(tt.n), tt.want)
			}
			h, hn, err := ParseHeader(b[:n])
			if err != nil || hn != n || h.Length != int64(tt.n) || h.Op != tt.op || h.Fin != tt.fin {
				t.Fatalf("round trip: %+v %d %v", h, hn, err)
			}
		})
	}
}

func TestUnmaskOffsets(t *testing.T) {
	mask := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	plain := []byte("the quick brown fox jumps over the lazy dog, twice over")
	masked := append([]byte(nil), plain...)
	Unmask(masked, mask, 0) // XOR is its own inverse: this masks
	for split := 0; split <= len(masked); split++ {
		b := append([]byte(nil), masked...)
		off := Unmask(b[:split], mask, 0)
		Unmask(b[split:], mask, off)
		if !bytes.Equal(b, plain) {
			t.Fatalf("split at %d: got %q", split, b)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	frame := []byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4}
	payload := make([]byte, 4096)
	var hdr [MaxHeaderSize]byte
	cases := map[string]func(){
		"ParseHeader": func() { _, _, _ = ParseHeader(frame) },
		"CheckClient": func() { h, _, _ := ParseHeader(frame); _ = h.CheckClient() },
		"PutHeader":   func() { PutHeader(hdr[:], true, OpBinary, 70000) },
		"Unmask":      func() { Unmask(payload, [4]byte{1, 2, 3, 4}, 3) },
		"ParseClose":  func() { _, _, _ = ParseClosePayload([]byte{0x03, 0xe8, 'o', 'k'}) },
	}
	for name, f := range cases {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations, want 0", name, a)
		}
	}
}

func BenchmarkParseHeader(b *testing.B) {
	frame := []byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4}
	b.ReportAllocs()
	for b.Loop() {
		h, _, _ := ParseHeader(frame)
		_ = h.CheckClient()
	}
}

func BenchmarkPutHeader(b *testing.B) {
	var hdr [MaxHeaderSize]byte
	b.ReportAllocs()
	for b.Loop() {
		PutHeader(hdr[:], true, OpBinary, 65000)
	}
}

func BenchmarkUnmask(b *testing.B) {
	p := make([]byte, 64<<10)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		Unmask(p, [4]byte{1, 2, 3, 4}, 0)
	}
}
