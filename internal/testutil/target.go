package testutil

import (
	"fmt"
	"testing"
)

// WantTarget checks what a console target parser returned (an auth.Target,
// or any value whose String is its log form) against a table's want: got's
// String, or "" when the input must be refused with an error. A mismatch
// fails the test.
func WantTarget[T fmt.Stringer](t testing.TB, got T, err error, want string) {
	t.Helper()
	if want == "" {
		if err == nil {
			t.Fatalf("accepted as %v", got)
		}
		return
	}
	if err != nil || got.String() != want {
		t.Fatalf("got %v, %v; want %s", got, err, want)
	}
}
