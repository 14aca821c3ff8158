package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore answers from a map and counts the lookups that reach it;
// gate, when set, holds every lookup until it is closed.
type countingStore struct {
	mu      sync.Mutex
	targets map[string]Target
	err     error
	gate    chan struct{}
	calls   atomic.Int64
}

func (s *countingStore) Resolve(ctx context.Context, token string) (Target, error) {
	s.calls.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return Target{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Target{}, s.err
	}
	t, ok := s.targets[token]
	if !ok {
		return Target{}, ErrUnknownToken
	}
	return t, nil
}

func (s *countingStore) set(token string, t *Target, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if t == nil {
		delete(s.targets, token)
	} else {
		s.targets[token] = *t
	}
}

// fakeClock is a settable clock for Cache.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCache(store *countingStore) (*Cache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return &Cache{Store: store, now: clk.now}, clk
}

// wantStep checks one step of a cache table: got and err against want (a
// zero want and nil wantErr: a store error, never ErrUnknownToken) or
// wantErr, and that store has been asked calls times in all.
func wantStep(t *testing.T, name string, store *countingStore, got Target, err error, want Target, wantErr error, calls int64) {
	t.Helper()
	switch {
	case wantErr == nil && want == (Target{}):
		if err == nil || errors.Is(err, ErrUnknownToken) {
			t.Fatalf("%s: err %v, want a store error", name, err)
		}
	case wantErr != nil:
		if !errors.Is(err, wantErr) {
			t.Fatalf("%s: err %v, want %v", name, err, wantErr)
		}
	case err != nil || got != want:
		t.Fatalf("%s: got %v, %v; want %v", name, got, err, want)
	}
	if n := store.calls.Load(); n != calls {
		t.Fatalf("%s: %d store lookups, want %d", name, n, calls)
	}
}

func TestCacheTTLs(t *testing.T) {
	vm1 := Target{Network: "tcp", Address: "10.0.0.1:5900"}
	ctx := context.Background()
	steps := []struct {
		name      string
		advance   time.Duration
		change    func(s *countingStore)
		token     string
		want      Target
		wantErr   error
		wantCalls int64
	}{
		{"first lookup asks the store", 0, nil, "a", vm1, nil, 1},
		{"found answer kept", time.Second, nil, "a", vm1, nil, 1},
		{"deleted token still kept inside the TTL", 500 * time.Millisecond,
			func(s *countingStore) { s.set("a", nil, nil) }, "a", vm1, nil, 1},
		{"deleted token unknown after the TTL", time.Second, nil, "a", Target{}, ErrUnknownToken, 2},
		{"unknown answer kept", 500 * time.Millisecond, nil, "a", Target{}, ErrUnknownToken, 2},
		{"new token found after the negative TTL", 600 * time.Millisecond,
			func(s *countingStore) { s.set("a", &vm1, nil) }, "a", vm1, nil, 3},
		{"store error", 3 * time.Second, func(s *countingStore) { s.set("a", &vm1, errors.New("down")) }, "a", Target{}, nil, 4},
		{"store error not kept", 0, nil, "a", Target{}, nil, 5},
		{"store back", 0, func(s *countingStore) { s.set("a", &vm1, nil) }, "a", vm1, nil, 6},
	}
	store := &countingStore{targets: map[string]Target{"a": vm1}}
	c, clk := newTestCache(store)
	for _, st := range steps {
		clk.add(st.advance)
		if st.change != nil {
			st.change(store)
		}
		got, err := c.Resolve(ctx, st.token)
		wantStep(t, st.name, store, got, err, st.want, st.wantErr, st.wantCalls)
	}
}

func TestCacheExpiresCapsTTL(t *testing.T) {
	store := &countingStore{targets: map[string]Target{}}
	c, clk := newTestCache(store)
	vm := Target{Network: "tcp", Address: "10.0.0.1:5900", Expires: clk.now().Add(500 * time.Millisecond)}
	store.set("a", &vm, nil)
	for i, adv := range []time.Duration{0, 400 * time.Millisecond, 200 * time.Millisecond} {
		clk.add(adv)
		if _, err := c.Resolve(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		want := []int64{1, 1, 2}[i]
		if n := store.calls.Load(); n != want {
			t.Fatalf("step %d: %d lookups, want %d", i, n, want)
		}
	}
}

func TestCacheDisabled(t *testing.T) {
	store := &countingStore{targets: map[string]Target{"a": {Network: "tcp", Address: "h:1"}}}
	c := &Cache{Store: store, TTL: -1, NegativeTTL: -1}
	for range 3 {
		_, _ = c.Resolve(context.Background(), "a")
		_, _ = c.Resolve(context.Background(), "b")
	}
	if n := store.calls.Load(); n != 6 || c.Len() != 0 {
		t.Fatalf("%d lookups, %d kept; want 6, 0", n, c.Len())
	}
}

func TestCacheSingleflight(t *testing.T) {
	vm := Target{Network: "tcp", Address: "10.0.0.1:5900"}
	store := &countingStore{targets: map[string]Target{"a": vm}, gate: make(chan struct{})}
	c := &Cache{Store: store}
	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := c.Resolve(ctx, "a")
			if err == nil && got != vm {
				err = errors.New("wrong target")
			}
			errs <- err
		}()
	}
	// Wait (bounded) for the one lookup to reach the store, then let it go.
	for i := 0; store.calls.Load() == 0 && i < 1000; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the other callers join the flight
	close(store.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := store.calls.Load(); n != 1 {
		t.Fatalf("%d store lookups for %d concurrent callers, want 1", n, callers)
	}
}

func TestCacheCallerLeavesFlight(t *testing.T) {
	vm := Target{Network: "tcp", Address: "10.0.0.1:5900"}
	store := &countingStore{targets: map[string]Target{"a": vm}, gate: make(chan struct{})}
	c := &Cache{Store: store}
	first, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Resolve(first, "a"); done <- err }()
	for i := 0; store.calls.Load() == 0 && i < 1000; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	second := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Resolve(ctx, "a")
		second <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(store.gate)
	if err := <-second; err != nil {
		t.Fatalf("second caller: %v (the first caller's cancel ended the shared lookup)", err)
	}
}

func TestCacheBounded(t *testing.T) {
	store := &countingStore{targets: map[string]Target{}}
	c, clk := newTestCache(store)
	c.MaxEntries = 10
	for i := range 25 {
		_, _ = c.Resolve(context.Background(), string(rune('a'+i)))
	}
	if c.Len() != 10 {
		t.Fatalf("%d entries, want 10", c.Len())
	}
	clk.add(2 * time.Second) // all expired: the next insert sweeps them
	_, _ = c.Resolve(context.Background(), "new")
	if c.Len() != 1 {
		t.Fatalf("%d entries after the sweep, want 1", c.Len())
	}
	c.Forget("new")
	if c.Len() != 0 {
		t.Fatal("Forget kept the entry")
	}
}
