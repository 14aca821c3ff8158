package rfb

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

var (
	vencryptOnly   = []SecurityType{SecurityVeNCrypt}
	vencryptOrNone = []SecurityType{SecurityVeNCrypt, SecurityNone}
	noneOrVeNCrypt = []SecurityType{SecurityNone, SecurityVeNCrypt}
)

// qemuX509 is what QEMU with tls-creds-x509 sends before TLS.
var qemuX509 = wire(
	"RFB 003.008\n",   // ProtocolVersion
	byte(1), byte(19), // 1 security type: VeNCrypt
	byte(0), byte(2), // VeNCrypt version 0.2
	byte(0),             // 0.2 accepted
	byte(1), u32be(260), // 1 sub-type: X509None
	byte(1), // X509None accepted
)

// relayX509 is what the relay answers qemuX509 with.
var relayX509 = wire(
	"RFB 003.008\n",
	byte(19),         // VeNCrypt
	byte(0), byte(2), // VeNCrypt 0.2
	u32be(260), // X509None
)

// vencryptTests are console exchanges with VeNCrypt accepted, up to the
// point where TLS starts, or to the end when None is chosen.
var vencryptTests = []struct {
	name     string
	accept   []SecurityType
	in       []byte
	out      []byte // what the relay sends the console
	consumed int    // -1: all of in
	state    ConsoleState
	chosen   SecurityType
	stage    Stage
	code     Code
	peer     string
}{
	{
		name:     "QEMU with x509 credentials",
		accept:   vencryptOnly,
		in:       qemuX509,
		out:      relayX509,
		consumed: -1,
		state:    ConsoleStartTLS,
		chosen:   SecurityVeNCrypt,
	},
	{
		name:   "bytes behind the acceptance are the TLS stream's, left to the caller",
		accept: vencryptOnly,
		in: wire(qemuX509,
			"\x16\x03\x03", // a TLS record header: not the machine's
		),
		out:      relayX509,
		consumed: len(qemuX509),
		state:    ConsoleStartTLS,
		chosen:   SecurityVeNCrypt,
	},
	{
		name:     "vencrypt,none: the console offers None only",
		accept:   vencryptOrNone,
		in:       wire("RFB 003.008\n", byte(1), byte(1), u32be(0)),
		out:      wire("RFB 003.008\n", byte(1)),
		consumed: -1,
		state:    ConsoleDone,
		chosen:   SecurityNone,
	},
	{
		name:   "vencrypt,none: the relay's order wins over the console's",
		accept: vencryptOrNone,
		in: wire("RFB 003.008\n",
			byte(2), byte(1), byte(19), // None first, then VeNCrypt
			byte(0), byte(2), byte(0), byte(1), u32be(260), byte(1)),
		out:      relayX509,
		consumed: -1,
		state:    ConsoleStartTLS,
		chosen:   SecurityVeNCrypt,
	},
	{
		name:   "none,vencrypt: None preferred",
		accept: noneOrVeNCrypt,
		in: wire("RFB 003.008\n",
			byte(2), byte(19), byte(1), // VeNCrypt first, then None
			u32be(0)),
		out:      wire("RFB 003.008\n", byte(1)),
		consumed: -1,
		state:    ConsoleDone,
		chosen:   SecurityNone,
	},
	{
		name:     "vencrypt only: the console offers None only",
		accept:   vencryptOnly,
		in:       wire("RFB 003.008\n", byte(1), byte(1)),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeNoScheme, peer: "offered 1 (None); the relay accepts 19 (VeNCrypt)",
	},
	{
		name:     "vencrypt,none: the console offers VNC authentication only",
		accept:   vencryptOrNone,
		in:       wire("RFB 003.008\n", byte(1), byte(2)),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeNoScheme, peer: "offered 2 (VNC); the relay accepts 19 (VeNCrypt), 1 (None)",
	},
	{
		name:     "VeNCrypt 0.1 only",
		accept:   vencryptOnly,
		in:       wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(1)),
		out:      wire("RFB 003.008\n", byte(19)),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeVeNCryptVersion, peer: "offered 0.1",
	},
	{
		name:   "VeNCrypt 0.3 offered: 0.2 answered, and accepted",
		accept: vencryptOnly,
		in: wire("RFB 003.008\n", byte(1), byte(19),
			byte(0), byte(3), // a higher version
			byte(0)), // 0.2 accepted
		out:      wire("RFB 003.008\n", byte(19), byte(0), byte(2)),
		consumed: -1,
		state:    ConsoleReadSubtypeCount,
		chosen:   SecurityVeNCrypt,
	},
	{
		name:     "VeNCrypt 0.2 refused",
		accept:   vencryptOnly,
		in:       wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(1), "behind"),
		out:      wire("RFB 003.008\n", byte(19), byte(0), byte(2)),
		consumed: 12 + 2 + 2 + 1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeVeNCryptVersion, peer: "refused 0.2 (answered 1)",
	},
	{
		name:     "no sub-types",
		accept:   vencryptOnly,
		in:       wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0), byte(0)),
		out:      wire("RFB 003.008\n", byte(19), byte(0), byte(2)),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeNoX509None, peer: "offered no sub-types",
	},
	{
		name:   "anonymous TLS and X509Plain only",
		accept: vencryptOnly,
		in: wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0),
			byte(2), u32be(257), u32be(262)), // TLSNone, X509Plain
		out:      wire("RFB 003.008\n", byte(19), byte(0), byte(2)),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeNoX509None, peer: "offered 257 (TLSNone), 262 (X509Plain)",
	},
	{
		name:   "X509None among others (TigerVNC-style list with a plain type)",
		accept: vencryptOnly,
		in: wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0),
			byte(4), u32be(1), u32be(257), u32be(260), u32be(261),
			byte(1)),
		out:      relayX509,
		consumed: -1,
		state:    ConsoleStartTLS,
		chosen:   SecurityVeNCrypt,
	},
	{
		name:   "twenty sub-types without X509None",
		accept: vencryptOnly,
		in: wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0),
			byte(20), bytes.Repeat(wire(u32be(256)), 20)),
		out:      wire("RFB 003.008\n", byte(19), byte(0), byte(2)),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeNoX509None,
		peer: "offered " + strings.Repeat("256 (Plain), ", 15) + "256 (Plain) and 4 more",
	},
	{
		name:     "X509None refused",
		accept:   vencryptOnly,
		in:       wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0), byte(1), u32be(260), byte(0)),
		out:      relayX509,
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeSubtypeRefused, peer: "answered 0",
	},
	{
		name:     "X509None answered with a value other than 1",
		accept:   vencryptOnly,
		in:       wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0), byte(1), u32be(260), byte(2)),
		out:      relayX509,
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVeNCrypt, code: CodeSubtypeRefused, peer: "answered 2",
	},
}

