package jwt

import (
	"context"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	gojwt "github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerifierLookup reports the p50 and p99 of one lookup (a stat of
// the key file, signature and claims checks), in microseconds, per
// algorithm (JWE: decryption and the inner token's checks). There is no cache: every lookup verifies.
func BenchmarkVerifierLookup(b *testing.B) {
	is := newIssuer(b)
	claims := gojwt.MapClaims{"host": "10.0.0.1", "port": 5901, "exp": time.Now().Add(time.Hour).Unix()}
	for _, c := range []struct {
		name, file string
		method     gojwt.SigningMethod
		key        any
		wrap       func(string) string // JWE around the signed token, or nil
	}{
		{"HS256", "hmac.key", gojwt.SigningMethodHS256, is.hmac, nil},
		{"RS256", "rsa.pem", gojwt.SigningMethodRS256, is.rsa, nil},
		{"ES256", "ec256.pem", gojwt.SigningMethodES256, is.ec256, nil},
		{"EdDSA", "ed.pem", gojwt.SigningMethodEdDSA, is.ed, nil},
		{"JWE-RSA-OAEP-256-A256GCM+RS256", "rsa-private.pem", gojwt.SigningMethodRS256, is.rsa, func(s string) string {
			return encrypt(b, jose.RSA_OAEP_256, jose.A256GCM, &is.rsa.PublicKey, s)
		}},
		{"JWE-dir-A256GCM+HS256", "hmac.key", gojwt.SigningMethodHS256, is.hmac, func(s string) string {
			return encrypt(b, jose.DIRECT, jose.A256GCM, is.hmac, s)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			v, err := New(is.files[c.file], Options{})
			if err != nil {
				b.Fatal(err)
			}
			tok := sign(b, c.method, c.key, claims)
			if c.wrap != nil {
				tok = c.wrap(tok)
			}
			took := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				if _, err := v.Resolve(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}
