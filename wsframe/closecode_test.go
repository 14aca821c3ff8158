package wsframe

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseClosePayload(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		code   CloseCode
		reason string
		err    error
	}{
		{"empty: no status", nil, CloseNoStatus, "", nil},
		{"one byte", []byte{0x03}, 0, "", ErrCloseLength},
		{"1000 normal", []byte{0x03, 0xe8}, CloseNormal, "", nil},
		{"1001 with reason", []byte{0x03, 0xe9, 'b', 'y', 'e'}, CloseGoingAway, "bye", nil},
		{"999 invalid", []byte{0x03, 0xe7}, 999, "", ErrCloseCode},
		{"1004 reserved", []byte{0x03, 0xec}, 1004, "", ErrCloseCode},
		{"1005 never on wire", []byte{0x03, 0xed}, 1005, "", ErrCloseCode},
		{"1006 never on wire", []byte{0x03, 0xee}, 1006, "", ErrCloseCode},
		{"1015 invalid", []byte{0x03, 0xf7}, 1015, "", ErrCloseCode},
		{"2999 invalid", []byte{0x0b, 0xb7}, 2999, "", ErrCloseCode},
		{"3000 registered", []byte{0x0b, 0xb8}, 3000, "", nil},
		{"4999 private", []byte{0x13, 0x87}, 4999, "", nil},
		{"5000 invalid", []byte{0x13, 0x88}, 5000, "", ErrCloseCode},
		{"bad UTF-8 reason", []byte{0x03, 0xe8, 0xff, 0xfe}, CloseNormal, "", ErrCloseUTF8},
		{"UTF-8 reason", []byte{0x03, 0xe8, 0xce, 0xba}, CloseNormal, "κ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, err := ParseClosePayload(tt.in)
			if code != tt.code || string(reason) != tt.reason || !errors.Is(err, tt.err) {
				t.Fatalf("got %d %q %v; want %d %q %v", code, reason, err, tt.code, tt.reason, tt.err)
			}
		})
	}
}

func TestAppendCloseFrame(t *testing.T) {
	got := AppendCloseFrame(nil, CloseMessageTooBig, "big")
	want := []byte{
		0x88,       // FIN, close
		0x05,       // length 5, unmasked
		0x03, 0xf1, // 1009
		'b', 'i', 'g',
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x want % x", got, want)
	}
	long := strings.Repeat("é", 100) // 200 bytes
	f := AppendCloseFrame(nil, CloseNormal, long)
	if len(f) != 2+2+122 { // cut to 123, then back to a rune boundary: 122
		t.Fatalf("long reason frame is %d bytes", len(f))
	}
	if _, _, err := ParseClosePayload(f[2:]); err != nil {
		t.Fatalf("cut reason does not parse: %v", err)
	}
}