func newVeNCrypt(t testing.TB, accept []SecurityType) *ConsoleHandshake {
	t.Helper()
	h := new(ConsoleHandshake)
	if err := h.Accept(accept...); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestConsoleVeNCrypt(t *testing.T) {
	for _, tt := range vencryptTests {
		t.Run(tt.name, func(t *testing.T) {
			h := newVeNCrypt(t, tt.accept)
			n, err := h.Feed(tt.in)
			out := h.AppendOutput(nil)
			wantFed(t, tt.in, n, out, tt.consumed, tt.out)
			if h.State() != tt.state || h.NeedsTLS() != (tt.state == ConsoleStartTLS) {
				t.Errorf("state %s, want %s", h.State(), tt.state)
			}
			if tt.chosen != 0 && h.Chosen() != tt.chosen {
				t.Errorf("chosen %s, want %s", h.Chosen(), tt.chosen)
			}
			wantErr(t, err, SideConsole, tt.stage, tt.code, tt.peer)
			// Waiting for TLS, the machine takes no bytes.
			if h.NeedsTLS() {
				if n2, err2 := h.Feed([]byte{0, 0, 0, 0}); n2 != 0 || err2 != nil {
					t.Errorf("Feed while waiting for TLS: %d, %v", n2, err2)
				}
			}
		})
	}
}

func TestConsoleVeNCryptSplits(t *testing.T) {
	for _, tt := range vencryptTests {
		t.Run(tt.name, func(t *testing.T) {
			wantSplitsLikeWhole[ConsoleState](t, tt.in, func() *ConsoleHandshake { return newVeNCrypt(t, tt.accept) })
		})
	}
}

// TestConsoleAfterTLS: what the console sends inside TLS, and how the
// handshake ends when TLS or the console fails.
func TestConsoleAfterTLS(t *testing.T) {
	unknownCA := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	tests := []struct {
		name     string
		inTLS    []byte                          // the decrypted stream
		end      func(h *ConsoleHandshake) error // after feeding, nil: none
		consumed int
		state    ConsoleState
		stage    Stage
		code     Code
		peer     string
		errIs    error // wrapped by the error, when set
		// handshakeFails: the TLS handshake itself fails, so
		// TLSEstablished is never called and end runs at once.
		handshakeFails bool
	}{
		{
			name:     "SecurityResult OK, ServerInit's first bytes left",
			inTLS:    wire(u32be(0), "\x02\x80"),
			consumed: 4,
			state:    ConsoleDone,
		},
		{
			name:     "SecurityResult failed with a reason",
			inTLS:    wire(u32be(1), rfbString("Authentication failed")),
			consumed: -1,
			state:    ConsoleFailed,
			stage:    StageSecurityResult, code: CodeSecurityFailed, peer: "Authentication failed",
		},
		{
			name:     "the console closes at once: it refused the client certificate (QEMU)",
			end:      (*ConsoleHandshake).PeerClosed,
			consumed: -1,
			state:    ConsoleFailed,
			stage:    StageSecurityResult, code: CodeClosedAfterTLS,
		},
		{
			name:  "an alert at the first read (TLS 1.3: certificate required)",
			inTLS: nil,
			end: func(h *ConsoleHandshake) error {
				return h.TLSFailed(&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")})
			},
			consumed: -1,
			state:    ConsoleFailed,
			stage:    StageTLS, code: CodeTLSAlert,
		},
		{
			name:     "half a SecurityResult, then a TLS error",
			inTLS:    wire("\x00\x00"),
			end:      func(h *ConsoleHandshake) error { return h.TLSFailed(io.ErrUnexpectedEOF) },
			consumed: -1,
			state:    ConsoleFailed,
			stage:    StageTLS, code: CodeTLSFailed, errIs: io.ErrUnexpectedEOF,
		},
		{
			name:     "TLSFailed after Done changes nothing",
			inTLS:    wire(u32be(0)),
			end:      func(h *ConsoleHandshake) error { return h.TLSFailed(io.EOF) },
			consumed: -1,
			state:    ConsoleDone,
		},
		{
			name:           "untrusted certificate, wrapped as the engine would",
			handshakeFails: true,
			end:            func(h *ConsoleHandshake) error { return h.TLSFailed(fmt.Errorf("tls: %w", unknownCA)) },
			consumed:       -1,
			state:          ConsoleFailed,
			stage:          StageTLS, code: CodeTLSUntrusted, errIs: unknownCA,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newVeNCrypt(t, vencryptOnly)
			if _, err := h.Feed(qemuX509); err != nil || !h.NeedsTLS() {
				t.Fatalf("before TLS: %v in %s", err, h.State())
			}
			if out := h.AppendOutput(nil); !bytes.Equal(out, relayX509) {
				t.Fatalf("before TLS, output %q", out)
			}
			if tt.handshakeFails {
				err := tt.end(h)
				wantErr(t, err, SideConsole, tt.stage, tt.code, "")
				if !errors.Is(err, tt.errIs) {
					t.Fatalf("%v does not wrap %v", err, tt.errIs)
				}
				return
			}
			h.TLSEstablished()
			n, err := h.Feed(tt.inTLS)
			if tt.end != nil && err == nil {
				err = tt.end(h)
			}
			want := tt.consumed
			if want < 0 {
				want = len(tt.inTLS)
			}
			if n != want || h.State() != tt.state {
				t.Fatalf("consumed %d (want %d), state %s (want %s)", n, want, h.State(), tt.state)
			}
			wantErr(t, err, SideConsole, tt.stage, tt.code, tt.peer)
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Fatalf("%v does not wrap %v", err, tt.errIs)
			}
			if out := h.AppendOutput(nil); len(out) != 0 {
				t.Fatalf("output inside TLS: %q", out)
			}
		})
	}
}

