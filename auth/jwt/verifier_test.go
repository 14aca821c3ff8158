package jwt

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/vncrelay/vncrelay/auth"
)

// jwtCase is a token and what vncrelay answers with the key file: a target,
// or "unknown". differs says why websockify (Debian's 0.10) answers
// otherwise.
type jwtCase struct {
	name, keyFile, token, want, differs string
}

func jwtCases(t testing.TB, is *issuer) []jwtCase {
	now := time.Now()
	vm := gojwt.MapClaims{"host": "10.0.0.1", "port": 5901}
	with := func(extra gojwt.MapClaims) gojwt.MapClaims {
		c := gojwt.MapClaims{"host": "10.0.0.1", "port": 5901}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	return append([]jwtCase{
		{"RS256", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, vm), "10.0.0.1:5901", ""},
		{"PS384", "rsa.pem", sign(t, gojwt.SigningMethodPS384, is.rsa, vm), "10.0.0.1:5901", ""},
		{"RS256, private key file", "rsa-private.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, vm), "10.0.0.1:5901", ""},
		{"ES256", "ec256.pem", sign(t, gojwt.SigningMethodES256, is.ec256, vm), "10.0.0.1:5901", ""},
		{"EdDSA", "ed.pem", sign(t, gojwt.SigningMethodEdDSA, is.ed, vm), "10.0.0.1:5901", ""},
		{"HS256", "hmac.key", sign(t, gojwt.SigningMethodHS256, is.hmac, vm), "10.0.0.1:5901", ""},
		{"HS512", "hmac.key", sign(t, gojwt.SigningMethodHS512, is.hmac, vm), "10.0.0.1:5901", ""},
		{"HMAC key file ending in a newline", "hmac-newline.key", sign(t, gojwt.SigningMethodHS256, is.hmac, vm), "10.0.0.1:5901",
			"jwcrypto refuses a \"k\" ending in a newline, so websockify fails every lookup"},
		{"string port, unix socket", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa,
			gojwt.MapClaims{"host": "unix_socket", "port": "/run/vm.sock"}), "unix:/run/vm.sock", ""},
		{"valid window", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa,
			with(gojwt.MapClaims{"nbf": now.Add(-time.Hour).Unix(), "exp": now.Add(time.Hour).Unix()})), "10.0.0.1:5901", ""},
		{"expired", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, with(gojwt.MapClaims{"exp": now.Add(-time.Hour).Unix()})), "unknown", ""},
		{"not yet valid", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, with(gojwt.MapClaims{"nbf": now.Add(time.Hour).Unix()})), "unknown", ""},
		{"exp not a number", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, with(gojwt.MapClaims{"exp": "tomorrow"})), "unknown", ""},
		{"wrong key", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.other, vm), "unknown", ""},
		{"alg none", "rsa.pem", unsigned(t, vm), "unknown", ""},
		{"alg none, HMAC key", "hmac.key", unsigned(t, vm), "unknown", ""},
		{"HS256 keyed with the RSA public key", "rsa.pem", sign(t, gojwt.SigningMethodHS256, is.rsaPEM, vm), "unknown", ""},
		{"ES384 with a P-256 key file", "ec256.pem", sign(t, gojwt.SigningMethodES384, is.ec384, vm), "unknown", ""},
		{"RS256 with an HMAC key file", "hmac.key", sign(t, gojwt.SigningMethodRS256, is.rsa, vm), "unknown", ""},
		{"tampered claims", "rsa.pem", tamper(sign(t, gojwt.SigningMethodRS256, is.rsa, vm)), "unknown", ""},
		{"no port", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, gojwt.MapClaims{"host": "h"}), "unknown", ""},
		{"port out of range", "rsa.pem", sign(t, gojwt.SigningMethodRS256, is.rsa, gojwt.MapClaims{"host": "h", "port": 70000}), "unknown",
			"websockify returns port 70000 and getaddrinfo wraps it"},
		{"not a JWT", "rsa.pem", "vm1", "unknown", ""},
		{"five segments (JWE)", "rsa.pem", "a.b.c.d.e", "unknown", ""},
		{"empty", "rsa.pem", "", "unknown", ""},
	}, jweCases(t, is)...)
}

