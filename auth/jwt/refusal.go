package jwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/vncrelay/vncrelay/auth"
)

// Why a token is refused: each is auth.ErrUnknownToken (a 403 for the
// browser) with a fixed reason the relay logs beside the token's mask. No
// reason holds token bytes or a claim's value.
var (
	errMalformed    = &auth.RefusedError{Reason: "malformed"}
	errAlgorithm    = &auth.RefusedError{Reason: "algorithm not allowed"}
	errSignature    = &auth.RefusedError{Reason: "signature invalid"}
	errExpired      = &auth.RefusedError{Reason: "expired"}
	errNotYetValid  = &auth.RefusedError{Reason: "not yet valid"}
	errClaims       = &auth.RefusedError{Reason: "claims invalid"} // nbf, exp or iat not a number
	errNoConsole    = &auth.RefusedError{Reason: "no console in claims"}
	errPBES2        = &auth.RefusedError{Reason: "PBES2 not accepted"}
	errJWENoKey     = &auth.RefusedError{Reason: "encrypted, and the key file holds no private or symmetric key to decrypt with"}
	errJWETooLong   = &auth.RefusedError{Reason: "too long"}
	errJWEDecrypt   = &auth.RefusedError{Reason: "cannot decrypt (wrong key or tampered)"}
	errJWENested    = &auth.RefusedError{Reason: "encrypted plaintext is not a signed JWT"}
	errInvalidOther = &auth.RefusedError{Reason: "invalid"}
)

// jwsRefusal maps golang-jwt's error for tok to a refusal. golang-jwt
// reports an algorithm outside the allowed set as an invalid signature; the
// token's own "alg" tells the two apart.
func jwsRefusal(err error, tok *gojwt.Token, methods []string) error {
	switch {
	case errors.Is(err, gojwt.ErrTokenMalformed):
		return errMalformed
	case errors.Is(err, gojwt.ErrTokenUnverifiable):
		return errAlgorithm // "alg" missing or not one golang-jwt knows
	case errors.Is(err, gojwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil && !slices.Contains(methods, tok.Method.Alg()) {
			return errAlgorithm
		}
		return errSignature
	case errors.Is(err, gojwt.ErrTokenExpired):
		return errExpired
	case errors.Is(err, gojwt.ErrTokenNotValidYet):
		return errNotYetValid
	case errors.Is(err, gojwt.ErrTokenInvalidClaims):
		return errClaims
	}
	return errInvalidOther
}

// jweHeaderRefusal says why go-jose would not parse a JWE compact token: a
// key-management or content-encryption algorithm the key does not allow
// (PBES2 named apart: it is refused with every key), or a malformed token.
func jweHeaderRefusal(key Key, token string) error {
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return errMalformed
	}
	var h struct {
		Alg string `json:"alg"`
		Enc string `json:"enc"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return errMalformed
	}
	switch {
	case strings.HasPrefix(h.Alg, "PBES2"):
		return errPBES2
	case !slices.Contains(key.keyAlgs, jose.KeyAlgorithm(h.Alg)), !slices.Contains(contentEncs, jose.ContentEncryption(h.Enc)):
		return errAlgorithm
	}
	return errMalformed
}
