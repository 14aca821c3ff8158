package engine

import (
	"testing"
	"unsafe"
)

// TestSessionSizeClass pins the size of the structs an idle console holds:
// every open console keeps a session (and nothing of sessionOpen), so a
// field added to session costs memory on every console. Going past a limit
// here is a choice to make knowingly: docs/BENCHMARKS.md ("What an idle
// console's memory is made of") then wants its figures redone.
func TestSessionSizeClass(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, max uintptr
	}{
		// 320 bytes is one of Go's malloc size classes (…, 288, 320, 352, …).
		{"session", unsafe.Sizeof(session{}), 320},
		// Allocated only with --record, token expiry or --heartbeat.
		{"sessionExtra", unsafe.Sizeof(sessionExtra{}), 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.size > tc.max {
				t.Errorf("unsafe.Sizeof(%s{}) = %d bytes, over the %d-byte size class it is pinned to", tc.name, tc.size, tc.max)
			}
		})
	}
}
