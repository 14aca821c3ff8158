package jwt

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/vncrelay/vncrelay/internal/testutil/jwttest"
)

// encrypt makes a JWE compact token of plaintext for key, as an issuer
// using go-jose would (jwttest.Encrypt).
var encrypt = jwttest.Encrypt

// tamperCiphertext flips one bit of a JWE's ciphertext segment.
func tamperCiphertext(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	ct, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(ct) == 0 {
		t.Fatalf("ciphertext segment: %v", err)
	}
	ct[len(ct)/2] ^= 1
	parts[3] = base64.RawURLEncoding.EncodeToString(ct)
	return strings.Join(parts, ".")
}

// jweCases are encrypted tokens: the plaintext is a JWS signed with the same
// key file's key, as websockify reads it.
func jweCases(t testing.TB, is *issuer) []jwtCase {
	now := time.Now()
	vm := gojwt.MapClaims{"host": "10.0.0.2", "port": 5902}
	rs := sign(t, gojwt.SigningMethodRS256, is.rsa, vm)
	hs := sign(t, gojwt.SigningMethodHS256, is.hmac, vm)
	es := sign(t, gojwt.SigningMethodES256, is.ec256, vm)
	expired := sign(t, gojwt.SigningMethodRS256, is.rsa, gojwt.MapClaims{"host": "10.0.0.2", "port": 5902, "exp": now.Add(-time.Hour).Unix()})
	pub := &is.rsa.PublicKey
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","enc":"A256GCM"}`))
	segs := strings.Split(encrypt(t, jose.RSA_OAEP, jose.A256GCM, pub, rs), ".")
	algNone := strings.Join(append([]string{noneHeader}, segs[1:]...), ".")
	return []jwtCase{
		{"JWE RSA-OAEP A256GCM", "rsa-private.pem", encrypt(t, jose.RSA_OAEP, jose.A256GCM, pub, rs), "10.0.0.2:5902", ""},
		{"JWE RSA-OAEP-256 A256GCM", "rsa-private.pem", encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, rs), "10.0.0.2:5902", ""},
		{"JWE RSA-OAEP-256 A128CBC-HS256", "rsa-private.pem", encrypt(t, jose.RSA_OAEP_256, jose.A128CBC_HS256, pub, rs), "10.0.0.2:5902", ""},
		{"JWE RSA-OAEP A256CBC-HS512", "rsa-private.pem", encrypt(t, jose.RSA_OAEP, jose.A256CBC_HS512, pub, rs), "10.0.0.2:5902", ""},
		{"JWE ECDH-ES A256GCM", "ec256-private.pem", encrypt(t, jose.ECDH_ES, jose.A256GCM, &is.ec256.PublicKey, es), "10.0.0.2:5902", ""},
		{"JWE ECDH-ES+A128KW A128GCM", "ec256-private.pem", encrypt(t, jose.ECDH_ES_A128KW, jose.A128GCM, &is.ec256.PublicKey, es), "10.0.0.2:5902", ""},
		{"JWE dir A256GCM, HMAC key", "hmac.key", encrypt(t, jose.DIRECT, jose.A256GCM, is.hmac, hs), "10.0.0.2:5902", ""},
		{"JWE A256KW A256GCM, HMAC key", "hmac.key", encrypt(t, jose.A256KW, jose.A256GCM, is.hmac, hs), "10.0.0.2:5902", ""},
		{"JWE A256GCMKW A192GCM, HMAC key", "hmac.key", encrypt(t, jose.A256GCMKW, jose.A192GCM, is.hmac, hs), "10.0.0.2:5902", ""},
		{"JWE expired", "rsa-private.pem", encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, expired), "unknown", ""},
		{"JWE encrypted to another key", "rsa-private.pem", encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, &is.other.PublicKey, rs), "unknown", ""},
		{"JWE inner JWS signed by another key", "rsa-private.pem",
			encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, sign(t, gojwt.SigningMethodRS256, is.other, vm)), "unknown", ""},
		{"JWE tampered ciphertext", "rsa-private.pem", tamperCiphertext(t, encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, rs)), "unknown", ""},
		{"JWE alg none", "rsa-private.pem", algNone, "unknown", ""},
		{"JWE inner alg none", "rsa-private.pem", encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, unsigned(t, vm)), "unknown", ""},
		{"JWE of the claims JSON (no inner JWS)", "rsa-private.pem",
			encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, `{"host":"10.0.0.2","port":5902}`), "unknown", ""},
		{"JWE RSA1_5 (not in jwcrypto's defaults)", "rsa-private.pem", encrypt(t, jose.RSA1_5, jose.A256GCM, pub, rs), "unknown", ""},
		{"JWE to a public key file", "rsa.pem", encrypt(t, jose.RSA_OAEP_256, jose.A256GCM, pub, rs), "unknown", ""},
		{"JWE A256KW keyed with the RSA key file's bytes", "rsa-private.pem",
			encrypt(t, jose.A256KW, jose.A256GCM, is.rsaPEM[:32], rs), "unknown", ""},
		{"JWE A128KW with a 32-byte HMAC key", "hmac.key", encrypt(t, jose.A128KW, jose.A256GCM, is.hmac[:16], hs), "unknown", ""},
		{"JWE PBES2 with the HMAC key as password", "hmac.key", encrypt(t, jose.PBES2_HS256_A128KW, jose.A128GCM, is.hmac, hs), "unknown",
			"websockify (jwcrypto) takes PBES2; vncrelay refuses it: the token would choose the PBKDF2 rounds each lookup costs"},
	}
}

// FuzzDecryptJWE: any five-segment token is decrypted to a JWS or refused,
// never a panic, with every key kind.
func FuzzDecryptJWE(f *testing.F) {
	is := newIssuer(f)
	keys := make([]Key, 0, 3)
	for _, name := range []string{"rsa-private.pem", "ec256-private.pem", "hmac.key"} {
		v, err := New(is.files[name], Options{})
		if err != nil {
			f.Fatal(err)
		}
		k, _ := v.currentKey()
		keys = append(keys, k)
	}
	for _, c := range jweCases(f, is) {
		f.Add(c.token)
	}
	f.Add("a.b.c.d.e")
	f.Add("....")
	f.Fuzz(func(t *testing.T, tok string) {
		for _, k := range keys {
			inner, err := decryptJWE(k, tok)
			if err == nil && strings.Count(inner, ".") != 2 {
				t.Fatalf("plaintext %q is not a JWS", inner)
			}
		}
	})
}
