package tokenapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

const canaryToken = "canary-5e1d77b0c2"

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newAPI(t testing.TB, source string, f Format, opt Options) *API {
	t.Helper()
	a, err := New(source, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestAPILookups(t *testing.T) {
	srv := newTokenServer(t)
	for tok, a := range map[string]apiAnswer{
		"vm1": {200, "10.0.0.1:5901", 0}, "nl": {200, "10.0.0.2:5902\n", 0},
		"gone": {410, "", 0}, "forbidden": {403, "", 0}, "err": {500, "10.0.0.1:5901", 0},
		"busy": {503, "", 0}, "ratelimit": {429, "", 0}, "slow": {200, "10.0.0.1:5901", 2 * time.Second},
		"junk": {200, "<html>", 0}, "empty": {200, "", 0}, "big": {200, strings.Repeat("x", 70<<10), 0},
		"redirect": {302, "", 0}, canaryToken: {200, "not a target", 0},
	} {
		srv.text[tok] = a
	}
	for tok, a := range map[string]apiAnswer{
		"vm1": {200, `{"host": "10.0.0.1", "port": 5901}`, 0}, "badjson": {200, `{"host": `, 0},
		"noport": {200, `{"host": "h"}`, 0}, "missing-ok": {404, `{"host": "h", "port": 1}`, 0},
	} {
		srv.json[tok] = a
	}
	text := newAPI(t, srv.URL+"/text/%s", Text, Options{})
	js := newAPI(t, srv.URL+"/json/%s", JSON, Options{})
	tests := []struct {
		name  string
		api   *API
		token string
		want  string // target, "unknown" (403) or "error" (503)
	}{
		{"text found", text, "vm1", "10.0.0.1:5901"},
		{"text with newline", text, "nl", "10.0.0.2:5902"},
		{"404", text, "vm9", "unknown"},
		{"410", text, "gone", "unknown"},
		{"403", text, "forbidden", "unknown"},
		{"500 with a body", text, "err", "error"},
		{"503", text, "busy", "error"},
		{"429", text, "ratelimit", "error"},
		{"slow", text, "slow", "error"},
		{"junk body", text, "junk", "error"},
		{"empty body", text, "empty", "error"},
		{"body too big", text, "big", "error"},
		{"redirect without a location", text, "redirect", "error"},
		{"bad answer", text, canaryToken, "error"},
		{"path injection", text, "../admin/x", "unknown"},
		{"query injection", text, "vm1?x=1", "unknown"},
		{"fragment injection", text, "vm1#x", "unknown"},
		{"dot dot", text, "..", "unknown"},
		{"empty token", text, "", "unknown"},
		{"JSON found", js, "vm1", "10.0.0.1:5901"},
		{"JSON broken", js, "badjson", "error"},
		{"JSON without port", js, "noport", "error"},
		{"JSON 404 with a body", js, "missing-ok", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got, err := tt.api.Resolve(ctxFor(t, 300*time.Millisecond), tt.token)
			switch tt.want {
			case "unknown":
				if !errors.Is(err, auth.ErrUnknownToken) {
					t.Fatalf("got %v, %v; want unknown", got, err)
				}
				if why := auth.RefusalReason(err); why != "" && !strings.HasPrefix(why, "token API answered 4") {
					t.Fatalf("reason %q", why)
				}
			case "error":
				if err == nil || errors.Is(err, auth.ErrUnknownToken) {
					t.Fatalf("got %v, %v; want a store error", got, err)
				}
				if strings.Contains(err.Error(), canaryToken) || strings.Contains(err.Error(), "not a target") {
					t.Fatal("error message holds the token or the answer")
				}
				if took := time.Since(start); took > 10*time.Second {
					t.Fatalf("lookup took %v", took)
				}
			default:
				if err != nil || got.String() != tt.want {
					t.Fatalf("got %v, %v; want %s", got, err, tt.want)
				}
			}
		})
	}
	for _, uri := range srv.sawURIs() {
		if strings.HasPrefix(uri, "/admin") {
			t.Fatalf("a token reached %s", uri)
		}
	}
}

func TestAPIDown(t *testing.T) {
	srv := newTokenServer(t)
	a := newAPI(t, srv.URL+"/text/%s", Text, Options{})
	srv.Close()
	_, err := a.Resolve(ctxFor(t, 2*time.Second), canaryToken)
	if err == nil || errors.Is(err, auth.ErrUnknownToken) {
		t.Fatalf("API down: %v, want a store error", err)
	}
	if strings.Contains(err.Error(), canaryToken) {
		t.Fatal("error message holds the token")
	}
}

// TestAPIPoolBound: with MaxConns 2, eight slow lookups at once reach the
// API at most two at a time.
func TestAPIPoolBound(t *testing.T) {
	srv := newTokenServer(t)
	srv.text["slow"] = apiAnswer{200, "10.0.0.1:5901", 100 * time.Millisecond}
	a := newAPI(t, srv.URL+"/text/%s", Text, Options{MaxConns: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Resolve(ctxFor(t, 10*time.Second), "slow")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := srv.peak.Load(); p > 2 {
		t.Fatalf("%d requests at once, want at most 2", p)
	}
}

// TestAPIRefusalReason: a 4xx refusal says which status, the only reason
// logged; never the token or the URL.
func TestAPIRefusalReason(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/gone"):
			w.WriteHeader(http.StatusGone)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	api, err := New(srv.URL+"/t/%s", Text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, token, reason string }{
		{"not found", canaryToken, "token API answered 404"},
		{"gone", "gone", "token API answered 410"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.Resolve(ctxFor(t, time.Second), tc.token)
			if got := auth.RefusalReason(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if strings.Contains(err.Error(), canaryToken) || strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("error %q holds the token or the URL", err)
			}
		})
	}
}
