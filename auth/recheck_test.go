package auth

import (
	"context"
	"errors"
	"testing"
)

// TestCacheRecheck: Recheck asks the store past a kept answer, and what it
// learns is what the next Resolve answers.
func TestCacheRecheck(t *testing.T) {
	vm1 := Target{Network: "tcp", Address: "10.0.0.1:5900"}
	vm2 := Target{Network: "tcp", Address: "10.0.0.2:5900"}
	ctx := context.Background()
	store := &countingStore{targets: map[string]Target{"a": vm1}}
	c, _ := newTestCache(store)
	if _, err := c.Resolve(ctx, "a"); err != nil { // kept for the TTL
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		change  func()
		recheck bool
		want    Target
		wantErr error // nil with want zero: a store error
		calls   int64
	}{
		{"kept answer while the store changed", func() { store.set("a", &vm2, nil) }, false, vm1, nil, 1},
		{"recheck sees the new target", nil, true, vm2, nil, 2},
		{"and keeps it", nil, false, vm2, nil, 2},
		{"recheck sees the deletion", func() { store.set("a", nil, nil) }, true, Target{}, ErrUnknownToken, 3},
		{"new lookups refused at once", nil, false, Target{}, ErrUnknownToken, 3},
		{"store error on recheck", func() { store.set("a", &vm1, errors.New("down")) }, true, Target{}, nil, 4},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		resolve := c.Resolve
		if st.recheck {
			resolve = c.Recheck
		}
		got, err := resolve(ctx, "a")
		wantStep(t, st.name, store, got, err, st.want, st.wantErr, st.calls)
	}
}

// TestRecheckFallsBack: a resolver without a cache is asked with Resolve.
func TestRecheckFallsBack(t *testing.T) {
	vm1 := Target{Network: "tcp", Address: "10.0.0.1:5900"}
	store := &countingStore{targets: map[string]Target{"a": vm1}}
	got, err := Recheck(context.Background(), store, "a")
	if err != nil || got != vm1 || store.calls.Load() != 1 {
		t.Fatalf("got %v %v after %d lookups", got, err, store.calls.Load())
	}
}

func TestSameConsole(t *testing.T) {
	base := Target{Network: "tcp", Address: "10.0.0.1:5900", TunnelPath: "/?token=x"}
	tests := []struct {
		name string
		b    Target
		same bool
	}{
		{"identical", base, true},
		{"other fields differ", Target{Network: "tcp", Address: "10.0.0.1:5900", TunnelPath: "/?token=x", InstanceUUID: "u", AccessScheme: "https"}, true},
		{"address", Target{Network: "tcp", Address: "10.0.0.2:5900", TunnelPath: "/?token=x"}, false},
		{"network", Target{Network: "unix", Address: "10.0.0.1:5900", TunnelPath: "/?token=x"}, false},
		{"tunnel path", Target{Network: "tcp", Address: "10.0.0.1:5900"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameConsole(base, tt.b); got != tt.same {
				t.Fatalf("SameConsole = %v", got)
			}
		})
	}
}
