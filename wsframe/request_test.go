package wsframe

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

const noVNCRequest = "GET /websockify?token=abc HTTP/1.1\r\n" +
	"Host: 127.0.0.1:6080\r\n" +
	"Connection: Upgrade\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: http://127.0.0.1:6080\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Cookie: a=b; token=fromcookie\r\n" +
	"Authorization: Basic dTpw\r\n" +
	"authorization: Basic c2Vjb25k\r\n" +
	"\r\n"

func TestFindRequestEnd(t *testing.T) {
	full := []byte(noVNCRequest + "\x82\x80....") // a frame right behind the head
	end := len(noVNCRequest)
	tests := []struct {
		name      string
		in        []byte
		from      int
		maxBytes  int
		maxLines  int
		want      int
		wantError error
	}{
		{"whole", full, 0, 0, 0, end, nil},
		{"partial", full[:end-1], 0, 0, 0, 0, nil},
		{"resumed across the terminator", full, end - 2, 0, 0, end, nil},
		{"too large", []byte(strings.Repeat("a", 9000)), 0, 0, 0, 0, ErrHeadTooLarge},
		{"complete but over the cap", full, 0, 100, 0, 0, ErrHeadTooLarge},
		{"too many lines", []byte("GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 70)), 0, 0, 0, 0, ErrTooManyLines},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindRequestEnd(tt.in, tt.from, tt.maxBytes, tt.maxLines)
			if got != tt.want || !errors.Is(err, tt.wantError) {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tt.want, tt.wantError)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	r, err := ParseRequest([]byte(noVNCRequest))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Method) != "GET" || string(r.Path) != "/websockify" || string(r.Query) != "token=abc" ||
		string(r.Host) != "127.0.0.1:6080" || string(r.Origin) != "http://127.0.0.1:6080" ||
		string(r.Cookie) != "a=b; token=fromcookie" || string(r.Authorization) != "Basic dTpw" || !r.Upgrade {
		t.Fatalf("parsed %+v", r)
	}
	bad := []struct{ name, head string }{
		{"no CRLF", "GET / HTTP/1.1"},
		{"one field request line", "GET\r\n\r\n"},
		{"space in target", "GET /a b HTTP/1.1\r\n\r\n"},
		{"HTTP/2", "GET / HTTP/2.0\r\n\r\n"},
		{"header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"},
		{"obsolete folding", "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n"},
		{"bad method token", "G(T / HTTP/1.1\r\n\r\n"},
		{"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nhost: evil\r\n\r\n"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseRequest([]byte(tt.head)); err == nil {
				t.Fatalf("ParseRequest(%q) accepted", tt.head)
			}
		})
	}
}

func TestUpgrade(t *testing.T) {
	base := strings.Replace(noVNCRequest, "\r\n\r\n", "\r\n", 1)
	tests := []struct {
		name     string
		head     string
		status   int
		protocol string
	}{
		{"noVNC 1.7: no subprotocol", base + "\r\n", 0, ""},
		{"binary offered", base + "Sec-WebSocket-Protocol: base64, binary\r\n\r\n", 0, "binary"},
		{"only base64 offered", base + "Sec-WebSocket-Protocol: base64\r\n\r\n", http.StatusBadRequest, ""},
		{"deflate offered", base + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n", 0, ""},
		// websockify accepts what gobwas alone would refuse: no Connection
		// header, a Connection header without "upgrade", hybi versions 7 and 8.
		{"no Connection header", strings.Replace(noVNCRequest, "Connection: Upgrade\r\n", "", 1), 0, ""},
		{"Connection: keep-alive", strings.Replace(noVNCRequest, "Connection: Upgrade", "Connection: keep-alive", 1), 0, ""},
		{"Connection: close", strings.Replace(noVNCRequest, "Connection: Upgrade", "Connection: close", 1), 0, ""},
		{"version 8", strings.Replace(noVNCRequest, "Version: 13", "Version: 8", 1), 0, ""},
		{"version 7", strings.Replace(noVNCRequest, "Version: 13", "Version: 7", 1), 0, ""},
		{"version 8, no Connection", strings.Replace(strings.Replace(noVNCRequest, "Version: 13", "Version: 8", 1), "Connection: Upgrade\r\n", "", 1), 0, ""},
		{"binary offered, no Connection", strings.Replace(base, "Connection: Upgrade\r\n", "", 1) + "Sec-WebSocket-Protocol: binary\r\n\r\n", 0, "binary"},
		// ...and like websockify it refuses other versions, a missing version,
		// and a missing Upgrade header.
		{"version 12", strings.Replace(noVNCRequest, "Version: 13", "Version: 12", 1), http.StatusUpgradeRequired, ""},
		{"version 12, no Connection", strings.Replace(strings.Replace(noVNCRequest, "Version: 13", "Version: 12", 1), "Connection: Upgrade\r\n", "", 1), http.StatusUpgradeRequired, ""},
		{"no version", strings.Replace(noVNCRequest, "Sec-WebSocket-Version: 13\r\n", "", 1), http.StatusBadRequest, ""},
		{"no Upgrade", strings.Replace(noVNCRequest, "Upgrade: websocket\r\n", "", 1), http.StatusBadRequest, ""},
		{"POST", strings.Replace(noVNCRequest, "GET", "POST", 1), http.StatusMethodNotAllowed, ""},
		{"no key", strings.Replace(noVNCRequest, "Sec-WebSocket-Key", "X-Key", 1), http.StatusBadRequest, ""},
		{"no host", strings.Replace(noVNCRequest, "Host:", "X-Host:", 1), http.StatusBadRequest, ""},
		{"HTTP/1.0", strings.Replace(noVNCRequest, "HTTP/1.1", "HTTP/1.0", 1), http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, proto, err := Upgrade(nil, []byte(tt.head))
			if tt.status != 0 {
				var he *HTTPError
				if !errors.As(err, &he) || he.Status != tt.status {
					t.Fatalf("err = %v, want status %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := string(resp)
			if !strings.HasPrefix(s, "HTTP/1.1 101 ") || !strings.Contains(s, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
				t.Fatalf("response %q", s)
			}
			if proto != tt.protocol || strings.Contains(s, "Sec-WebSocket-Protocol") != (tt.protocol != "") {
				t.Fatalf("protocol %q, response %q", proto, s)
			}
			if strings.Contains(s, "Extensions") {
				t.Fatalf("extension accepted: %q", s)
			}
		})
	}
}

func BenchmarkUpgrade(b *testing.B) {
	head := []byte(noVNCRequest)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		end, _ := FindRequestEnd(head, 0, 0, 0)
		if _, err := ParseRequest(head[:end]); err != nil {
			b.Fatal(err)
		}
		if _, _, err := Upgrade(buf[:0], head[:end]); err != nil {
			b.Fatal(err)
		}
	}
}
