package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

// policy is the part of the configuration a reload may change
// (Server.Reload). The server holds the one in force in an atomic pointer;
// a request reads it once, at its head, and keeps it until its console
// starts relaying (the connect worker resolves with the resolver of the
// request's policy), so a reload never changes the rules of a request
// half-way. A policy is never modified once published.
type policy struct {
	resolver           auth.Resolver
	hostToken          bool
	origins            *auth.OriginPolicy
	requestAuth        auth.RequestAuth
	webAuth            bool
	webDir             string
	enforceTokenExpiry bool
}

func policyOf(c *Config) *policy {
	return &policy{
		resolver: c.Resolver, hostToken: c.HostToken, origins: c.Origins,
		requestAuth: c.RequestAuth, webAuth: c.WebAuth, webDir: c.WebDir,
		enforceTokenExpiry: c.EnforceTokenExpiry,
	}
}

// limitParams are the limiter's settings (see Config's limit fields); a
// reload replaces them whole.
type limitParams struct {
	perClient int32 // 0: no limit
	perToken  int32 // 0: no limit
	interval  int64 // ns between handshakes at the sustained rate; 0: no rate limit
	tolerance int64 // GCRA's burst tolerance: (burst - 1) × interval
}

func limitParamsOf(cfg *Config) *limitParams {
	p := &limitParams{}
	if cfg.MaxConsolesPerClient > 0 {
		p.perClient = int32(min(cfg.MaxConsolesPerClient, 1<<30))
	}
	if cfg.MaxConsolesPerToken > 0 {
		p.perToken = int32(min(cfg.MaxConsolesPerToken, 1<<30))
	}
	if cfg.HandshakeRate > 0 {
		p.interval = max(int64(float64(time.Second)/cfg.HandshakeRate), 1)
		p.tolerance = int64(max(cfg.HandshakeBurst, 1)-1) * p.interval
	}
	return p
}

// ErrNeedsRestart is wrapped by Reload's error when the new configuration
// changes a field only a restart can change.
var ErrNeedsRestart = errors.New("needs a restart")

// Reload puts the reloadable fields of cfg in force for new requests:
// Resolver, HostToken, Origins, RequestAuth, WebAuth, WebDir,
// EnforceTokenExpiry, MaxConsolesPerClient, MaxConsolesPerToken,
// HandshakeRate and HandshakeBurst. Consoles already relaying are not
// touched (their token expiry, when enforced, stays as it was at open);
// requests under way finish under the policy they started with; the
// revocation check (RevokeCheck) asks the new Resolver from its next
// round. Certificates rotate through Config.TLS itself
// (GetConfigForClient), not through Reload.
//
// Every other field is fixed at New: when cfg (defaults filled in as New
// fills them) differs from the configuration in force in any of them,
// nothing changes and the error, wrapping ErrNeedsRestart, names them. A
// nil Resolver is refused too. Pointer fields (TLS, TargetTLS) are
// compared by being set or not; function fields (Recorder), Logger and
// MaxConnections left zero are not compared, and stay as they are.
//
// The old Resolver may still be in use by requests that read the old
// policy, for up to ConnectTimeout after Reload returns: release its
// resources only after that.
func (s *Server) Reload(cfg Config) error {
	if cfg.Resolver == nil {
		return errors.New("engine: reload: Config.Resolver is required")
	}
	cfg = cfg.withDefaults()
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = s.cfg.MaxConnections
	}
	if fixed := restartFields(&s.cfg, &cfg); len(fixed) > 0 {
		return fmt.Errorf("engine: reload refused: %s changed, which %w", strings.Join(fixed, ", "), ErrNeedsRestart)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.limits.params.Store(limitParamsOf(&cfg))
	s.policy.Store(policyOf(&cfg))
	c := s.current
	c.Resolver, c.HostToken, c.Origins, c.RequestAuth = cfg.Resolver, cfg.HostToken, cfg.Origins, cfg.RequestAuth
	c.WebAuth, c.WebDir, c.EnforceTokenExpiry = cfg.WebAuth, cfg.WebDir, cfg.EnforceTokenExpiry
	c.MaxConsolesPerClient, c.MaxConsolesPerToken = cfg.MaxConsolesPerClient, cfg.MaxConsolesPerToken
	c.HandshakeRate, c.HandshakeBurst = cfg.HandshakeRate, cfg.HandshakeBurst
	s.current = c
	return nil
}

// restartFields names the fields that differ between a and b among those
// only a restart can change.
func restartFields(a, b *Config) []string {
	var out []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	for i := range t.NumField() {
		name := t.Field(i).Name
		if reloadable[name] || name == "Logger" {
			continue
		}
		fa, fb := va.Field(i), vb.Field(i)
		var same bool
		switch fa.Kind() {
		case reflect.Func:
			same = true // hooks (Recorder) are fixed at New; not compared
		case reflect.Pointer, reflect.Interface:
			same = fa.IsNil() == fb.IsNil()
		case reflect.Slice:
			same = fa.Len() == fb.Len()
			for j := 0; same && j < fa.Len(); j++ {
				same = fa.Index(j).Equal(fb.Index(j))
			}
		default:
			same = fa.Equal(fb)
		}
		if !same {
			out = append(out, name)
		}
	}
	return out
}

// reloadable lists the Config fields Reload changes.
var reloadable = map[string]bool{
	"Resolver": true, "HostToken": true, "Origins": true, "RequestAuth": true,
	"WebAuth": true, "WebDir": true, "EnforceTokenExpiry": true,
	"MaxConsolesPerClient": true, "MaxConsolesPerToken": true,
	"HandshakeRate": true, "HandshakeBurst": true,
}
