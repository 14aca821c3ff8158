package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is a verification key and the JWS algorithms it may verify, and,
// when the key file holds a private or symmetric key, the decryption key
// and the JWE key-management algorithms it may decrypt.
type Key struct {
	verify  any      // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
	methods []string // "alg" values accepted

	decrypt any                 // *rsa.PrivateKey, *ecdsa.PrivateKey, []byte (HMAC) or nil
	keyAlgs []jose.KeyAlgorithm // JWE "alg" values accepted; empty when decrypt is nil
}

// Methods returns the "alg" values the key verifies.
func (k Key) Methods() []string { return append([]string(nil), k.methods...) }

// ParseKey reads a JWTTokenApi key file as websockify does (jwcrypto's
// import_from_pem, then import_key(kty="oct", k=text)):
//
//   - A PEM block "PUBLIC KEY", "RSA PUBLIC KEY", "PRIVATE KEY", "RSA
//     PRIVATE KEY", "EC PRIVATE KEY" or "CERTIFICATE": its public key. RSA
//     verifies RS256/384/512 and PS256/384/512; EC verifies the one ES
//     algorithm of its curve (P-256 ES256, P-384 ES384, P-521 ES512);
//     Ed25519 verifies EdDSA.
//   - Otherwise the text is the HMAC key in base64url (JWK "k"; padding
//     allowed) and verifies HS256/384/512.
//
// A private RSA or EC key, and an HMAC key, also decrypt JWE tokens (see
// JWEKeyAlgorithms); a public key or a certificate decrypts none.
//
// Differences: white space around the text is dropped (jwcrypto refuses a
// "k" that ends in a newline, so websockify fails every lookup with such a
// file); an empty or undecodable key, or a PEM block of another type, is an
// error here at start (websockify fails each lookup). Errors never quote the
// key.
func ParseKey(data []byte) (Key, error) {
	if block, _ := pem.Decode(data); block != nil {
		raw, err := pemKey(block)
		if err != nil {
			return Key{}, err
		}
		k, err := keyFor(publicOf(raw))
		if err != nil {
			return Key{}, err
		}
		switch priv := raw.(type) {
		case *rsa.PrivateKey:
			k.decrypt, k.keyAlgs = priv, rsaKeyAlgs
		case *ecdsa.PrivateKey:
			k.decrypt, k.keyAlgs = priv, ecKeyAlgs
		}
		return k, nil
	}
	text := strings.TrimRight(strings.TrimSpace(string(data)), "=")
	if text == "" {
		return Key{}, errors.New("JWT key file is empty")
	}
	if bytes.ContainsAny([]byte(text), "+/") {
		return Key{}, errors.New("JWT key file: HMAC key is not base64url (it has '+' or '/')")
	}
	secret, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return Key{}, errors.New("JWT key file: neither a PEM key nor a base64url HMAC key")
	}
	if len(secret) == 0 {
		return Key{}, errors.New("JWT key file: empty HMAC key")
	}
	return Key{verify: secret, methods: []string{"HS256", "HS384", "HS512"}, decrypt: secret, keyAlgs: octKeyAlgs}, nil
}

// The JWE key-management algorithms each kind of key decrypts: those of
// jwcrypto's default list (which websockify uses) that fit the key's type,
// without PBES2 (the token would choose how many PBKDF2 rounds each lookup
// costs) and without RSA1_5 (not in jwcrypto's default list; padding
// oracle). go-jose also refuses a key of the wrong size for A*KW, A*GCMKW
// and dir.
var (
	rsaKeyAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256}
	ecKeyAlgs  = []jose.KeyAlgorithm{jose.ECDH_ES, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW}
	octKeyAlgs = []jose.KeyAlgorithm{
		jose.DIRECT, jose.A128KW, jose.A192KW, jose.A256KW,
		jose.A128GCMKW, jose.A192GCMKW, jose.A256GCMKW,
	}
	// contentEncs are the JWE "enc" values accepted with every key.
	contentEncs = []jose.ContentEncryption{
		jose.A128GCM, jose.A192GCM, jose.A256GCM,
		jose.A128CBC_HS256, jose.A192CBC_HS384, jose.A256CBC_HS512,
	}
)

// JWEKeyAlgorithms returns the JWE "alg" values the key decrypts: none for
// a public key; RSA-OAEP and RSA-OAEP-256 for a private RSA key; ECDH-ES
// and ECDH-ES+A128KW/A192KW/A256KW for a private EC key; dir, A128KW,
// A192KW, A256KW, A128GCMKW, A192GCMKW and A256GCMKW for an HMAC key (the
// key's size picks which of these work).
func (k Key) JWEKeyAlgorithms() []string {
	out := make([]string, len(k.keyAlgs))
	for i, a := range k.keyAlgs {
		out[i] = string(a)
	}
	return out
}

// pemKey returns the key of a PEM block, private if the block holds one.
func pemKey(b *pem.Block) (any, error) {
	var key any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			key = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("JWT key file: PEM block %q is not a key", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("JWT key file: PEM %s: %w", b.Type, err)
	}
	return key, nil
}

// publicOf returns the public half of a private key, or key itself.
func publicOf(key any) any {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return key
}

// keyFor pins the algorithms to the public key's type.
func keyFor(pub any) (Key, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return Key{verify: k, methods: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return Key{verify: k, methods: []string{"ES256"}}, nil
		case elliptic.P384():
			return Key{verify: k, methods: []string{"ES384"}}, nil
		case elliptic.P521():
			return Key{verify: k, methods: []string{"ES512"}}, nil
		}
		return Key{}, errors.New("JWT key file: EC curve not P-256, P-384 or P-521")
	case ed25519.PublicKey:
		return Key{verify: k, methods: []string{"EdDSA"}}, nil
	}
	return Key{}, fmt.Errorf("JWT key file: unsupported key type %T", pub)
}
