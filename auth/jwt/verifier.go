package jwt

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/auth/tokenapi"
)

// DefaultLeeway is the clock skew allowed on "nbf" and "exp": a token is
// taken up to this long before its nbf and after its exp. websockify allows
// none; the relay's and the issuer's clocks are rarely closer.
const DefaultLeeway = 5 * time.Second

// MaxLeeway bounds Options.Leeway.
const MaxLeeway = time.Minute

// Options tune a Verifier; the zero value is the defaults.
type Options struct {
	// Leeway is the clock skew allowed on nbf and exp; 0 means
	// DefaultLeeway, a negative value none. At most MaxLeeway.
	Leeway time.Duration

	now func() time.Time // tests
}

// Verifier is a JWTTokenApi resolver. It reads the key file at New and
// again whenever the file's size, modification time or inode changes (a
// stat per lookup; websockify reads the file on every lookup), so a key
// rotated by replacing the file takes effect at the next lookup. It is safe
// for concurrent use.
type Verifier struct {
	path   string
	leeway time.Duration
	now    func() time.Time

	mu     sync.Mutex
	key    Key
	loaded os.FileInfo
	err    error // of the last load; while set, lookups fail with it
}

// New reads the key file and returns its Verifier, or why the file is not a
// key.
func New(path string, opt Options) (*Verifier, error) {
	if opt.Leeway == 0 {
		opt.Leeway = DefaultLeeway
	}
	opt.Leeway = min(max(opt.Leeway, 0), MaxLeeway)
	if opt.now == nil {
		opt.now = time.Now
	}
	v := &Verifier{path: path, leeway: opt.Leeway, now: opt.now}
	if _, err := v.currentKey(); err != nil {
		return nil, err
	}
	return v, nil
}

// currentKey returns the key, reading the file again if it changed. A file
// that no longer reads as a key fails every lookup (503) until it does.
func (v *Verifier) currentKey() (Key, error) {
	fi, err := os.Stat(v.path)
	if err != nil {
		return Key{}, fmt.Errorf("JWT key file: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loaded != nil && os.SameFile(fi, v.loaded) && fi.Size() == v.loaded.Size() && fi.ModTime().Equal(v.loaded.ModTime()) {
		return v.key, v.err
	}
	data, err := os.ReadFile(v.path)
	if err != nil {
		return Key{}, fmt.Errorf("JWT key file: %w", err)
	}
	v.loaded = fi
	v.key, v.err = ParseKey(data)
	if v.err != nil {
		v.err = fmt.Errorf("%s: %w", v.path, v.err)
	}
	return v.key, v.err
}

// Resolve implements auth.Resolver. The token must be a JWS compact token
// signed with one of the key's algorithms, within nbf and exp (when
// present, numbers of seconds) give or take the leeway, with claims "host"
// (a string) and "port" (an integer or a string of digits), read as
// tokenapi.ParseJSONAnswer reads a JSON token API's answer ("unix_socket"
// makes the port a socket path). Target.Expires is exp.
//
// A JWE compact token (five segments) is decrypted first with the same key,
// as websockify does (see decryptJWE); its plaintext must be a JWS compact
// token, verified as above.
//
// Every failure of the token (bad signature, wrong algorithm, expired, not
// yet valid, malformed, cannot be decrypted, no host or port) is
// auth.ErrUnknownToken, as websockify answers it, as an *auth.RefusedError
// whose fixed reason (refusal.go: "signature invalid", "expired", ...) the
// relay logs; a key file that cannot be read is another error (503).
func (v *Verifier) Resolve(_ context.Context, token string) (auth.Target, error) {
	key, err := v.currentKey()
	if err != nil {
		return auth.Target{}, err
	}
	if strings.Count(token, ".") == 4 {
		if token, err = decryptJWE(key, token); err != nil {
			return auth.Target{}, err
		}
	}
	claims := gojwt.MapClaims{}
	p := gojwt.NewParser(
		gojwt.WithValidMethods(key.methods),
		gojwt.WithLeeway(v.leeway),
		gojwt.WithTimeFunc(v.now),
		gojwt.WithJSONNumber(),
	)
	tok, err := p.ParseWithClaims(token, claims, func(*gojwt.Token) (any, error) { return key.verify, nil })
	if err != nil {
		return auth.Target{}, jwsRefusal(err, tok, key.methods)
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return auth.Target{}, errClaims
	}
	t, err := tokenapi.ParseJSONAnswer(body)
	if err != nil {
		return auth.Target{}, errNoConsole // its error may quote a claim's value
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		t.Expires = exp.Add(v.leeway)
	}
	return t, nil
}
