package engine

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

func TestWeb(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>home</p>"), 0o644))
	must(os.MkdirAll(filepath.Join(root, "core"), 0o755))
	must(os.WriteFile(filepath.Join(root, "core", "rfb.js"), []byte("export default 1;"), 0o644))
	must(os.MkdirAll(filepath.Join(root, "empty"), 0o755))
	secret := filepath.Join(filepath.Dir(root), "secret.txt")
	must(os.WriteFile(secret, []byte("secret"), 0o600))
	t.Cleanup(func() { _ = os.Remove(secret) })

	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.WebDir = root })
	get := func(method, path string) (int, http.Header, string) {
		t.Helper()
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		var status int
		if _, err := fmtSscanf(lines[0], &status); err != nil {
			t.Fatalf("status line %q", lines[0])
		}
		h := http.Header{}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ": ")
			h.Add(k, v)
		}
		return status, h, body
	}
	tests := []struct {
		method, path string
		status       int
		ctype, body  string
		location     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<p>home</p>", ""},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "<p>home</p>", ""},
		{"GET", "/core/rfb.js", 200, "text/javascript; charset=utf-8", "export default 1;", ""},
		{"HEAD", "/core/rfb.js", 200, "text/javascript; charset=utf-8", "", ""},
		{"GET", "/core", 301, "", "", "/core/"},
		{"GET", "/empty/", 404, "", "", ""},
		{"GET", "/missing.js", 404, "", "", ""},
		{"GET", "/../secret.txt", 404, "", "", ""},
		{"GET", "/%2e%2e/secret.txt", 404, "", "", ""},
		{"GET", "//evil.example/", 400, "", "", ""},
		{"GET", "/\\evil.example/", 400, "", "", ""},
		{"GET", "/%2F%2Fevil.example", 400, "", "", ""},
		{"GET", "/%5cevil.example", 400, "", "", ""},
		{"GET", "/core%0d%0aSet-Cookie:%20x=1", 400, "", "", ""},
		{"POST", "/index.html", 405, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, h, body := get(tt.method, tt.path)
			if status != tt.status {
				t.Fatalf("status %d, want %d (%q)", status, tt.status, body)
			}
			if tt.ctype != "" && h.Get("Content-Type") != tt.ctype {
				t.Fatalf("content type %q", h.Get("Content-Type"))
			}
			if status == 200 && body != tt.body {
				t.Fatalf("body %q", body)
			}
			if loc := h.Get("Location"); loc != tt.location {
				t.Fatalf("location %q, want %q", loc, tt.location)
			}
			if strings.Contains(body, "secret") {
				t.Fatal("file outside the web root served")
			}
		})
	}
	// WebSocket upgrades still work on the same port.
	w := e.dial()
	w.rfbHandshake()
}
