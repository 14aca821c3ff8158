package auth

import (
	"errors"
	"fmt"
	"testing"
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
