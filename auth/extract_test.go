package auth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/wsframe"
)

// tokenFromCase is one request and what TokenFrom must make of it. The
// comment of each case says whose behaviour it follows.
type tokenFromCase struct {
	name, query, cookie, host string
	noQuery                   bool // no '?' in the request target
	hostToken                 bool
	token, source             string
	err                       error
}

var tokenFromQueryCases = []tokenFromCase{
	{name: "query", query: "token=abc", token: "abc", source: "query"},
	{name: "query escaped", query: "token=a%2Bb", token: "a+b", source: "query"},
	{name: "query plus is a space", query: "token=a+b", token: "a b", source: "query"},
	{name: "query among other parameters", query: "path=websockify&token=abc&x=1", token: "abc", source: "query"},
	{name: "two in query", query: "token=a&token=b", err: ErrTokenRepeated},
	{name: "query blank token then one (parse_qs drops blanks)", query: "token=&token=x", token: "x", source: "query"},
	{name: "query bare name then one", query: "token&token=x", token: "x", source: "query"},
	{name: "query malformed other parameter", query: "token=ok&x=%zz", token: "ok", source: "query"},
	{name: "query malformed other name", query: "%zz=1&token=ok", token: "ok", source: "query"},
	{name: "query semicolon is not a separator", query: "token=a;b=c", token: "a;b=c", source: "query"},
	{name: "query semicolon hides nothing", query: "x=1;token=q"},
	{name: "query escaped key", query: "%74oken=abc", token: "abc", source: "query"},
	{name: "query trailing newline stripped (websockify)", query: "token=abc%0A%0A", token: "abc", source: "query"},
	{name: "query only a newline", query: "token=%0A"},
	{name: "query malformed token", query: "token=%zz", err: ErrBadQuery},
	{name: "query over cookie", query: "token=q", cookie: "token=c", token: "q", source: "query"},
	{name: "query blank falls back to cookie", query: "token=", cookie: "token=c", token: "c", source: "cookie"},
	{name: "no query falls back to cookie", noQuery: true, cookie: "token=c", token: "c", source: "cookie"},
	{name: "none"},
	{name: "host ignored without flag", host: "vm1"},
}

// Kind 1: a malformed cookie must not hide the token cookie (Nova bug
// 1496932): every ';' part is parsed on its own.
var tokenFromCookieCases = []tokenFromCase{
	{name: "cookie", cookie: "x=1; token=ck", token: "ck", source: "cookie"},
	{name: "cookie malformed before token (Nova bug 1496932)", cookie: `?=!; token="good"`, token: "good", source: "cookie"},
	{name: "cookie bare word before token", cookie: "flag; token=good", token: "good", source: "cookie"},
	{name: "cookie raw JSON before token", cookie: `prefs={"a":1,"b":[2]}; token=good`, token: "good", source: "cookie"},
	{name: "cookie JSON with spaces before token", cookie: `prefs={"a": [1, 2]}; token=good`, token: "good", source: "cookie"},
	{name: "cookie trailing semicolon", cookie: "token=good;", token: "good", source: "cookie"},
	{name: "cookie empty parts", cookie: ";; ;token=good; ;", token: "good", source: "cookie"},
	{name: "cookie UTF-8 in another cookie", cookie: "name=héllo wörld; token=good", token: "good", source: "cookie"},
	{name: "cookie quoted", cookie: `token="good"`, token: "good", source: "cookie"},
	{name: "cookie quoted with space", cookie: `token="a b"`, token: "a b", source: "cookie"},
	{name: "cookie spaces around =", cookie: "token = good", token: "good", source: "cookie"},
	{name: "cookie spaces around = before quotes", cookie: `token = "good"`, token: "good", source: "cookie"},
	{name: "cookie tabs around =", cookie: "token\t=\tgood", token: "good", source: "cookie"},
	{name: "cookie padded", cookie: `  token="good"  `, token: "good", source: "cookie"},
	{name: "cookie empty token then another", cookie: "token=; token=good", token: "good", source: "cookie"},
	{name: "cookie two tokens, last wins (Nova)", cookie: "token=first; token=second", token: "second", source: "cookie"},
	{name: "cookie empty last token wins (Nova)", cookie: "token=good; token="},
	{name: "cookie malformed last token skipped", cookie: `token=good; token="bad`, token: "good", source: "cookie"},
	{name: "cookie space in unquoted value", cookie: "token=ab cd"},
	{name: "cookie stray quote", cookie: `token=good"`},
	{name: "cookie backslash escape not decoded", cookie: `token="a\"b"`},
	{name: "cookie control byte", cookie: "token=a\x01b"},
	{name: "cookie name is case-sensitive", cookie: "Token=x"},
	{name: "cookie attribute-like name before token", cookie: "path=/; token=y", token: "y", source: "cookie"},
	{name: "cookie comma and equals in value", cookie: "token=a,b=c", token: "a,b=c", source: "cookie"},
	{name: "cookie non-ASCII token passes through", cookie: "token=é", token: "é", source: "cookie"},
	{name: "cookie name without value", cookie: "token"},
	{name: "cookie empty quotes", cookie: `token=""`},
}

