package rfb

import (
	"errors"
	"testing"
)

// wire concatenates annotated pieces of an exchange: strings, byte slices,
// single bytes and u32be values.
func wire(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		case byte:
			b = append(b, p)
		case u32be:
			b = append(b, byte(p>>24), byte(p>>16), byte(p>>8), byte(p))
		default:
			panic("wire: unexpected part")
		}
	}
	return b
}

// u32be is a big-endian U32 in a wire exchange.
type u32be uint32

// rfbString is an RFB string: U32 length, then the bytes.
func rfbString(s string) []byte { return wire(u32be(len(s)), s) }

// wantErr checks err against the expected code ("" for none), side and peer
// text; peer "*" accepts any.
func wantErr(t *testing.T, err error, side Side, stage Stage, code Code, peer string) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *rfb.Error %s", err, err, code)
	}
	if e.Side != side || e.Stage != stage || e.Code != code || (peer != "*" && e.Peer != peer) {
		t.Fatalf("error %+v, want side %s stage %s code %s peer %q", e, side, stage, code, peer)
	}
}
