package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/wsframe"
)

// authCase is one request to a request auth plugin: its headers, the peer's
// certificate name, and the status vncrelay answers (0: passes).
type authCase struct {
	name    string
	headers [][2]string
	cn      string
	want    int
	// differs: websockify answers otherwise, deliberately (see the plugin's
	// doc comment); the differential test skips the case.
	differs string
}

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

var authTables = []struct {
	plugin, source string
	cases          []authCase
}{
	{"BasicHTTPAuth", "alice:s3cret:with:colons", []authCase{
		{name: "right", headers: [][2]string{{"Authorization", basic("alice:s3cret:with:colons")}}},
		{name: "no header", want: 401},
		{name: "wrong password", headers: [][2]string{{"Authorization", basic("alice:nope")}}, want: 401},
		{name: "wrong user", headers: [][2]string{{"Authorization", basic("bob:s3cret:with:colons")}}, want: 401},
		{name: "prefix of the password", headers: [][2]string{{"Authorization", basic("alice:s3cret")}}, want: 401},
		{name: "no colon", headers: [][2]string{{"Authorization", basic("alice")}}, want: 403},
		{name: "other scheme", headers: [][2]string{{"Authorization", "Bearer abc"}}, want: 403},
		{name: "not base64", headers: [][2]string{{"Authorization", "Basic %%%"}}, want: 403},
		{name: "base64 with stray characters", headers: [][2]string{{"Authorization", "Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb25z!"}}, want: 403,
			differs: "Python's b64decode drops characters outside the alphabet and lets the credentials through"},
		{name: "scheme in lower case", headers: [][2]string{{"Authorization", "basic " + basic("alice:s3cret:with:colons")[6:]}},
			differs: "websockify wants \"Basic \" exactly (403); RFC 9110 makes the scheme case-insensitive"},
		{name: "header name in lower case", headers: [][2]string{{"authorization", basic("alice:s3cret:with:colons")}}},
	}},
	{"BasicHTTPAuth", "zoë:pässword", []authCase{
		{name: "UTF-8 from a browser", headers: [][2]string{{"Authorization", basic("zoë:pässword")}},
			differs: "websockify decodes credentials as ISO-8859-1 only: browsers send UTF-8 today"},
		{name: "ISO-8859-1", headers: [][2]string{{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("zo\xeb:p\xe4ssword"))}}},
		{name: "wrong", headers: [][2]string{{"Authorization", basic("zoe:password")}}, want: 401},
	}},
	{"ExpectOrigin", "https://a.example http://b.example:8080", []authCase{
		{name: "first", headers: [][2]string{{"Origin", "https://a.example"}}},
		{name: "second", headers: [][2]string{{"Origin", "http://b.example:8080"}}},
		{name: "missing", want: 403},
		{name: "other", headers: [][2]string{{"Origin", "https://evil.example"}}, want: 403},
		{name: "prefix", headers: [][2]string{{"Origin", "https://a.example.evil"}}, want: 403},
		{name: "case differs", headers: [][2]string{{"Origin", "HTTPS://A.EXAMPLE"}}, want: 403},
	}},
	{"ClientCertCNAuth", "console-users ops", []authCase{
		{name: "listed", cn: "ops"},
		{name: "not listed", cn: "intruder", want: 403},
		{name: "no certificate", want: 403},
		{name: "header cannot stand in for a certificate", headers: [][2]string{{"SSL_CLIENT_S_DN_CN", "ops"}}, want: 403,
			differs: "websockify reads the name from its header table, which a client's own SSL_CLIENT_S_DN_CN header can fill when it sends no certificate"},
	}},
}