// tamper swaps the claims segment for one naming another console.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = "eyJob3N0IjoiMTAuNi42LjYiLCJwb3J0IjoyMn0" // {"host":"10.6.6.6","port":22}
	return strings.Join(parts, ".")
}

func TestVerifier(t *testing.T) {
	is := newIssuer(t)
	verifiers := is.verifiers(t)
	for _, tc := range jwtCases(t, is) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verifiers[tc.keyFile].Resolve(context.Background(), tc.token)
			if tc.want == "unknown" {
				if !errors.Is(err, auth.ErrUnknownToken) {
					t.Fatalf("got %v, %v; want unknown", got, err)
				}
				if tc.token != "" && strings.Contains(err.Error(), tc.token) {
					t.Fatal("error holds the token")
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestVerifierSkewAndExpiry(t *testing.T) {
	is := newIssuer(t)
	now := time.Unix(1_800_000_000, 0)
	v, err := New(is.files["hmac.key"], Options{now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		claims gojwt.MapClaims
		ok     bool
	}{
		{"expired within the leeway", gojwt.MapClaims{"exp": now.Add(-3 * time.Second).Unix()}, true},
		{"expired past the leeway", gojwt.MapClaims{"exp": now.Add(-6 * time.Second).Unix()}, false},
		{"nbf within the leeway", gojwt.MapClaims{"nbf": now.Add(3 * time.Second).Unix()}, true},
		{"nbf past the leeway", gojwt.MapClaims{"nbf": now.Add(6 * time.Second).Unix()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.claims["host"], tc.claims["port"] = "h", 1
			got, err := v.Resolve(context.Background(), sign(t, gojwt.SigningMethodHS256, is.hmac, tc.claims))
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, %v; want ok=%v", got, err, tc.ok)
			}
		})
	}
	exp := now.Add(time.Hour)
	got, err := v.Resolve(context.Background(), sign(t, gojwt.SigningMethodHS256, is.hmac, gojwt.MapClaims{"host": "h", "port": 1, "exp": exp.Unix()}))
	if err != nil || !got.Expires.Equal(exp.Add(DefaultLeeway)) {
		t.Fatalf("Expires %v, %v; want exp plus the leeway", got.Expires, err)
	}
}

// TestVerifierKeyRotation: replacing the key file takes effect at the next
// lookup; a file that no longer holds a key fails lookups as a store error.
func TestVerifierKeyRotation(t *testing.T) {
	is := newIssuer(t)
	p := is.files["rsa.pem"]
	v, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	claims := gojwt.MapClaims{"host": "h", "port": 1}
	old := sign(t, gojwt.SigningMethodRS256, is.rsa, claims)
	if _, err := v.Resolve(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	ec, err := os.ReadFile(is.files["ec256.pem"])
	if err != nil {
		t.Fatal(err)
	}
	replace := func(data []byte) {
		tmp := p + ".new"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	replace(ec)
	if _, err := v.Resolve(context.Background(), old); !errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("old key's token after rotation: %v", err)
	}
	if _, err := v.Resolve(context.Background(), sign(t, gojwt.SigningMethodES256, is.ec256, claims)); err != nil {
		t.Fatalf("new key's token: %v", err)
	}
	replace([]byte("-----BEGIN NONSENSE-----\nAAAA\n-----END NONSENSE-----\n"))
	if _, err := v.Resolve(context.Background(), old); err == nil || errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("broken key file: %v, want a store error", err)
	}
}

func TestParseKeyRefusals(t *testing.T) {
	for name, data := range map[string]string{
		"empty":          "",
		"spaces":         " \n",
		"not base64url":  "not a key!",
		"standard b64":   "ab+/cd",
		"PEM of a CSR":   "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
		"broken PEM key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	} {
		if _, err := ParseKey([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseKey checks that any key file gives a key with pinned
// algorithms, or an error.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"c2VjcmV0", "c2VjcmV0\n", "", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "===", "a"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err != nil {
			return
		}
		if len(k.methods) == 0 || k.verify == nil {
			t.Fatalf("key %+v", k)
		}
		for _, m := range k.methods {
			if m == "none" {
				t.Fatal("none accepted")
			}
		}
	})
}
