package auth

import (
	"crypto/sha256"
	"encoding/hex"
)

// Mask returns the form of a token that may appear in logs: "tok:" and the
// first 8 hex digits of its SHA-256. Two log lines about the same token show the
// same mask, so an operator can follow one console, but the token itself, which
// grants access to the console while it is valid, cannot be read back. (Nova
// logs a prefix of the token instead; a prefix leaks part of the secret.)
func Mask(token string) string {
	if token == "" {
		return "tok:none"
	}
	sum := sha256.Sum256([]byte(token))
	return "tok:" + hex.EncodeToString(sum[:4])
}
