package engine

import (
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// TestTLSMemoryReleaseAfterBurst: memory is returned once a burst of
// handshakes is over, not while one is in progress, not for a few
// handshakes, and not again within tlsReleaseEvery (then when it is over:
// not waited for here).
func TestTLSMemoryReleaseAfterBurst(t *testing.T) {
	cases := []struct {
		name       string
		handshakes int64
		inProgress bool
		recent     bool // a release happened just before
		want       bool
	}{
		{"burst over", tlsBurstHandshakes, false, false, true},
		{"a few handshakes", 3, false, false, false},
		{"handshake in progress", tlsBurstHandshakes, true, false, false},
		{"released recently", tlsBurstHandshakes, false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTLSEnv(t, rfb.ModeEcho, nil)
			srv := e.srv
			if tc.recent {
				srv.tlsMem.last.Store(time.Now().UnixNano())
			}
			before := srv.tlsMem.last.Load()
			if tc.inProgress {
				srv.tlsSlots <- struct{}{}
				defer func() { <-srv.tlsSlots }()
			}
			srv.tlsMem.since.Store(tc.handshakes - 1)
			srv.handshakeEnded()
			deadline := time.Now().Add(tlsBurstQuiet + 2*time.Second)
			for time.Now().Before(deadline) && srv.tlsMem.last.Load() == before {
				time.Sleep(50 * time.Millisecond)
			}
			if got := srv.tlsMem.last.Load() != before; got != tc.want {
				t.Fatalf("released: %v, want %v", got, tc.want)
			}
		})
	}
}
