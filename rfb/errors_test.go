package rfb

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			"console without None",
			&Error{Side: SideConsole, Stage: StageSecurity, Code: CodeNoNone, Peer: "offered 2 (VNC), 19 (VeNCrypt)"},
			"rfb: console does not offer security type None (security types, RFC 6143 7.1.2): offered 2 (VNC), 19 (VeNCrypt)",
		},
		{
			"console closed",
			&Error{Side: SideConsole, Stage: StageSecurityResult, Code: CodeClosed},
			"rfb: console closed the connection during the handshake (SecurityResult, RFC 6143 7.1.3)",
		},
		{
			"console without X509None",
			&Error{Side: SideConsole, Stage: StageVeNCrypt, Code: CodeNoX509None, Peer: "offered 257 (TLSNone)"},
			"rfb: console does not offer VeNCrypt sub-type X509None (260) (VeNCrypt, rfbproto security type 19): offered 257 (TLSNone)",
		},
		{
			"console certificate from another CA",
			&Error{Side: SideConsole, Stage: StageTLS, Code: CodeTLSUntrusted,
				Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")},
			"rfb: console presented a certificate that does not verify against the CA certificates (TLS of VeNCrypt X509None): " +
				"tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},
		{
			"browser version",
			&Error{Side: SideBrowser, Stage: StageVersion, Code: CodeUnsupportedVersion, Peer: "RFB 003.007"},
			"rfb: browser speaks an RFB version other than 3.8 (ProtocolVersion, RFC 6143 7.1.1): RFB 003.007",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			// Wrapped as the engine wraps it, one errors.As finds it.
			var e *Error
			if !errors.As(fmt.Errorf("console handshake 10.0.0.5:5901: %w", tt.err), &e) || e != tt.err {
				t.Fatal("errors.As")
			}
		})
	}
}

// TestEnumStrings: every value of each enum has a name of its own, and the
// codes' labels are fit for metrics.
func TestEnumStrings(t *testing.T) {
	seen := map[string]bool{}
	for c := CodeMalformedVersion; c <= CodeClosedAfterTLS; c++ {
		s := c.String()
		if seen[s] || strings.HasPrefix(s, "Code(") || strings.ContainsAny(s, " -.") || c.Reason() == s {
			t.Errorf("code %d: label %q reason %q", c, s, c.Reason())
		}
		seen[s] = true
	}
	for st := ConsoleReadVersion; st <= ConsoleFailed; st++ {
		if s := st.String(); seen[s+"c"] || strings.Contains(s, "?") {
			t.Errorf("console state %d: %q", st, s)
		} else {
			seen[s+"c"] = true
		}
	}
	for st := BrowserStart; st <= BrowserFailed; st++ {
		if s := st.String(); seen[s+"b"] || strings.Contains(s, "?") {
			t.Errorf("browser state %d: %q", st, s)
		} else {
			seen[s+"b"] = true
		}
	}
	for _, st := range []Stage{StageVersion, StageSecurity, StageSecurityResult, StageVeNCrypt, StageTLS} {
		if strings.HasPrefix(st.String(), "Stage(") || st.Reason() == st.String() {
			t.Errorf("stage %d", st)
		}
	}
	if SideConsole.String() != "console" || SideBrowser.String() != "browser" {
		t.Error("sides")
	}
	if SecurityVeNCrypt.String() != "19 (VeNCrypt)" || SecurityType(99).String() != "99 (unknown)" {
		t.Error("security types")
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Authentication failed", "Authentication failed"},
		{"C terminator", "failed\x00\x00", "failed"},
		{"inner NUL", "a\x00b", "a?b"},
		{"newlines and tabs", "a\r\nb\tc", "a??b?c"},
		{"terminal escape", "\x1b]0;owned\x07", "?]0;owned?"},
		{"invalid UTF-8", "caf\xe9", "caf?"},
		{"right-to-left override", "abc\u202edef", "abc?def"},
		{"Unicode kept", "Échec d'authentification — 認証失敗", "Échec d'authentification — 認証失敗"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize([]byte(tt.in)); got != tt.want {
				t.Fatalf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
