package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRefusalReason(t *testing.T) {
	expired := &RefusedError{Reason: "expired"}
	for _, tc := range []struct {
		name    string
		err     error
		reason  string
		unknown bool
	}{
		{"nil", nil, "", false},
		{"bare unknown token", ErrUnknownToken, "", true},
		{"refused", expired, "expired", true},
		{"refused, wrapped", fmt.Errorf("lookup: %w", expired), "expired", true},
		{"store error", errors.New("redis down"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RefusalReason(tc.err); got != tc.reason {
				t.Errorf("RefusalReason = %q, want %q", got, tc.reason)
			}
			if got := errors.Is(tc.err, ErrUnknownToken); got != tc.unknown {
				t.Errorf("errors.Is(ErrUnknownToken) = %v, want %v", got, tc.unknown)
			}
		})
	}
	if got := expired.Error(); got != "unknown token: expired" {
		t.Errorf("Error() = %q", got)
	}
}

// refusingStore refuses every token with one reason.
type refusingStore struct{ calls int }

func (s *refusingStore) Resolve(context.Context, string) (Target, error) {
	s.calls++
	return Target{}, &RefusedError{Reason: "token API answered 404"}
}

// TestCacheKeepsRefusalReason: a refusal answered from the cache gives the
// store's reason, as the first answer did.
func TestCacheKeepsRefusalReason(t *testing.T) {
	store := &refusingStore{}
	c := &Cache{Store: store, NegativeTTL: time.Hour}
	for i := range 2 {
		_, err := c.Resolve(context.Background(), "t")
		if !errors.Is(err, ErrUnknownToken) || RefusalReason(err) != "token API answered 404" {
			t.Fatalf("lookup %d: %v, reason %q", i, err, RefusalReason(err))
		}
	}
	if store.calls != 1 {
		t.Fatalf("%d lookups reached the store, want 1 (the second from the cache)", store.calls)
	}
}
