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
		if h.State() > ConsoleFailed || (err != nil) != (h.State() == ConsoleFailed) {
			t.Fatalf("state %s with error %v", h.State(), err)
		}
		if n < len(in) && err == nil && !h.Done() {
			t.Fatalf("stopped at %d of %d in state %s", n, len(in), h.State())
		}
		// Fed in pieces of step bytes, the machine ends the same.
		var p ConsoleHandshake
		var cuts []int
		for i := int(step%16) + 1; i < len(in); i += int(step%16) + 1 {
			cuts = append(cuts, i)
		}
		pn, pout, perr := feedPieces(in, cuts, p.Feed, p.AppendOutput)
		if pn != n || !bytes.Equal(pout, out) || p.State() != h.State() || !sameError(perr, err) {
			t.Fatalf("in pieces: %d %q %s %v; whole: %d %q %s %v", pn, pout, p.State(), perr, n, out, h.State(), err)
		}
		if cerr := h.PeerClosed(); (cerr == nil) != h.Done() {
			t.Fatalf("PeerClosed %v in state %s", cerr, h.State())
		}
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
		if h.State() > BrowserFailed || (err != nil) != (h.State() == BrowserFailed) {
			t.Fatalf("state %s with error %v", h.State(), err)
		}
		if n < len(in) && err == nil && !h.Done() {
			t.Fatalf("stopped at %d of %d in state %s", n, len(in), h.State())
		}
		if !bytes.HasPrefix(out, []byte(ProtocolVersion38)) {
			t.Fatalf("output %q does not start with the version", out)
		}
		var p BrowserHandshake
		var cuts []int
		for i := int(step%16) + 1; i < len(in); i += int(step%16) + 1 {
			cuts = append(cuts, i)
		}
		pn, pout, perr := feedPieces(in, cuts, p.Feed, p.AppendOutput)
		if pn != n || !bytes.Equal(pout, out) || p.State() != h.State() || !sameError(perr, err) {
			t.Fatalf("in pieces: %d %q %s %v; whole: %d %q %s %v", pn, pout, p.State(), perr, n, out, h.State(), err)
		}
		if cerr := h.PeerClosed(); (cerr == nil) != h.Done() {
			t.Fatalf("PeerClosed %v in state %s", cerr, h.State())
		}
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
		if h.State() > ConsoleFailed || (err != nil) != (h.State() == ConsoleFailed) {
			t.Fatalf("state %s with error %v", h.State(), err)
		}
		if n < len(in) && err == nil && !h.Done() {
			t.Fatalf("stopped at %d of %d in state %s", n, len(in), h.State())
		}
		if h.Chosen() == SecurityVeNCrypt && h.Done() && !bytes.Contains(out, wire(u32be(260))) {
			t.Fatalf("done with VeNCrypt without choosing X509None: %q", out)
		}
		var cuts []int
		for i := int(step%16) + 1; i < len(in); i += int(step%16) + 1 {
			cuts = append(cuts, i)
		}
		p := newVeNCrypt(t, accept)
		pn, pout, perr := feedVeNCrypt(p, in, cuts)
		if pn != n || !bytes.Equal(pout, out) || p.State() != h.State() || !sameError(perr, err) {
			t.Fatalf("in pieces: %d %q %s %v; whole: %d %q %s %v", pn, pout, p.State(), perr, n, out, h.State(), err)
		}
		if cerr := h.PeerClosed(); (cerr == nil) != h.Done() {
			t.Fatalf("PeerClosed %v in state %s", cerr, h.State())
		}
	})
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
