// Package jwt is websockify's JWTTokenApi token plugin: the token is a
// signed JWT (JWS compact form) whose claims "host" and "port" name the
// console, verified with the key in the --token-source file.
//
// The key file is read as websockify reads it: a PEM key (public or
// private; RSA, EC or Ed25519; or a certificate) verifies the matching
// asymmetric algorithms, and otherwise the file's text is an HMAC key in
// JWK "k" form (base64url), as jwcrypto imports it. The algorithms a token
// may use are pinned to the key's type: no "none", no HMAC with a public
// key, no ES384 with a P-256 key. "nbf" and "exp" are checked with a small,
// bounded clock skew.
//
// Encrypted tokens (JWE), which websockify decrypts with the same key, are
// not built: no maintained Go JOSE library was added for this first part;
// they are refused as unknown. See docs/STORES.md.
package jwt
