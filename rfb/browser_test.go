package rfb

import (
	"bytes"
	"testing"
)

// hello is what the relay sends first, before reading anything.
const hello = "RFB 003.008\n"

var browserTests = []struct {
	name     string
	in       []byte
	out      []byte // everything the relay sends the browser, hello included
	consumed int    // -1: all of in
	state    BrowserState
	stage    Stage
	code     Code
	peer     string
}{
	{
		name: "noVNC",
		in: wire(
			"RFB 003.008\n", // ProtocolVersion
			byte(1),         // security type None
		),
		out: wire(
			hello,
			byte(1), byte(1), // 1 security type: None
			u32be(0), // SecurityResult OK
		),
		consumed: -1,
		state:    BrowserDone,
	},
	{
		name: "ClientInit and more behind the choice stay with the caller",
		in: wire(
			"RFB 003.008\n",
			byte(1), // None
			byte(1), // ClientInit: shared
			"\x02\x00\x00\x00",
		),
		out:      wire(hello, byte(1), byte(1), u32be(0)),
		consumed: 13,
		state:    BrowserDone,
	},
	{
		name:     "nothing from the browser yet",
		in:       nil,
		out:      wire(hello),
		consumed: -1,
		state:    BrowserReadVersion,
	},
	{
		name:     "version: security types offered, waiting for the choice",
		in:       wire("RFB 003.008\n"),
		out:      wire(hello, byte(1), byte(1)),
		consumed: -1,
		state:    BrowserReadChoice,
	},
	{
		name: "browser chooses VNC authentication",
		in:   wire("RFB 003.008\n", byte(2), "more"),
		out: wire(
			hello, byte(1), byte(1),
			u32be(1), // SecurityResult failed
			rfbString(choiceRefusal),
		),
		consumed: 13,
		state:    BrowserFailed,
		stage:    StageSecurity, code: CodeUnsupportedType, peer: "2 (VNC)",
	},
	{
		name:     "browser chooses Invalid",
		in:       wire("RFB 003.008\n", byte(0)),
		out:      wire(hello, byte(1), byte(1), u32be(1), rfbString(choiceRefusal)),
		consumed: -1,
		state:    BrowserFailed,
		stage:    StageSecurity, code: CodeUnsupportedType, peer: "0 (Invalid)",
	},
	{
		name: "RFB 3.3 client: refused in the 3.3 form",
		in:   wire("RFB 003.003\n", byte(1)),
		out: wire(
			hello,
			u32be(0), // security type Invalid: failure
			rfbString(versionRefusal),
		),
		consumed: 12,
		state:    BrowserFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.003",
	},
	{
		name:     "RFB 3.5 client: taken as 3.3",
		in:       wire("RFB 003.005\n"),
		out:      wire(hello, u32be(0), rfbString(versionRefusal)),
		consumed: -1,
		state:    BrowserFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.005",
	},
	{
		name: "RFB 3.7 client: refused in the 3.7 form",
		in:   wire("RFB 003.007\n"),
		out: wire(
			hello,
			byte(0), // zero security types: failure
			rfbString(versionRefusal),
		),
		consumed: -1,
		state:    BrowserFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 003.007",
	},
	{
		name:     "client answers a higher version than offered",
		in:       wire("RFB 004.000\n"),
		out:      wire(hello, byte(0), rfbString(versionRefusal)),
		consumed: -1,
		state:    BrowserFailed,
		stage:    StageVersion, code: CodeUnsupportedVersion, peer: "RFB 004.000",
	},
	{
		name:     "not an RFB client",
		in:       wire("GET / HTTP/1.1\r\n"),
		out:      wire(hello),
		consumed: 12,
		state:    BrowserFailed,
		stage:    StageVersion, code: CodeMalformedVersion, peer: "GET / HTTP/1",
	},
}

func TestBrowserHandshake(t *testing.T) {
	for _, tt := range browserTests {
		t.Run(tt.name, func(t *testing.T) {
			var h BrowserHandshake
			out := h.AppendOutput(nil)
			if string(out) != hello || h.State() != BrowserReadVersion {
				t.Fatalf("first output %q in state %s", out, h.State())
			}
			n, err := h.Feed(tt.in)
			out = h.AppendOutput(out)
			wantFed(t, tt.in, n, out, tt.consumed, tt.out)
			if h.State() != tt.state || h.Done() != (tt.state == BrowserDone) {
				t.Errorf("state %s, want %s", h.State(), tt.state)
			}
			wantErr(t, err, SideBrowser, tt.stage, tt.code, tt.peer)
			if h.State() == BrowserDone || h.State() == BrowserFailed {
				n2, err2 := h.Feed(tt.in[n:])
				if n2 != 0 || err2 != err || len(h.AppendOutput(nil)) != 0 {
					t.Errorf("Feed after the end: %d, %v", n2, err2)
				}
			}
		})
	}
}

// TestBrowserFeedFirst: a caller that feeds before taking the output still
// gets the relay's version first.
func TestBrowserFeedFirst(t *testing.T) {
	var h BrowserHandshake
	n, err := h.Feed(wire("RFB 003.008\n", byte(1)))
	out := h.AppendOutput(nil)
	if n != 13 || err != nil || !bytes.Equal(out, wire(hello, byte(1), byte(1), u32be(0))) {
		t.Fatalf("%d %v %q", n, err, out)
	}
}

func TestBrowserHandshakeSplits(t *testing.T) {
	for _, tt := range browserTests {
		t.Run(tt.name, func(t *testing.T) {
			wantSplitsLikeWhole[BrowserState](t, tt.in, func() *BrowserHandshake { return new(BrowserHandshake) })
		})
	}
}

func TestBrowserPeerClosed(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		stage Stage
	}{
		{"before the version", nil, StageVersion},
		{"mid version", wire("RFB 0"), StageVersion},
		{"before the choice", wire("RFB 003.008\n"), StageSecurity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h BrowserHandshake
			if _, err := h.Feed(tt.in); err != nil {
				t.Fatal(err)
			}
			wantErr(t, h.PeerClosed(), SideBrowser, tt.stage, CodeClosed, "")
			if h.State() != BrowserFailed {
				t.Fatalf("state %s", h.State())
			}
		})
	}
	var h BrowserHandshake
	if _, err := h.Feed(browserTests[0].in); err != nil || h.PeerClosed() != nil {
		t.Fatalf("PeerClosed after Done: %v", h.PeerClosed())
	}
}
