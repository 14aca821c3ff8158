package jwt

import (
	"context"
	"slices"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerifierLookup reports the p50 and p99 of one lookup (a stat of
// the key file, signature and claims checks), in microseconds, per
// algorithm. There is no cache: every lookup verifies.
func BenchmarkVerifierLookup(b *testing.B) {
	is := newIssuer(b)
	claims := gojwt.MapClaims{"host": "10.0.0.1", "port": 5901, "exp": time.Now().Add(time.Hour).Unix()}
	for _, c := range []struct {
		name, file string
		method     gojwt.SigningMethod
		key        any
	}{
		{"HS256", "hmac.key", gojwt.SigningMethodHS256, is.hmac},
		{"RS256", "rsa.pem", gojwt.SigningMethodRS256, is.rsa},
		{"ES256", "ec256.pem", gojwt.SigningMethodES256, is.ec256},
		{"EdDSA", "ed.pem", gojwt.SigningMethodEdDSA, is.ed},
	} {
		b.Run(c.name, func(b *testing.B) {
			v, err := New(is.files[c.file], Options{})
			if err != nil {
				b.Fatal(err)
			}
			tok := sign(b, c.method, c.key, claims)
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
