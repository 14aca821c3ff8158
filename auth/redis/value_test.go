package redis

import (
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

func TestParseValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"JSON", `{"host": "10.0.0.1:5901"}`, "10.0.0.1:5901"},
		{"JSON with spaces around", " \n{\"host\":\"vm.example:5900\"}\t", "vm.example:5900"},
		{"JSON with other keys", `{"port": 1, "host": "h:5900"}`, "h:5900"},
		{"JSON unix socket", `{"host": "unix_socket:/run/vm.sock"}`, "unix:/run/vm.sock"},
		{"JSON duplicate host, last wins", `{"host": "a:1", "host": "b:2"}`, "b:2"},
		{"plain", "10.0.0.2:5902", "10.0.0.2:5902"},
		{"plain with newline", "10.0.0.2:5902\r\n", "10.0.0.2:5902"},
		{"plain unix socket", "unix_socket:/run/vm.sock", "unix:/run/vm.sock"},
		{"JSON no host", `{"hots": "h:1"}`, ""},
		{"JSON host not a string", `{"host": 5900}`, ""},
		{"JSON broken", `{"host": "h:1"`, ""},
		{"JSON host without port", `{"host": "h"}`, ""},
		{"JSON IPv6", `{"host": "::1:5900"}`, ""},
		{"plain IPv6", "::1:5900", ""},
		{"plain three parts", "h:1:2", ""},
		{"plain space before colon", "h x:1", ""},
		{"plain space after colon", "h: 1", ""},
		{"plain no port", "h:", ""},
		{"plain no host", ":5900", ""},
		{"port out of range", "h:70000", ""},
		{"port not a number", "h:vnc", ""},
		{"empty", "", ""},
		{"not UTF-8", "h\xff:1", ""},
		{"JSON array", `["h:1"]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseValue([]byte(tt.in))
			testutil.WantTarget(t, got, err, tt.want)
		})
	}
}

// FuzzParseValue checks that any value either gives a dialable target or
// an error that does not quote it.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{`{"host": "h:1"}`, "h:1", "unix_socket:/s", `{"host": 1}`, "{", " : ", "\x00:1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		tg, err := ParseValue(v)
		if err != nil {
			return
		}
		if tg.Network != "tcp" && tg.Network != "unix" || tg.Address == "" {
			t.Fatalf("target %+v", tg)
		}
	})
}