// Kind 2: with --host-token the Host header, less its port, decides.
var tokenFromHostCases = []tokenFromCase{
	{name: "host", host: "vm1.consoles.example", hostToken: true, token: "vm1.consoles.example", source: "host"},
	{name: "host port stripped (websockify)", host: "vm1.example.test:6080", hostToken: true, token: "vm1.example.test", source: "host"},
	{name: "host port not checked (websockify)", host: "vm1:x:y", hostToken: true, token: "vm1", source: "host"},
	{name: "host IPv6 with port", host: "[::1]:6080", hostToken: true, token: "[::1]", source: "host"},
	{name: "host IPv6 without port", host: "[::1]", hostToken: true, token: "[::1]", source: "host"},
	{name: "host IPv6 unclosed", host: "[::1:6080", hostToken: true, err: ErrBadHost},
	{name: "host IPv6 junk after bracket", host: "[::1]6080", hostToken: true, err: ErrBadHost},
	{name: "host case kept (websockify)", host: "VM1.Example.Test:6080", hostToken: true, token: "VM1.Example.Test", source: "host"},
	{name: "host over query", host: "vm1:6080", query: "token=other", hostToken: true, token: "vm1", source: "host"},
	{name: "host over cookie", host: "vm1:6080", cookie: "token=other", hostToken: true, token: "vm1", source: "host"},
	{name: "host ignores a query that would be refused", host: "vm1", query: "token=%zz&token=a&token=b", hostToken: true, token: "vm1", source: "host"},
	{name: "host empty, query not consulted", query: "token=other", hostToken: true},
	{name: "host port only", host: ":6080", hostToken: true},
}

// request is the parsed request of a case.
func (tt tokenFromCase) request() *wsframe.Request {
	r := &wsframe.Request{Host: []byte(tt.host)}
	if !tt.noQuery {
		r.Query = []byte(tt.query)
	}
	if tt.cookie != "" {
		r.Cookie = []byte(tt.cookie)
	}
	return r
}

func TestTokenFrom(t *testing.T) {
	for _, group := range [][]tokenFromCase{tokenFromQueryCases, tokenFromCookieCases, tokenFromHostCases} {
		for _, tt := range group {
			t.Run(tt.name, func(t *testing.T) {
				tok, src, err := TokenFrom(tt.request(), tt.hostToken)
				if tok != tt.token || src != tt.source || !errors.Is(err, tt.err) {
					t.Fatalf("got %q %q %v, want %q %q %v", tok, src, err, tt.token, tt.source, tt.err)
				}
			})
		}
	}
}

// TestTokenFromRequestResolves runs the examples from a raw request head
// through wsframe.ParseRequest, TokenFrom and a TokenFile.
func TestTokenFromRequestResolves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("good: 127.0.0.1:5901\nvm1.example.test: 127.0.0.1:5902\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := &TokenFile{Path: path, Logger: quietLogger(&bytes.Buffer{})}
	tests := []struct {
		name, head string
		hostToken  bool
		want       string
	}{
		{"malformed cookie before token", "GET /websockify HTTP/1.1\r\nHost: h:6080\r\nCookie: ?=!; token=\"good\"\r\n\r\n", false, "127.0.0.1:5901"},
		{"JSON cookie before token", "GET / HTTP/1.1\r\nHost: h\r\nCookie: prefs={\"a\":1,\"b\":[2]}; token=good\r\n\r\n", false, "127.0.0.1:5901"},
		{"host token with port", "GET / HTTP/1.1\r\nHost: vm1.example.test:6080\r\n\r\n", true, "127.0.0.1:5902"},
		{"host token beats query", "GET /?token=good HTTP/1.1\r\nHost: vm1.example.test:6080\r\n\r\n", true, "127.0.0.1:5902"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := wsframe.ParseRequest([]byte(tt.head))
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := TokenFrom(&req, tt.hostToken)
			if err != nil {
				t.Fatal(err)
			}
			tg, err := tf.Resolve(context.Background(), tok)
			if err != nil || tg.Address != tt.want {
				t.Fatalf("resolved %v %v, want %s", tg, err, tt.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	m := Mask("secret-token-value")
	if strings.Contains(m, "secret") || !strings.HasPrefix(m, "tok:") || len(m) != 12 || m != Mask("secret-token-value") {
		t.Fatalf("Mask = %q", m)
	}
}

func FuzzTokenCookie(f *testing.F) {
	for _, tt := range tokenFromCookieCases {
		f.Add([]byte(tt.cookie))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		v, ok := tokenCookie(h)
		if !ok && v != "" {
			t.Fatalf("value %q without ok", v)
		}
		if ok {
			if strings.ContainsAny(v, "\"\\\x00\x7f") || !bytes.Contains(h, []byte(v)) {
				t.Fatalf("value %q from %q", v, h)
			}
			if v2, ok2 := tokenCookie([]byte(`token="` + v + `"`)); !ok2 || v2 != v {
				t.Fatalf("%q does not parse again quoted: %q %v", v, v2, ok2)
			}
		}
		// Whatever comes before, a well-formed last token cookie wins.
		if v, ok := tokenCookie(append(h[:len(h):len(h)], "; token=good"...)); !ok || v != "good" {
			t.Fatalf("%q hides the token cookie: %q %v", h, v, ok)
		}
	})
}

func FuzzTokenFrom(f *testing.F) {
	for _, group := range [][]tokenFromCase{tokenFromQueryCases, tokenFromCookieCases, tokenFromHostCases} {
		for _, tt := range group {
			f.Add(tt.query, tt.cookie, tt.host, tt.hostToken)
		}
	}
	f.Fuzz(func(t *testing.T, query, cookie, host string, hostToken bool) {
		r := &wsframe.Request{Query: []byte(query), Cookie: []byte(cookie), Host: []byte(host)}
		tok, src, err := TokenFrom(r, hostToken)
		switch {
		case err != nil && (tok != "" || src != ""):
			t.Fatalf("token %q source %q with error %v", tok, src, err)
		case (tok == "") != (src == ""):
			t.Fatalf("token %q source %q", tok, src)
		case hostToken && src != "" && src != "host", !hostToken && src == "host":
			t.Fatalf("hostToken %v, source %q", hostToken, src)
		case src == "host" && !strings.HasPrefix(host, tok):
			t.Fatalf("host token %q from %q", tok, host)
		}
	})
}
