package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// TestTempestConsoleClient runs OpenStack tempest's hand-written console
// client (reproduced in tempest_client.py) through the built relay to a real
// QEMU VNC console, both ways tempest does: test_novnc's upgrade and RFB
// negotiation, and test_novnc_bad_token's refusal, which tempest fails if
// any byte after the response head reads as a frame (issue 7, input 1).
func TestTempestConsoleClient(t *testing.T) {
	py := need(t, "python3")
	console := startQEMUVNC(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(canary+": "+console+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokens)
	// Nova hands out URLs of both shapes: noVNC's path parameter (the
	// default since Rocky) and a plain token parameter.
	pathURL := func(token string) string {
		return "http://" + addr + "/vnc_lite.html?path=" + url.QueryEscape("?token="+token)
	}
	tests := []struct {
		name, mode, url, status string
	}{
		{"test_novnc, path form", "good", pathURL(canary), "HTTP/1.1 101 Switching Protocols"},
		{"test_novnc, token form", "good", "http://" + addr + "/websockify?token=" + canary, "HTTP/1.1 101 Switching Protocols"},
		{"test_novnc_bad_token, path form", "bad", pathURL("bad" + canary), "HTTP/1.1 403 Forbidden"},
		{"test_novnc_bad_token, token form", "bad", "http://" + addr + "/websockify?token=bad" + canary, "HTTP/1.1 403 Forbidden"},
		{"no token at all", "bad", "http://" + addr + "/websockify", "HTTP/1.1 403 Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res struct {
				OK         bool   `json:"ok"`
				Error      string `json:"error"`
				StatusLine string `json:"status_line"`
			}
			runJSON(t, &res, py, "tempest_client.py", tt.mode, tt.url)
			if !res.OK || res.StatusLine != tt.status {
				t.Fatalf("tempest's judgement: ok=%v %q, status %q (want %q)", res.OK, res.Error, res.StatusLine, tt.status)
			}
		})
	}
}
