package engine

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/vncrelay/vncrelay/auth/jwt"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil/jwttest"
)

// TestTokenRefusalReason: a JWT refused for any reason gets the same 403,
// and the log says why at Info beside the token's mask, with neither the
// token nor any claim's value: every token carries the marker, in its
// claims or as its bytes.
func TestTokenRefusalReason(t *testing.T) {
	const marker = "MARKER-5eb1c0de"
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef") // 32 bytes: HS256 and dir/A256GCM
	other := []byte("fedcba9876543210fedcba9876543210")
	keyFile := filepath.Join(dir, "hmac.key")
	if err := os.WriteFile(keyFile, []byte(base64.RawURLEncoding.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := jwt.New(keyFile, jwt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = v })

	now := time.Now()
	claims := func(extra gojwt.MapClaims) gojwt.MapClaims {
		c := gojwt.MapClaims{"host": marker + ".example", "port": 5900, "note": marker}
		for k, val := range extra {
			c[k] = val
		}
		return c
	}
	sign := func(m gojwt.SigningMethod, k any, c gojwt.MapClaims) string { return jwttest.Sign(t, m, k, c) }
	encrypt := func(alg jose.KeyAlgorithm, k any, plain string) string {
		return jwttest.Encrypt(t, alg, jose.A256GCM, k, plain)
	}
	good := sign(gojwt.SigningMethodHS256, key, claims(nil))
	for _, tc := range []struct{ name, token, reason string }{
		{"malformed", marker + "-not-a-jwt", "malformed"},
		{"malformed segments", marker + ".e30." + marker, "malformed"},
		{"signature invalid", sign(gojwt.SigningMethodHS256, other, claims(nil)), "signature invalid"},
		{"expired", sign(gojwt.SigningMethodHS256, key, claims(gojwt.MapClaims{"exp": now.Add(-time.Hour).Unix()})), "expired"},
		{"not yet valid", sign(gojwt.SigningMethodHS256, key, claims(gojwt.MapClaims{"nbf": now.Add(time.Hour).Unix()})), "not yet valid"},
		{"exp not a number", sign(gojwt.SigningMethodHS256, key, claims(gojwt.MapClaims{"exp": marker})), "claims invalid"},
		{"algorithm none", sign(gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, claims(nil)), "algorithm not allowed"},
		{"no console", sign(gojwt.SigningMethodHS256, key, gojwt.MapClaims{"host": marker, "port": marker}), "no console in claims"},
		{"PBES2", encrypt(jose.PBES2_HS256_A128KW, key, good), "PBES2 not accepted"},
		{"JWE to another key", encrypt(jose.DIRECT, other, good), "cannot decrypt (wrong key or tampered)"},
		{"JWE of the claims JSON", encrypt(jose.DIRECT, key, `{"host":"`+marker+`","port":5900}`), "encrypted plaintext is not a signed JWT"},
		{"JWE expired", encrypt(jose.DIRECT, key, sign(gojwt.SigningMethodHS256, key,
			claims(gojwt.MapClaims{"exp": now.Add(-time.Hour).Unix()}))), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.logs.String())
			w := e.dialRaw(upgradeRequest("/websockify?token=" + tc.token))
			if w.status != 403 {
				t.Fatalf("status %d, want 403", w.status)
			}
			want := `msg="token refused"`
			waitFor(t, "the refusal's log line", func() bool { return strings.Contains(e.logs.String()[before:], `msg="request refused"`) })
			logs := e.logs.String()[before:]
			line := ""
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, want) {
					line = l
				}
			}
			if !strings.Contains(line, "level=INFO") || !(strings.Contains(line, `reason="`+tc.reason+`"`) || strings.HasSuffix(line, " reason="+tc.reason)) || !strings.Contains(line, "token_mask=tok:") {
				t.Fatalf("want an INFO line %s with reason %q and the mask; log:\n%s", want, tc.reason, logs)
			}
			for _, leak := range []string{tc.token, marker} {
				if strings.Contains(logs, leak) {
					t.Fatalf("the log holds %q:\n%s", leak, logs)
				}
			}
		})
	}
	// A token the resolver accepts opens as before.
	w := e.dialRaw(upgradeRequest("/websockify?token=" + sign(gojwt.SigningMethodHS256, key, gojwt.MapClaims{"host": "127.0.0.1", "port": 1})))
	if w.status == 403 {
		t.Fatalf("a valid token was refused: %s", w.header)
	}
}
