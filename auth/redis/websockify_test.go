package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// redisCases are values stored under tokens and read by both websockify's
// TokenRedis and vncrelay. old and newer say why websockify 0.10 (Debian)
// and 0.12+ answer otherwise than vncrelay; "" when they agree.
var redisCases = []struct{ name, token, value, old, newer string }{
	{"JSON", "vm-json", `{"host": "10.0.0.1:5901"}`, "", ""},
	{"JSON padded", "vm-pad", " {\"host\":\"10.0.0.2:5902\"}\n", "", ""},
	{"JSON unix socket", "vm-unix", `{"host": "unix_socket:/run/vm.sock"}`, "", ""},
	{"plain", "vm-plain", "10.0.0.3:5903", "0.10 reads only JSON values; the plain form is 0.12's", ""},
	{"missing", "vm-none", "", "", ""},
	{"JSON no host", "vm-nohost", `{"port": 5900}`, "", ""},
	{"JSON three parts", "vm-three", `{"host": "h:1:2"}`, "", ""},
	{"port out of range", "vm-bigport", `{"host": "10.0.0.4:70000"}`,
		"websockify returns port 70000 and getaddrinfo wraps it; refused here", "websockify returns port 70000 and getaddrinfo wraps it; refused here"},
	{"port not a number", "vm-named", "10.0.0.5:vnc",
		"", "websockify returns service name \"vnc\" for getaddrinfo; refused here"},
	{"empty host", "vm-nohostname", `{"host": ":5900"}`,
		"websockify returns an empty host (its own loopback); refused here", "websockify returns an empty host (its own loopback); refused here"},
	{"space in plain", "vm-space", "h x:1", "", ""},
	{"token with a colon", "a:b", `{"host": "10.0.0.6:5906"}`, "", ""},
}

// TestStoreWebsockify stores the cases in a private Redis and resolves
// them with websockify's TokenRedis (Debian's 0.10, with its "host:port"
// source; and a newer release given by VNCRELAY_WEBSOCKIFY_PLUGINS, with db,
// password and a quoted namespace) and with a Store on the same source.
func TestStoreWebsockify(t *testing.T) {
	srv := startRedis(t, "requirepass pw")
	for _, v := range []struct{ name, module string }{{"debian", ""}, {"newer", testutil.NewerWebsockify()}} {
		t.Run(v.name, func(t *testing.T) {
			if v.name == "newer" && v.module == "" {
				t.Skip("VNCRELAY_WEBSOCKIFY_PLUGINS not set")
			}
			source, db, prefix := fmt.Sprintf("127.0.0.1:%d", srv.port), 0, ""
			if v.name == "newer" {
				source, db, prefix = fmt.Sprintf(`127.0.0.1:%d:2:pw:"app:ns"`, srv.port), 2, "app:ns:"
			}
			kv := map[string]string{}
			tokens := make([]string, len(redisCases))
			for i, c := range redisCases {
				tokens[i] = c.token
				if c.value != "" {
					kv[prefix+c.token] = c.value
				}
			}
			srv.set(t, db, "pw", kv)
			if v.name == "debian" { // 0.10 sends no password
				srv.configSet(t, "pw", "requirepass", "")
				defer srv.configSet(t, "", "requirepass", "pw")
			}
			_, initErr, res := testutil.RunWebsockifyPlugin(t, v.module, "TokenRedis", source, tokens)
			if initErr != "" {
				t.Fatalf("websockify TokenRedis(%q): %s", source, initErr)
			}
			src, err := ParseSource(source)
			if err != nil {
				t.Fatal(err)
			}
			st := newStore(t, src, Options{})
			for i, c := range redisCases {
				got, err := st.Resolve(ctxFor(t, 5*time.Second), c.token)
				ours := "refused"
				if err == nil {
					ours = got.String()
				}
				differs := c.old
				if v.name == "newer" {
					differs = c.newer
				}
				testutil.CompareWebsockify(t, c.name, ours, res[i], differs)
			}
		})
	}
}
