package tlsconf

import (
	"crypto/tls"
	"slices"
	"testing"
)

// FuzzCiphers: any --ssl-ciphers string is parsed without panic, and what
// is accepted is only suites Go offers and holds secure, each once.
func FuzzCiphers(f *testing.F) {
	for _, s := range []string{"", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305", "HIGH:!aNULL",
		"TLS_AES_128_GCM_SHA256", "a,b c\td", "::,,", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ECDHE-RSA-AES128-GCM-SHA256"} {
		f.Add(s)
	}
	secure := map[uint16]bool{}
	for _, cs := range tls.CipherSuites() {
		secure[cs.ID] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := Ciphers(s)
		if err != nil {
			return
		}
		for i, id := range ids {
			if !secure[id] || slices.Contains(ids[:i], id) {
				t.Fatalf("Ciphers(%q) = %v", s, ids)
			}
		}
	})
}
