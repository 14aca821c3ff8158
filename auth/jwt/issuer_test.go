package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/vncrelay/vncrelay/internal/testutil/jwttest"
)

// issuer holds the test's signing keys and their key files, written as a
// websockify operator writes them.
type issuer struct {
	rsa    *rsa.PrivateKey
	ec256  *ecdsa.PrivateKey
	ec384  *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
	hmac   []byte
	other  *rsa.PrivateKey // a key nobody trusts
	files  map[string]string
	rsaPEM []byte // the RSA public key file's bytes
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	is := &issuer{files: map[string]string{}}
	var err error
	if is.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if is.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, is.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	is.hmac = []byte("a shared secret of 32 bytes, ok!")
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		is.files[name] = p
	}
	pub := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	is.rsaPEM = pub(&is.rsa.PublicKey)
	write("rsa.pem", is.rsaPEM)
	write("ec256.pem", pub(&is.ec256.PublicKey))
	write("ed.pem", pub(is.ed.Public()))
	der, err := x509.MarshalPKCS8PrivateKey(is.rsa)
	if err != nil {
		t.Fatal(err)
	}
	write("rsa-private.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if der, err = x509.MarshalECPrivateKey(is.ec256); err != nil {
		t.Fatal(err)
	}
	write("ec256-private.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	write("hmac.key", []byte(base64.RawURLEncoding.EncodeToString(is.hmac)))
	write("hmac-newline.key", []byte(base64.RawURLEncoding.EncodeToString(is.hmac)+"\n"))
	return is
}

// verifiers makes a Verifier (default Options) for each of the issuer's
// key files, by file name.
func (is *issuer) verifiers(t testing.TB) map[string]*Verifier {
	t.Helper()
	vs := map[string]*Verifier{}
	for name, p := range is.files {
		v, err := New(p, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		vs[name] = v
	}
	return vs
}

// sign makes a JWS compact token (jwttest.Sign).
var sign = jwttest.Sign

// unsigned makes an "alg": "none" token.
func unsigned(t testing.TB, claims gojwt.MapClaims) string {
	t.Helper()
	return jwttest.Sign(t, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, claims)
}
