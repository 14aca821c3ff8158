package auth

import (
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

func TestParseHostAndPort(t *testing.T) {
	tests := []struct{ name, host, port, want string }{
		{"name", "vm.example", "5900", "vm.example:5900"},
		{"IPv4", "10.0.0.1", "5901", "10.0.0.1:5901"},
		{"IPv6", "::1", "5901", "[::1]:5901"},
		{"unix socket with a colon", "unix_socket", "/run/a:b.sock", "unix:/run/a:b.sock"},
		{"port with a colon", "h", "1:2", ""},
		{"port out of range", "h", "0", ""},
		{"empty host", "", "5900", ""},
		{"abstract socket", "unix_socket", "@x", ""},
		{"IPv4 shorthand", "127.1", "5900", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHostAndPort(tt.host, tt.port)
			testutil.WantTarget(t, got, err, tt.want)
		})
	}
}
