package tokenapi

import (
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// apiCases are answers of the test's token API and tokens looked up by both
// websockify's plugin and vncrelay; differs says why websockify answers
// otherwise (the same for 0.10 to 0.13: the plugins did not change).
var apiCases = []struct {
	name    string
	format  Format
	token   string
	answer  apiAnswer // zero: not served (404)
	differs string
}{
	{"text", Text, "vm1", apiAnswer{200, "10.0.0.1:5901", 0}, ""},
	{"text with newline", Text, "vm-nl", apiAnswer{200, "10.0.0.2:5902\n", 0},
		"websockify keeps the newline in the port and getaddrinfo fails; vncrelay strips it"},
	{"text unix socket", Text, "vm-unix", apiAnswer{200, "unix_socket:/run/vm.sock", 0}, ""},
	{"text 404", Text, "vm-none", apiAnswer{}, ""},
	{"text 500", Text, "vm-500", apiAnswer{500, "10.0.0.1:5901", 0}, ""},
	{"text junk", Text, "vm-junk", apiAnswer{200, "<html>", 0}, ""},
	{"text three parts", Text, "vm-three", apiAnswer{200, "h:1:2", 0}, ""},
	{"text service name", Text, "vm-named", apiAnswer{200, "h:vnc", 0},
		"websockify passes service name \"vnc\" to getaddrinfo; vncrelay wants a number"},
	{"path injection", Text, "../admin/x", apiAnswer{},
		"websockify puts the token in the URL unescaped: \"../admin/x\" requests /admin/x"},
	{"query injection", Text, "vm1?x=1", apiAnswer{},
		"websockify puts the token in the URL unescaped: \"vm1?x=1\" requests vm1's target"},
	{"fragment injection", Text, "vm1#x", apiAnswer{},
		"websockify puts the token in the URL unescaped: \"vm1#x\" requests vm1's target"},
	{"space in the token", Text, "a b", apiAnswer{}, ""},
	{"JSON", JSON, "vm1", apiAnswer{200, `{"host": "10.0.0.1", "port": 5901}`, 0}, ""},
	{"JSON string port", JSON, "vm-str", apiAnswer{200, `{"host": "10.0.0.3", "port": "5903"}`, 0}, ""},
	{"JSON IPv6", JSON, "vm-v6", apiAnswer{200, `{"host": "::1", "port": 5904}`, 0}, ""},
	{"JSON unix socket", JSON, "vm-unix", apiAnswer{200, `{"host": "unix_socket", "port": "/run/vm.sock"}`, 0}, ""},
	{"JSON broken", JSON, "vm-broken", apiAnswer{200, `{"host": `, 0}, ""},
	{"JSON no port", JSON, "vm-noport", apiAnswer{200, `{"host": "h"}`, 0}, ""},
	{"JSON port out of range", JSON, "vm-bigport", apiAnswer{200, `{"host": "h", "port": 70000}`, 0},
		"websockify returns port 70000 and getaddrinfo wraps it; refused here"},
	{"JSON 404", JSON, "vm-none", apiAnswer{}, ""},
}

// TestAPIWebsockify serves the cases and resolves them with websockify's
// BaseTokenAPI and JSONTokenApi (Debian's 0.10, and a newer release given by
// VNCRELAY_WEBSOCKIFY_PLUGINS) and with an API on the same source.
func TestAPIWebsockify(t *testing.T) {
	srv := newTokenServer(t)
	for _, c := range apiCases {
		if c.answer.status != 0 {
			m := srv.text
			if c.format == JSON {
				m = srv.json
			}
			m[c.token] = c.answer
		}
	}
	srv.text["vm1"] = apiAnswer{200, "10.0.0.1:5901", 0}
	for _, v := range []struct{ name, module string }{{"debian", ""}, {"newer", testutil.NewerWebsockify()}} {
		t.Run(v.name, func(t *testing.T) {
			if v.name == "newer" && v.module == "" {
				t.Skip("VNCRELAY_WEBSOCKIFY_PLUGINS not set")
			}
			for _, f := range []Format{Text, JSON} {
				path := "/text/%s"
				if f == JSON {
					path = "/json/%s"
				}
				var tokens []string
				var idx []int
				for i, c := range apiCases {
					if c.format == f {
						tokens = append(tokens, c.token)
						idx = append(idx, i)
					}
				}
				_, initErr, res := testutil.RunWebsockifyPlugin(t, v.module, f.String(), srv.URL+path, tokens)
				if initErr != "" {
					t.Fatalf("websockify %s: %s", f, initErr)
				}
				a := newAPI(t, srv.URL+path, f, Options{})
				for j, i := range idx {
					c := apiCases[i]
					got, err := a.Resolve(ctxFor(t, 5*time.Second), c.token)
					ours := "refused"
					if err == nil {
						ours = got.String()
					}
					testutil.CompareWebsockify(t, c.name, ours, res[j], c.differs)
				}
			}
		})
	}
}
