package rfb

import (
	"bytes"
	"strings"
	"testing"
)

var consoleTests = []struct {
	name     string
	in       []byte
	out      []byte // what the relay sends the console
	consumed int    // -1: all of in
	state    ConsoleState
	stage    Stage
	code     Code
	peer     string
}{
	{
		name: "QEMU offering None",
		in: wire(
			"RFB 003.008\n",  // ProtocolVersion
			byte(1), byte(1), // 1 security type: None
			u32be(0), // SecurityResult OK
		),
		out:      wire("RFB 003.008\n", byte(1)), // version, choice None
		consumed: -1,
		state:    ConsoleDone,
	},
	{
		name: "None among others, in the console's order",
		in: wire(
			"RFB 003.008\n",
			byte(3), byte(19), byte(2), byte(1), // VeNCrypt, VNC, None
			u32be(0),
		),
		out:      wire("RFB 003.008\n", byte(1)),
		consumed: -1,
		state:    ConsoleDone,
	},
	{
		name: "bytes behind SecurityResult stay with the caller",
		in: wire(
			"RFB 003.008\n",
			byte(1), byte(1),
			u32be(0),
			"\x00\x02", // not the handshake's
		),
		out:      wire("RFB 003.008\n", byte(1)),
		consumed: 12 + 2 + 4,
		state:    ConsoleDone,
	},
	{
		name:     "empty input",
		in:       nil,
		consumed: -1,
		state:    ConsoleReadVersion,
	},
	{
		name:     "version only: answered, waiting for the types",
		in:       wire("RFB 003.008\n"),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleReadTypeCount,
	},
	{
		name: "console refuses with a reason",
		in: wire(
			"RFB 003.008\n",
			byte(0), // zero security types: failure
			rfbString("Too many security failures"),
		),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeRefused, peer: "Too many security failures",
	},
	{
		name:     "console refuses with an empty reason",
		in:       wire("RFB 003.008\n", byte(0), u32be(0), "more"),
		out:      wire("RFB 003.008\n"),
		consumed: 12 + 1 + 4,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeRefused, peer: "",
	},
	{
		name: "no None: VNC authentication and VeNCrypt only",
		in: wire(
			"RFB 003.008\n",
			byte(2), byte(2), byte(19),
			u32be(0), // never read
		),
		out:      wire("RFB 003.008\n"),
		consumed: 12 + 3,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeNoNone, peer: "offered 2 (VNC), 19 (VeNCrypt)",
	},
	{
		name:     "no None: only Invalid and an unknown type",
		in:       wire("RFB 003.008\n", byte(2), byte(0), byte(200)),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeNoNone, peer: "offered 0 (Invalid), 200 (unknown)",
	},
	{
		name:     "no None among 20 types: the list is cut for the log",
		in:       wire("RFB 003.008\n", byte(20), bytes.Repeat([]byte{2}, 20)),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeNoNone,
		peer: "offered " + strings.Repeat("2 (VNC), ", 15) + "2 (VNC) and 4 more",
	},
	{
		name: "SecurityResult failed, QEMU's NUL-terminated reason",
		in: wire(
			"RFB 003.008\n",
			byte(1), byte(1),
			u32be(1), // failed
			rfbString("Authentication failed\x00"),
		),
		out:      wire("RFB 003.008\n", byte(1)),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurityResult, code: CodeSecurityFailed, peer: "Authentication failed",
	},
	{
		name: "SecurityResult too many attempts",
		in: wire(
			"RFB 003.008\n",
			byte(1), byte(1),
			u32be(2), // failed, too many attempts
			rfbString("locked"),
		),
		out:      wire("RFB 003.008\n", byte(1)),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurityResult, code: CodeSecurityFailed, peer: "result 2: locked",
	},
	{
		name: "reason with control characters, escapes and invalid UTF-8",
		in: wire(
			"RFB 003.008\n",
			byte(0),
			rfbString("bad\r\nline\x1b[31m\xff\u202eé"),
		),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeRefused, peer: "bad??line?[31m??é",
	},
	{
		name: "reason longer than MaxReason is cut, the rest unread",
		in: wire(
			"RFB 003.008\n",
			byte(0),
			u32be(5000), strings.Repeat("x", 5000),
		),
		out:      wire("RFB 003.008\n"),
		consumed: 12 + 1 + 4 + MaxReason,
		state:    ConsoleFailed,
		stage:    StageSecurity, code: CodeRefused,
		peer: strings.Repeat("x", MaxReason) + " [cut at 1024 of 5000 bytes]",
	},
	{
		name: "reason of 4 GiB announced",
		in: wire(
			"RFB 003.008\n",
			byte(0),
			u32be(0xffffffff), "short",
		),
		out:      wire("RFB 003.008\n"),
		consumed: -1,
		state:    ConsoleReadReason,
	},
	{
		name:     "RFB 3.7 server",
		in:       wire("RFB 003.007\n", byte(1), byte(1)),
		consumed: 12,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.007",
	},
	{
		name:     "RFB 3.3 server",
		in:       wire("RFB 003.003\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.003",
	},
	{
		name:     "Apple Remote Desktop 3.889",
		in:       wire("RFB 003.889\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.889",
	},
	{
		name:     "RealVNC 4.1",
		in:       wire("RFB 004.001\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 004.001",
	},
	{
		name:     "3.80, which Nova's float comparison takes for 3.8",
		in:       wire("RFB 003.080\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.080",
	},
	{
		name:     "an HTTP server",
		in:       wire("HTTP/1.1 400 Bad Request\r\n"),
		consumed: 12,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeMalformedVersion, peer: "HTTP/1.1 400",
	},
	{
		name:     "a TLS server",
		in:       wire("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeMalformedVersion, peer: "???????????", // the last, NUL, dropped
	},
	{
		name:     "version with spaces for digits",
		in:       wire("RFB  03.008\n"),
		consumed: -1,
		state:    ConsoleFailed,
		stage:    StageVersion, code: CodeMalformedVersion, peer: "RFB  03.008",
	},
}

func TestConsoleHandshake(t *testing.T) {
	for _, tt := range consoleTests {
		t.Run(tt.name, func(t *testing.T) {
			var h ConsoleHandshake
			n, err := h.Feed(tt.in)
			out := h.AppendOutput(nil)
			wantFed(t, tt.in, n, out, tt.consumed, tt.out)
			if h.State() != tt.state || h.Done() != (tt.state == ConsoleDone) {
				t.Errorf("state %s, want %s", h.State(), tt.state)
			}
			wantErr(t, err, SideConsole, tt.stage, tt.code, tt.peer)
			if tt.state == ConsoleDone && h.Chosen() != SecurityNone {
				t.Errorf("chosen %s", h.Chosen())
			}
			// Nothing more is used once the handshake is over.
			if h.State() == ConsoleDone || h.State() == ConsoleFailed {
				n2, err2 := h.Feed(tt.in[n:])
				if n2 != 0 || err2 != err || len(h.AppendOutput(nil)) != 0 {
					t.Errorf("Feed after the end: %d, %v", n2, err2)
				}
			}
		})
	}
}

// TestConsoleHandshakeSplits feeds every exchange of the table in every
// split into two and three pieces, and a byte at a time, and expects the
// same result as in one piece.
func TestConsoleHandshakeSplits(t *testing.T) {
	for _, tt := range consoleTests {
		t.Run(tt.name, func(t *testing.T) {
			wantSplitsLikeWhole[ConsoleState](t, tt.in, func() *ConsoleHandshake { return new(ConsoleHandshake) })
		})
	}
}

func TestConsolePeerClosed(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		stage Stage
		code  Code
		peer  string
	}{
		{"before anything", nil, StageVersion, CodeClosed, ""},
		{"mid version", wire("RFB 003"), StageVersion, CodeClosed, ""},
		{"before the types", wire("RFB 003.008\n"), StageSecurity, CodeClosed, ""},
		{"mid types", wire("RFB 003.008\n", byte(3), byte(2)), StageSecurity, CodeClosed, ""},
		{"before SecurityResult", wire("RFB 003.008\n", byte(1), byte(1), "\x00\x00"), StageSecurityResult, CodeClosed, ""},
		{
			"mid refusal reason",
			wire("RFB 003.008\n", byte(0), u32be(10), "Too m"),
			StageSecurity, CodeRefused, "Too m [cut at 5 of 10 bytes]",
		},
		{
			"before the failure reason",
			wire("RFB 003.008\n", byte(1), byte(1), u32be(1)),
			StageSecurityResult, CodeSecurityFailed, "[closed before the reason]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ConsoleHandshake
			if _, err := h.Feed(tt.in); err != nil {
				t.Fatal(err)
			}
			err := h.PeerClosed()
			wantErr(t, err, SideConsole, tt.stage, tt.code, tt.peer)
			if h.State() != ConsoleFailed {
				t.Fatalf("state %s", h.State())
			}
			if again := h.PeerClosed(); again != err {
				t.Fatalf("second PeerClosed %v", again)
			}
		})
	}
	var h ConsoleHandshake
	if _, err := h.Feed(consoleTests[0].in); err != nil || h.PeerClosed() != nil {
		t.Fatalf("PeerClosed after Done: %v", h.PeerClosed())
	}
}

// splits returns the cut points to test for an input of n bytes: every cut
// into two pieces, every cut into three pieces (for short inputs), and every
// byte on its own.
func splits(n int) [][]int {
	var all [][]int
	for i := 0; i <= n; i++ {
		all = append(all, []int{i})
	}
	if n <= 64 {
		for i := 1; i < n; i++ {
			for j := i + 1; j < n; j++ {
				all = append(all, []int{i, j})
			}
		}
	}
	each := make([]int, 0, n)
	for i := 1; i < n; i++ {
		each = append(each, i)
	}
	return append(all, each)
}

// feedPieces feeds in cut at cuts, as a caller does: each piece appended to
// what the machine left unused, output taken after each Feed. It stops at
// the first error or when the machine uses no more bytes although a whole
// piece was offered after it ended.
func feedPieces(in []byte, cuts []int, feed func([]byte) (int, error), output func([]byte) []byte) (consumed int, out []byte, err error) {
	prev := 0
	var pending []byte
	for _, c := range append(cuts, len(in)) {
		pending = append(pending, in[prev:c]...)
		prev = c
		n, ferr := feed(pending)
		out = output(out)
		consumed += n
		pending = pending[n:]
		if ferr != nil {
			return consumed, out, ferr
		}
	}
	return consumed, out, nil
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
