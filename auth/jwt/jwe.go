package jwt

import (
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxTokenLen bounds a JWE token's length in bytes; a longer token is
// refused before it is parsed. Browsers send tokens in a URL, where 8 KiB is
// already generous.
const MaxTokenLen = 16 << 10

// decryptJWE decrypts a JWE compact token (RFC 7516, section 7.1) with the
// key file's key, as websockify's JWTTokenApi does with jwcrypto, and
// returns its plaintext, which must be a JWS compact token (three
// segments): websockify reads the plaintext as a nested JWT with the same
// key, so a JWE whose plaintext is the claims JSON itself is refused by
// both. The key-management algorithm ("alg") is pinned to the key's type
// (Key.JWEKeyAlgorithms), the content encryption ("enc") to A128GCM,
// A192GCM, A256GCM, A128CBC-HS256, A192CBC-HS384 or A256CBC-HS512; go-jose
// refuses anything else before any cryptography, and "zip": "DEF" output is
// bounded by go-jose. A JWE inside a JWE (which websockify would decrypt
// twice) is refused. Its errors are refusals (refusal.go) that never hold
// the token.
func decryptJWE(key Key, token string) (string, error) {
	if key.decrypt == nil {
		return "", errJWENoKey
	}
	if len(token) > MaxTokenLen {
		return "", errJWETooLong
	}
	obj, err := jose.ParseEncryptedCompact(token, key.keyAlgs, contentEncs)
	if err != nil {
		return "", jweHeaderRefusal(key, token)
	}
	plain, err := obj.Decrypt(key.decrypt)
	if err != nil {
		return "", errJWEDecrypt
	}
	inner := string(plain)
	if strings.Count(inner, ".") != 2 {
		return "", errJWENested
	}
	return inner, nil
}
