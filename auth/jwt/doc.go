// Package jwt is websockify's JWTTokenApi token plugin: the token is a
// signed JWT (JWS compact form, bare or inside a JWE) whose claims "host"
// and "port" name the console, verified with the key in the --token-source
// file.
//
// The key file is read as websockify reads it: a PEM key (public or
// private; RSA, EC or Ed25519; or a certificate) verifies the matching
// asymmetric algorithms, and otherwise the file's text is an HMAC key in
// JWK "k" form (base64url), as jwcrypto imports it. The algorithms a token
// may use are pinned to the key's type: no "none", no HMAC with a public
// key, no ES384 with a P-256 key. "nbf" and "exp" are checked with a small,
// bounded clock skew.
//
// Encrypted tokens (JWE compact form) are decrypted with the same key, as
// websockify does, with github.com/go-jose/go-jose/v4: a private RSA key
// takes RSA-OAEP and RSA-OAEP-256, a private EC key ECDH-ES and
// ECDH-ES+A*KW, an HMAC key dir, A*KW and A*GCMKW; the content encryption
// is A*GCM or A*CBC-HS*. The plaintext must be a JWS signed with the same
// key, verified as above. See docs/STORES.md.
package jwt
