package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// rawStatus sends req as is and returns the response's status and head.
func rawStatus(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a Nova lookup may take the whole 10 s connect deadline
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("response head: %v (%q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	var status int
	if _, err := fmt.Sscanf(head.String(), "HTTP/1.1 %d", &status); err != nil {
		t.Fatalf("status line %q", head.String())
	}
	return status, head.String()
}

// upgradeReq is a well-formed upgrade request with the given target, Host
// ("" for none: the caller's extra lines may carry their own) and extra
// header lines.
func upgradeReq(target, host string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", target)
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	b.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	return b.String() + "\r\n"
}

// consoleOn starts an echoing RFB console on a loopback address ("127.0.0.1"
// or "[::1]").
func consoleOn(t *testing.T, host string) string {
	t.Helper()
	s := &rfb.Server{Mode: rfb.ModeEcho}
	if err := s.Listen(host + ":0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

// TestWebsockifyInputs: the inputs of issue 7, taken from public bug reports
// of websockify, Nova and OpenStack's tests, through the built binary. Each
// one failed before; tempest's own client is TestTempestConsoleClient.
func TestWebsockifyInputs(t *testing.T) {
	console := consoleOn(t, "127.0.0.1")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(canary+": "+console+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokens)

	t.Run("malformed cookies do not hide the token cookie", func(t *testing.T) {
		for _, cookie := range []string{
			`?=!; token="` + canary + `"`,
			`flag; token=` + canary,
			`prefs={"a":1,"b":[2,3]}; token=` + canary,
			`token=` + canary + `;`,
			`name=Zoë; token=` + canary,
		} {
			if s, head := rawStatus(t, addr, upgradeReq("/websockify", "127.0.0.1", "Cookie: "+cookie)); s != 101 {
				t.Errorf("Cookie %q: status %d %q", strings.ReplaceAll(cookie, canary, "<token>"), s, head)
			}
		}
	})
	t.Run("no Connection header", func(t *testing.T) {
		req := strings.Replace(upgradeReq("/?token="+canary, "127.0.0.1"), "Connection: Upgrade\r\n", "", 1)
		if s, head := rawStatus(t, addr, req); s != 101 {
			t.Fatalf("status %d %q", s, head)
		}
	})
	t.Run("hybi version 8", func(t *testing.T) {
		req := strings.Replace(upgradeReq("/?token="+canary, "127.0.0.1"), "Version: 13", "Version: 8", 1)
		if s, head := rawStatus(t, addr, req); s != 101 {
			t.Fatalf("status %d %q", s, head)
		}
	})
	t.Run("empty continuation flood ends with 1009", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, upgradeReq("/?token="+canary, "127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		// One open message (FIN=0), then 70,000 empty continuations, more
		// than the default cap of 65,536 frames a message; the relay must
		// close with 1009 instead of taking them for ever.
		var flood bytes.Buffer
		flood.Write([]byte{0x02, 0x81, 0, 0, 0, 0, 'x'})
		cont := []byte{0x00, 0x80, 0, 0, 0, 0}
		for range 70000 {
			flood.Write(cont)
		}
		go func() { _, _ = c.Write(flood.Bytes()) }()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		all, _ := io.ReadAll(c)
		i := bytes.Index(all, []byte{0x88})
		if i < 0 || len(all) < i+4 || all[i+2] != 0x03 || all[i+3] != 0xf1 {
			t.Fatalf("no close 1009 in %d bytes from the relay", len(all))
		}
	})
}

// TestTargetConfig: websockify's --target-config is its older name for a
// token file or directory.
func TestTargetConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vm1"), []byte(canary+": "+consoleOn(t, "127.0.0.1")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, "--target-config", dir)
	if s, head := rawStatus(t, addr, upgradeReq("/?token="+canary, "127.0.0.1")); s != 101 {
		t.Fatalf("status %d %q", s, head)
	}
}

// TestHostToken: with --host-token the Host header, less its port, is the
// token, and a query token cannot pick another console.
func TestHostToken(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	body := "vm1.example.test: " + consoleOn(t, "127.0.0.1") + "\n" + canary + ": " + consoleOn(t, "127.0.0.1") + "\n"
	if err := os.WriteFile(tokens, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, "--host-token", "--token-plugin", "TokenFile", "--token-source", tokens)
	for _, tt := range []struct {
		name, target, host string
		status             int
	}{
		{"Host with port", "/websockify", "vm1.example.test:6080", 101},
		{"Host without port", "/websockify", "vm1.example.test", 101},
		{"unknown Host", "/websockify", "vm2.example.test:6080", 403},
		{"query token does not override Host", "/websockify?token=" + canary, "vm2.example.test:6080", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, head := rawStatus(t, addr, upgradeReq(tt.target, tt.host)); s != tt.status {
				t.Fatalf("status %d, want %d: %q", s, tt.status, head)
			}
		})
	}
}

// TestTokenFileForms: the target forms websockify's TokenFile accepts, here
// an IPv6 host without brackets (the last colon separates the port).
func TestTokenFileForms(t *testing.T) {
	v6 := consoleOn(t, "[::1]")
	_, port, _ := net.SplitHostPort(v6)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(canary+": ::1:"+port+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokens)
	if s, head := rawStatus(t, addr, upgradeReq("/?token="+canary, "127.0.0.1")); s != 101 {
		t.Fatalf("status %d %q", s, head)
	}
}

// TestTokenWrittenJustBefore: a token written to the file right before the
// browser connects opens the console, and one removed is refused at once: a
// lookup never answers from a source older than the request.
func TestTokenWrittenJustBefore(t *testing.T) {
	console := consoleOn(t, "127.0.0.1")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokens)
	for i := range 5 {
		tok := fmt.Sprintf("%s-%d", canary, i)
		if err := os.WriteFile(tokens, []byte(tok+": "+console+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, _ := rawStatus(t, addr, upgradeReq("/?token="+tok, "127.0.0.1")); s != 101 {
			t.Fatalf("round %d: token written just before: status %d", i, s)
		}
		if err := os.WriteFile(tokens, []byte("# gone\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, _ := rawStatus(t, addr, upgradeReq("/?token="+tok, "127.0.0.1")); s != 403 {
			t.Fatalf("round %d: token removed just before: status %d", i, s)
		}
	}
}

// TestFixedTargetNoToken: `vncrelay 6080 host:port`, as websockify, relays
// noVNC's default path, which carries no token.
func TestFixedTargetNoToken(t *testing.T) {
	argv := []string{relayBin, "127.0.0.1:0", consoleOn(t, "127.0.0.1")}
	addr, _, _ := startListening(t, argv, func() []string { return []string{canary} })
	if s, head := rawStatus(t, addr, upgradeReq("/websockify", "127.0.0.1")); s != 101 {
		t.Fatalf("status %d %q", s, head)
	}
}
