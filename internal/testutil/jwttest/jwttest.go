package jwttest

import (
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	gojwt "github.com/golang-jwt/jwt/v5"
)

// Sign makes a JWS compact token (RFC 7515 section 7.1) of claims, signed
// with method and key (bytes for HMAC, a private key otherwise;
// gojwt.UnsafeAllowNoneSignatureType for "none"). An error fails the test.
func Sign(t testing.TB, method gojwt.SigningMethod, key any, claims gojwt.MapClaims) string {
	t.Helper()
	s, err := gojwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Encrypt makes a JWE compact token (RFC 7516 section 7.1) of plaintext
// for key (a public key, or bytes for the symmetric algorithms) with key
// algorithm alg and content encryption enc, its header's "cty" "JWT" (a
// nested JWT, RFC 7519 section 5.2). An error fails the test.
func Encrypt(t testing.TB, alg jose.KeyAlgorithm, enc jose.ContentEncryption, key any, plaintext string) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: key}, (&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Encrypt([]byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
