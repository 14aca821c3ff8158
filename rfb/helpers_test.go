package rfb

import (
	"bytes"
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

// wantFed checks what one Feed of in did against a table row: n bytes
// consumed (want consumed, -1 for all of in) and out the output.
func wantFed(t *testing.T, in []byte, n int, out []byte, consumed int, wantOut []byte) {
	t.Helper()
	if consumed < 0 {
		consumed = len(in)
	}
	if n != consumed {
		t.Errorf("consumed %d of %d, want %d", n, len(in), consumed)
	}
	if !bytes.Equal(out, wantOut) {
		t.Errorf("output %q, want %q", out, wantOut)
	}
}

// handshakeState is a handshake's state type (BrowserState, ConsoleState).
type handshakeState interface {
	comparable
	String() string
}

// handshake is what wantSplitsLikeWhole needs of BrowserHandshake and
// ConsoleHandshake; S is the state type.
type handshake[S handshakeState] interface {
	Feed(in []byte) (int, error)
	AppendOutput(out []byte) []byte
	State() S
}

// wantSplitsLikeWhole feeds in to a handshake from newH in one piece, then
// to a fresh one in each split of splits(len(in)), and fails the test
// unless every split consumes, outputs, ends in the state and fails as the
// whole did.
func wantSplitsLikeWhole[S handshakeState, H handshake[S]](t *testing.T, in []byte, newH func() H) {
	t.Helper()
	whole := newH()
	wn, werr := whole.Feed(in)
	wout := whole.AppendOutput(nil)
	for _, cuts := range splits(len(in)) {
		h := newH()
		n, out, err := feedPieces(in, cuts, h.Feed, h.AppendOutput)
		if n != wn || !bytes.Equal(out, wout) || h.State() != whole.State() || !sameError(err, werr) {
			t.Fatalf("cuts %v: consumed %d out %q state %s err %v; whole: %d %q %s %v",
				cuts, n, out, h.State(), err, wn, wout, whole.State(), werr)
		}
	}
}
