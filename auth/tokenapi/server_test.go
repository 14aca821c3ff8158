package tokenapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// apiAnswer is what the test's token API answers for one token.
type apiAnswer struct {
	status int
	body   string
	delay  time.Duration
}

// tokenServer is a token API on 127.0.0.1:0 serving /text/<token> and
// /json/<token> from its maps, and /admin/x, a path a token must never
// reach. It records the request URIs it saw and the most requests it served
// at once.
type tokenServer struct {
	*httptest.Server
	text, json map[string]apiAnswer

	mu     sync.Mutex
	seen   []string
	active atomic.Int32
	peak   atomic.Int32
}

func newTokenServer(t testing.TB) *tokenServer {
	s := &tokenServer{text: map[string]apiAnswer{}, json: map[string]apiAnswer{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	n := s.active.Add(1)
	defer s.active.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	s.mu.Lock()
	s.seen = append(s.seen, r.RequestURI)
	s.mu.Unlock()
	var a apiAnswer
	var ok bool
	switch {
	case r.URL.Path == "/admin/x":
		a, ok = apiAnswer{200, "10.6.6.6:22", 0}, true
	case strings.HasPrefix(r.URL.Path, "/text/"):
		a, ok = s.text[strings.TrimPrefix(r.URL.Path, "/text/")]
	case strings.HasPrefix(r.URL.Path, "/json/"):
		a, ok = s.json[strings.TrimPrefix(r.URL.Path, "/json/")]
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (s *tokenServer) sawURIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}
