package tokenapi

import (
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

func TestParseTextAnswer(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"host and port", "10.0.0.1:5901", "10.0.0.1:5901"},
		{"trailing newline", "10.0.0.1:5901\n", "10.0.0.1:5901"},
		{"unix socket", "unix_socket:/run/vm.sock", "unix:/run/vm.sock"},
		{"IPv6", "::1:5901", ""},
		{"no port", "vm", ""},
		{"empty", "", ""},
		{"port out of range", "h:0", ""},
		{"JSON", `{"host": "h", "port": 1}`, ""},
		{"not UTF-8", "h\xff:1", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTextAnswer([]byte(tt.in))
			testutil.WantTarget(t, got, err, tt.want)
		})
	}
}

func TestParseJSONAnswer(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"integer port", `{"host": "10.0.0.1", "port": 5901}`, "10.0.0.1:5901"},
		{"string port", `{"host": "vm.example", "port": "5902"}`, "vm.example:5902"},
		{"IPv6 host", `{"host": "::1", "port": 5903}`, "[::1]:5903"},
		{"unix socket", `{"host": "unix_socket", "port": "/run/a:b.sock"}`, "unix:/run/a:b.sock"},
		{"extra members", `{"host": "h", "port": 1, "expires": 0}`, "h:1"},
		{"duplicate, last wins", `{"host": "a", "host": "b", "port": 2}`, "b:2"},
		{"no port", `{"host": "h"}`, ""},
		{"null port", `{"host": "h", "port": null}`, ""},
		{"float port", `{"host": "h", "port": 5900.5}`, ""},
		{"negative port", `{"host": "h", "port": -1}`, ""},
		{"big port", `{"host": "h", "port": 65536}`, ""},
		{"host not a string", `{"host": 1, "port": 2}`, ""},
		{"no host", `{"port": 2}`, ""},
		{"array", `["h", 1]`, ""},
		{"broken", `{"host": "h", "port": 1`, ""},
		{"null", `null`, ""},
		{"port holds a colon", `{"host": "h", "port": "1:2"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSONAnswer([]byte(tt.in))
			testutil.WantTarget(t, got, err, tt.want)
		})
	}
}

// FuzzParseAnswer checks that both answer parsers give a dialable target
// or an error, never a panic.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{"h:1", `{"host":"h","port":1}`, `{"host":"unix_socket","port":"/s"}`, "{", ":", `{"port":"1e3"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func([]byte) (tg struct{ n, a string }, ok bool){
			func(b []byte) (struct{ n, a string }, bool) {
				tg, err := ParseTextAnswer(b)
				return struct{ n, a string }{tg.Network, tg.Address}, err == nil
			},
			func(b []byte) (struct{ n, a string }, bool) {
				tg, err := ParseJSONAnswer(b)
				return struct{ n, a string }{tg.Network, tg.Address}, err == nil
			},
		} {
			if tg, ok := parse(body); ok && (tg.n != "tcp" && tg.n != "unix" || tg.a == "") {
				t.Fatalf("target %+v", tg)
			}
		}
	})
}