func TestConsoleVeNCryptPeerClosed(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		stage Stage
	}{
		{"before the VeNCrypt version", wire("RFB 003.008\n", byte(1), byte(19)), StageVeNCrypt},
		{"before the version's acceptance", wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2)), StageVeNCrypt},
		{"mid sub-types", wire("RFB 003.008\n", byte(1), byte(19), byte(0), byte(2), byte(0), byte(2), u32be(260)), StageVeNCrypt},
		{"before the sub-type's acceptance", qemuX509[:len(qemuX509)-1], StageVeNCrypt},
		{"during the TLS handshake", qemuX509, StageTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newVeNCrypt(t, vencryptOnly)
			if _, err := h.Feed(tt.in); err != nil {
				t.Fatal(err)
			}
			wantErr(t, h.PeerClosed(), SideConsole, tt.stage, CodeClosed, "")
		})
	}
}

func TestAccept(t *testing.T) {
	tests := []struct {
		name  string
		types []SecurityType
		ok    bool
	}{
		{"none", []SecurityType{SecurityNone}, true},
		{"vencrypt", vencryptOnly, true},
		{"vencrypt,none", vencryptOrNone, true},
		{"none,vencrypt", noneOrVeNCrypt, true},
		{"empty", nil, false},
		{"VNC authentication", []SecurityType{SecurityVNCAuth}, false},
		{"twice", []SecurityType{SecurityNone, SecurityNone}, false},
		{"three", []SecurityType{SecurityNone, SecurityVeNCrypt, SecurityNone}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ConsoleHandshake
			if err := h.Accept(tt.types...); (err == nil) != tt.ok {
				t.Fatalf("Accept: %v", err)
			}
		})
	}
	t.Run("after the first bytes", func(t *testing.T) {
		var h ConsoleHandshake
		if _, err := h.Feed([]byte("RFB")); err != nil {
			t.Fatal(err)
		}
		if err := h.Accept(SecurityVeNCrypt); err == nil {
			t.Fatal("Accept after Feed")
		}
	})
}

func TestSubtypeStrings(t *testing.T) {
	seen := map[string]bool{}
	for s := VeNCryptPlain; s <= VeNCryptTLSSASL; s++ {
		if n := s.String(); seen[n] || strings.Contains(n, "unknown") {
			t.Errorf("sub-type %d: %q", uint32(s), n)
		} else {
			seen[n] = true
		}
	}
	if VeNCryptSubtype(2).String() != "2 (VNC)" || VeNCryptSubtype(999).String() != "999 (unknown)" {
		t.Error("other sub-types")
	}
}
