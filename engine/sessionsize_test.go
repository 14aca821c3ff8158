package engine

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/vncrelay/vncrelay/bench/rfb"
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
		// 288 bytes is one of Go's malloc size classes (…, 256, 288, 320, …).
		{"session", unsafe.Sizeof(session{}), 288},
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

// TestRelayingSessionHoldsNoOpenState: once a console relays, its session
// has given its sessionOpen back to the loop's free list, cleared (no
// request head, no token, no policy kept), and holds a sessionExtra only
// when a feature that needs one is on.
func TestRelayingSessionHoldsNoOpenState(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mod       func(*Config)
		wantExtra bool
	}{
		{"plain", nil, false},
		{"heartbeat", func(c *Config) { c.Heartbeat = time.Hour }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, rfb.ModeEcho, tc.mod)
			defer e.close()
			w := e.dial()
			w.rfbHandshake()
			w.send([]byte("ping"))
			if got := w.readData(4); string(got) != "ping" {
				t.Fatalf("echo: %q", got)
			}
			var sessions, free int
			e.srv.eachLoop(func(ls *loopState) {
				for _, s := range ls.sessions {
					sessions++
					if s.op != nil {
						t.Errorf("relaying session holds its sessionOpen: %+v", *s.op)
					}
					if (s.ext != nil) != tc.wantExtra {
						t.Errorf("sessionExtra = %v, want one: %v", s.ext, tc.wantExtra)
					}
				}
				for _, o := range ls.freeOpens {
					free++
					if !reflect.ValueOf(*o).IsZero() {
						t.Errorf("free sessionOpen not cleared: %+v", *o)
					}
				}
			})
			if sessions != 1 || free != 1 {
				t.Errorf("%d sessions, %d free sessionOpen; want 1 and 1", sessions, free)
			}
			_ = w.c.Close()
		})
	}
}
