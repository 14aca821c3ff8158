package rfb

import (
	"bytes"
	"errors"
	"testing"
)

// checkFed holds what every Feed must guarantee, whatever the input.
func checkFed(t *testing.T, side Side, in []byte, n int, err error, done bool, out []byte, maxOut int) {
	t.Helper()
	if n < 0 || n > len(in) {
		t.Fatalf("consumed %d of %d", n, len(in))
	}
	if len(out) > maxOut {
		t.Fatalf("output of %d bytes", len(out))
	}
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("untyped error %T %v", err, err)
	}
	if done || e.Side != side || !fedCode(e.Code) || e.Err != nil ||
		e.Stage < StageVersion || e.Stage > StageVeNCrypt {
		t.Fatalf("error %+v (done %v)", e, done)
	}
	if len(e.Peer) > MaxReason+64 {
		t.Fatalf("peer text of %d bytes", len(e.Peer))
	}
	for _, c := range []byte(e.Peer) {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("control byte in peer text %q", e.Peer)
		}
	}
}

// fedCode reports whether Feed may return code: not those that only
// PeerClosed and TLSFailed report.
func fedCode(c Code) bool {
	switch c {
	case CodeClosed, CodeClosedAfterTLS, CodeTLSUntrusted, CodeTLSAlert, CodeTLSFailed:
		return false
	}
	return c >= CodeMalformedVersion && c <= CodeClosedAfterTLS
}

func FuzzConsoleHandshake(f *testing.F) {
	for _, tt := range consoleTests {
		f.Add(tt.in, uint8(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var h ConsoleHandshake
		n, err := h.Feed(in)
		out := h.AppendOutput(nil)
		checkFed(t, SideConsole, in, n, err, h.Done(), out, VersionLen+1)
		checkFuzzedState(t, &h, ConsoleFailed, len(in), n, err)
		// Fed in pieces of step bytes, the machine ends the same.
		var p ConsoleHandshake
		pn, pout, perr := feedPieces(in, stepCuts(len(in), step), p.Feed, p.AppendOutput)
		checkFuzzedEnd(t, &h, &p, fed{n, out, err}, fed{pn, pout, perr})
	})
}

func FuzzBrowserHandshake(f *testing.F) {
	for _, tt := range browserTests {
		f.Add(tt.in, uint8(5))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var h BrowserHandshake
		n, err := h.Feed(in)
		out := h.AppendOutput(nil)
		checkFed(t, SideBrowser, in, n, err, h.Done(), out, outCap)
		checkFuzzedState(t, &h, BrowserFailed, len(in), n, err)
		if !bytes.HasPrefix(out, []byte(ProtocolVersion38)) {
			t.Fatalf("output %q does not start with the version", out)
		}
		var p BrowserHandshake
		pn, pout, perr := feedPieces(in, stepCuts(len(in), step), p.Feed, p.AppendOutput)
		checkFuzzedEnd(t, &h, &p, fed{n, out, err}, fed{pn, pout, perr})
	})
}

// FuzzConsoleVeNCrypt runs the console side with VeNCrypt accepted (pref
// picks the list) over in: the bytes before TLS, and when the machine asks
// for TLS, the rest as the decrypted stream. Fed whole or in pieces, it
// ends the same.
func FuzzConsoleVeNCrypt(f *testing.F) {
	for _, tt := range vencryptTests {
		f.Add(wire(tt.in, u32be(0)), uint8(5), uint8(0))
	}
	f.Add(wire(qemuX509, u32be(1), rfbString("no")), uint8(3), uint8(1))
	prefs := [][]SecurityType{vencryptOnly, vencryptOrNone, noneOrVeNCrypt}
	f.Fuzz(func(t *testing.T, in []byte, step, pref uint8) {
		accept := prefs[int(pref)%len(prefs)]
		h := newVeNCrypt(t, accept)
		n, out, err := feedVeNCrypt(h, in, nil)
		checkFed(t, SideConsole, in, n, err, h.Done(), out, VersionLen+1+2+4)
		checkFuzzedState(t, h, ConsoleFailed, len(in), n, err)
		if h.Chosen() == SecurityVeNCrypt && h.Done() && !bytes.Contains(out, wire(u32be(260))) {
			t.Fatalf("done with VeNCrypt without choosing X509None: %q", out)
		}
		p := newVeNCrypt(t, accept)
		pn, pout, perr := feedVeNCrypt(p, in, stepCuts(len(in), step))
		checkFuzzedEnd(t, h, p, fed{n, out, err}, fed{pn, pout, perr})
	})
}

// orderedState is a handshake state type whose failed state is its last.
type orderedState interface {
	handshakeState
	~uint8
}

// fuzzedHandshake is what the fuzz targets' checks need of
// BrowserHandshake and ConsoleHandshake.
type fuzzedHandshake[S orderedState] interface {
	handshake[S]
	Done() bool
	PeerClosed() error
}

// fed is what feeding an input did: bytes consumed, output, error.
type fed struct {
	n   int
	out []byte
	err error
}

// stepCuts cuts an n-byte input into pieces of step%16+1 bytes.
func stepCuts(n int, step uint8) []int {
	var cuts []int
	for i := int(step%16) + 1; i < n; i += int(step%16) + 1 {
		cuts = append(cuts, i)
	}
	return cuts
}

// checkFuzzedState checks h after one Feed of an inLen-byte input that
// consumed n and returned err: a known state, failed exactly when err is
// set, and all of the input taken unless h stopped (done or failed).
func checkFuzzedState[S orderedState](t *testing.T, h fuzzedHandshake[S], failed S, inLen, n int, err error) {
	t.Helper()
	if h.State() > failed || (err != nil) != (h.State() == failed) {
		t.Fatalf("state %s with error %v", h.State(), err)
	}
	if n < inLen && err == nil && !h.Done() {
		t.Fatalf("stopped at %d of %d in state %s", n, inLen, h.State())
	}
}

// checkFuzzedEnd checks that p, fed the input in pieces (pieces), ended as
// h, fed it whole (whole), and that PeerClosed on h is an error exactly
// when h is not done.
func checkFuzzedEnd[S orderedState](t *testing.T, h, p fuzzedHandshake[S], whole, pieces fed) {
	t.Helper()
	if pieces.n != whole.n || !bytes.Equal(pieces.out, whole.out) || p.State() != h.State() || !sameError(pieces.err, whole.err) {
		t.Fatalf("in pieces: %d %q %s %v; whole: %d %q %s %v",
			pieces.n, pieces.out, p.State(), pieces.err, whole.n, whole.out, h.State(), whole.err)
	}
	if cerr := h.PeerClosed(); (cerr == nil) != h.Done() {
		t.Fatalf("PeerClosed %v in state %s", cerr, h.State())
	}
}

// feedVeNCrypt feeds in cut at cuts as a driver does, taking TLS as up the
// moment the machine asks for it (the bytes after that point stand for the
// decrypted stream).
func feedVeNCrypt(h *ConsoleHandshake, in []byte, cuts []int) (consumed int, out []byte, err error) {
	prev := 0
	var pending []byte
	for _, c := range append(cuts, len(in)) {
		pending = append(pending, in[prev:c]...)
		prev = c
		for {
			n, ferr := h.Feed(pending)
			out = h.AppendOutput(out)
			consumed += n
			pending = pending[n:]
			if ferr != nil {
				return consumed, out, ferr
			}
			if !h.NeedsTLS() {
				break
			}
			h.TLSEstablished()
		}
	}
	return consumed, out, nil
}
