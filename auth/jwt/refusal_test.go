package jwt

import (
	"context"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/auth"
)

// refusalReasons is the reason each refused case of jwtCases (and
// jweCases) must give, by case name.
var refusalReasons = map[string]string{
	"expired":                             "expired",
	"not yet valid":                       "not yet valid",
	"exp not a number":                    "claims invalid",
	"wrong key":                           "signature invalid",
	"alg none":                            "algorithm not allowed",
	"alg none, HMAC key":                  "algorithm not allowed",
	"HS256 keyed with the RSA public key": "algorithm not allowed",
	"ES384 with a P-256 key file":         "algorithm not allowed",
	"RS256 with an HMAC key file":         "algorithm not allowed",
	"tampered claims":                     "signature invalid",
	"no port":                             "no console in claims",
	"port out of range":                   "no console in claims",
	"not a JWT":                           "malformed",
	"five segments (JWE)":                 "encrypted, and the key file holds no private or symmetric key to decrypt with",
	"empty":                               "malformed",

	"JWE expired":                                    "expired",
	"JWE encrypted to another key":                   "cannot decrypt (wrong key or tampered)",
	"JWE inner JWS signed by another key":            "signature invalid",
	"JWE tampered ciphertext":                        "cannot decrypt (wrong key or tampered)",
	"JWE alg none":                                   "algorithm not allowed",
	"JWE inner alg none":                             "algorithm not allowed",
	"JWE of the claims JSON (no inner JWS)":          "encrypted plaintext is not a signed JWT",
	"JWE RSA1_5 (not in jwcrypto's defaults)":        "algorithm not allowed",
	"JWE to a public key file":                       "encrypted, and the key file holds no private or symmetric key to decrypt with",
	"JWE A256KW keyed with the RSA key file's bytes": "algorithm not allowed",
	"JWE A128KW with a 32-byte HMAC key":             "cannot decrypt (wrong key or tampered)",
	"JWE PBES2 with the HMAC key as password":        "PBES2 not accepted",
}

// TestRefusalReasons: every refused token gives its fixed reason, as an
// auth.RefusedError, and neither the reason nor the error's text holds the
// token or a claim's value.
func TestRefusalReasons(t *testing.T) {
	is := newIssuer(t)
	verifiers := is.verifiers(t)
	seen := 0
	for _, tc := range jwtCases(t, is) {
		if tc.want != "unknown" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			want, ok := refusalReasons[tc.name]
			if !ok {
				t.Fatal("no reason listed for this case")
			}
			seen++
			_, err := verifiers[tc.keyFile].Resolve(context.Background(), tc.token)
			if got := auth.RefusalReason(err); got != want {
				t.Fatalf("reason %q (%v), want %q", got, err, want)
			}
			for _, leak := range []string{"10.0.0.1", "10.0.0.2", "10.6.6.6", "70000", "tomorrow"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error %q holds the claim value %q", err, leak)
				}
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("error holds the token")
			}
		})
	}
	if seen != len(refusalReasons) {
		t.Errorf("%d refused cases ran, %d reasons listed", seen, len(refusalReasons))
	}
}
