package rfb

import "testing"

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Version
		ok   bool
	}{
		{"3.8", "RFB 003.008\n", Version38, true},
		{"3.7", "RFB 003.007\n", Version37, true},
		{"3.3", "RFB 003.003\n", Version33, true},
		{"Apple 3.889", "RFB 003.889\n", Version{3, 889}, true},
		{"RealVNC 5.0", "RFB 005.000\n", Version{5, 0}, true},
		{"largest", "RFB 999.999\n", Version{999, 999}, true},
		{"short", "RFB 003.008", Version{}, false},
		{"long", "RFB 003.008\n\n", Version{}, false},
		{"no newline", "RFB 003.0080", Version{}, false},
		{"lower-case", "rfb 003.008\n", Version{}, false},
		{"comma", "RFB 003,008\n", Version{}, false},
		{"space digit", "RFB 003. 08\n", Version{}, false},
		{"sign", "RFB +03.008\n", Version{}, false},
		{"CRLF", "RFB 003.08\r\n", Version{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseVersion([]byte(tt.in))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseVersion(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	if ProtocolVersion38 != "RFB 003.008\n" || len(ProtocolVersion38) != VersionLen {
		t.Fatal("ProtocolVersion38")
	}
	if v, ok := ParseVersion([]byte(ProtocolVersion38)); !ok || v != Version38 || v.String() != "3.8" {
		t.Fatalf("round trip %v %v", v, ok)
	}
}
