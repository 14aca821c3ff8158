package auth

import (
	"errors"
	"testing"
)

func TestOriginPolicy(t *testing.T) {
	p := &OriginPolicy{Allowed: []string{"console.example.com"}}
	tests := []struct {
		origin, host string
		ok           bool
	}{
		{"", "relay:6080", true},
		{"http://relay:6080", "relay:6080", true},
		{"https://RELAY", "relay:6080", true},
		{"https://console.example.com", "relay:6080", true},
		{"https://evil.example", "relay:6080", false},
		{"file://relay", "relay:6080", false},
		{"null", "relay:6080", false},
		{"http://[::1]:6080", "[::1]:6080", true},
	}
	for _, tt := range tests {
		err := p.Check([]byte(tt.origin), []byte(tt.host))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrOrigin)) {
			t.Errorf("Check(%q, %q) = %v, want ok=%v", tt.origin, tt.host, err, tt.ok)
		}
	}
	var none *OriginPolicy
	if none.Check([]byte("https://evil.example"), []byte("relay")) != nil {
		t.Error("a nil policy refused")
	}
}
