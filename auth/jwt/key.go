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
)

// Key is a verification key and the JWS algorithms it may verify.
type Key struct {
	verify  any      // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
	methods []string // "alg" values accepted
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
// Differences: white space around the text is dropped (jwcrypto refuses a
// "k" that ends in a newline, so websockify fails every lookup with such a
// file); an empty or undecodable key, or a PEM block of another type, is an
// error here at start (websockify fails each lookup). Errors never quote the
// key.
func ParseKey(data []byte) (Key, error) {
	if block, _ := pem.Decode(data); block != nil {
		pub, err := pemPublicKey(block)
		if err != nil {
			return Key{}, err
		}
		return keyFor(pub)
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
	return Key{verify: secret, methods: []string{"HS256", "HS384", "HS512"}}, nil
}

// pemPublicKey returns the public key of a PEM block.
func pemPublicKey(b *pem.Block) (any, error) {
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
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey, nil
	case *ecdsa.PrivateKey:
		return &k.PublicKey, nil
	case ed25519.PrivateKey:
		return k.Public(), nil
	}
	return key, nil
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
