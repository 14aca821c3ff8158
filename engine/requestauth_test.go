package engine

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
)

// TestRequestAuth: with websockify's --auth-plugin BasicHTTPAuth, an upgrade
// without the right credentials is refused before its token is looked up or
// any console dialed; the right credentials open the console; with
// --web-auth static files need them too.
func TestRequestAuth(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "vnc.html"), []byte("<html>noVNC</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	plugin, err := auth.NewBasicHTTPAuth("ops:pa55")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.RequestAuth, c.WebAuth, c.WebDir = plugin, true, root })
	good := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ops:pa55"))
	bad := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ops:guess"))
	for _, tt := range []struct {
		name   string
		req    string
		status int
	}{
		{"upgrade without credentials", upgradeRequest("/websockify?token=" + canary), http.StatusUnauthorized},
		{"upgrade with wrong credentials", upgradeRequest("/websockify?token="+canary, bad), http.StatusUnauthorized},
		{"upgrade, malformed credentials", upgradeRequest("/websockify?token="+canary, "Authorization: Basic !!"), http.StatusForbidden},
		{"unknown token with credentials", upgradeRequest("/websockify?token=nope", good), http.StatusForbidden},
		{"page without credentials", "GET /vnc.html HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusUnauthorized},
		{"page with credentials", "GET /vnc.html HTTP/1.1\r\nHost: x\r\n" + good + "\r\n\r\n", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dials := e.srv.Stats().Dials
			w := e.dialRaw(tt.req)
			if w.status != tt.status {
				t.Fatalf("status %d %q, want %d", w.status, w.header, tt.status)
			}
			if tt.status == http.StatusUnauthorized && !strings.Contains(w.header, "WWW-Authenticate: Basic realm=\"Websockify\"\r\n") {
				t.Fatalf("401 without a Basic challenge: %q", w.header)
			}
			if tt.status >= 400 && e.srv.Stats().Dials != dials {
				t.Fatal("a refused request dialed the console")
			}
		})
	}
	t.Run("upgrade with credentials", func(t *testing.T) {
		w := e.dialRaw(upgradeRequest("/websockify?token="+canary, good))
		if w.status != http.StatusSwitchingProtocols {
			t.Fatalf("status %d %q", w.status, w.header)
		}
		w.rfbHandshake() // RFB through to the console's ServerInit

	})
}