// request builds the parsed request a case describes.
func (c authCase) request(t *testing.T) *wsframe.Request {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("GET /websockify HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n")
	for _, h := range c.headers {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	req, err := wsframe.ParseRequest(b.Bytes())
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	return &req
}

func TestRequestAuth(t *testing.T) {
	for _, tab := range authTables {
		plugin, err := ParseRequestAuth("websockify.auth_plugins."+tab.plugin, tab.source)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tab.cases {
			t.Run(tab.plugin+"/"+c.name, func(t *testing.T) {
				err := plugin.Authenticate(c.request(t), Peer{ClientCertCN: c.cn})
				got := 0
				var he *wsframe.HTTPError
				if errors.As(err, &he) {
					got = he.Status
				} else if err != nil {
					t.Fatalf("not an HTTP refusal: %v", err)
				}
				if got != c.want {
					t.Fatalf("status %d, want %d", got, c.want)
				}
				if got == 401 && he.Header != `WWW-Authenticate: Basic realm="Websockify"` {
					t.Fatalf("401 without websockify's challenge: %q", he.Header)
				}
				if he != nil && bytes.Contains([]byte(he.Reason), []byte("s3cret")) {
					t.Fatal("a refusal names the password")
				}
			})
		}
	}
}

func TestParseRequestAuthErrors(t *testing.T) {
	for _, tt := range []struct{ class, source string }{
		{"NoSuchPlugin", ""},
		{"mymodule.BasicHTTPAuth", "a:b"},
		{"BasicHTTPAuth", "no-colon"},
	} {
		if _, err := ParseRequestAuth(tt.class, tt.source); err == nil {
			t.Errorf("%s %q: no error", tt.class, tt.source)
		}
	}
}

// TestRequestAuthWebsockify answers the same requests with websockify's own
// auth plugins (Debian python3-websockify) and compares, except where a
// case says why vncrelay deliberately differs.
func TestRequestAuthWebsockify(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import websockify.auth_plugins").Run(); err != nil {
		t.Fatalf("websockify's auth plugins not importable (%v): install Debian's python3-websockify (make e2e-deps)", err)
	}
	for _, tab := range authTables {
		type pyCase struct {
			Headers [][2]string `json:"headers"`
			CN      string      `json:"cn"`
		}
		var cases []pyCase
		for _, c := range tab.cases {
			h := c.headers
			if h == nil {
				h = [][2]string{}
			}
			cases = append(cases, pyCase{h, c.cn})
		}
		in, _ := json.Marshal(map[string]any{"plugin": tab.plugin, "source": tab.source, "cases": cases})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, py, "testdata/anchors/websockify_auth.py")
		cmd.Stdin = bytes.NewReader(in)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("websockify_auth.py: %v", err)
		}
		var got []struct {
			Code int    `json:"code"`
			WWW  string `json:"www"`
		}
		if err := json.Unmarshal(out, &got); err != nil || len(got) != len(tab.cases) {
			t.Fatalf("websockify_auth.py output %q: %v", out, err)
		}
		for i, c := range tab.cases {
			t.Run(tab.plugin+"/"+c.name, func(t *testing.T) {
				if c.differs != "" {
					if got[i].Code == c.want {
						t.Fatalf("documented difference is gone: websockify also answers %d (%s)", c.want, c.differs)
					}
					t.Logf("differs on purpose: %s", c.differs)
					return
				}
				if got[i].Code != c.want {
					t.Fatalf("websockify answers %d (%s), vncrelay %d", got[i].Code, got[i].WWW, c.want)
				}
				if c.want == 401 && got[i].WWW != `Basic realm="Websockify"` {
					t.Fatalf("websockify's challenge is %q", got[i].WWW)
				}
			})
		}
	}
}

// FuzzBasicCredentials: any header value either decodes to credentials
// holding a ':' or is refused; nothing panics.
func FuzzBasicCredentials(f *testing.F) {
	for _, s := range []string{basic("a:b"), "Basic ", "basic    YTpi", "Bearer x", "Basic %%", "Basic YQ=="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		creds, err := BasicCredentials(h)
		if err == nil && bytes.IndexByte(creds, ':') < 0 {
			t.Fatalf("credentials without a colon: %q", creds)
		}
	})
}
