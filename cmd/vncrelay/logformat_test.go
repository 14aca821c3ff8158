package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLogDurations: durations read the same in the text and JSON logs, as
// Go's duration text, never integer nanoseconds.
func TestLogDurations(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"text", "duration=1.5s idle=2m0s"},
		{"json", `"duration":"1.5s","idle":"2m0s"`},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var out bytes.Buffer
			log, closeLog, err := newLogger(&options{logFormat: tc.format}, &out)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("console closed", "duration", 1500*time.Millisecond, "idle", any(2*time.Minute))
			log.WithGroup("g").Info("nested", "wait", 250*time.Millisecond)
			closeLog()
			got := out.String()
			if !strings.Contains(got, tc.want) || strings.Contains(got, "1500000000") {
				t.Fatalf("log %q, want %q", got, tc.want)
			}
			if tc.format == "json" {
				var rec struct {
					G struct{ Wait string } `json:"g"`
				}
				line := strings.Split(strings.TrimSpace(got), "\n")[1]
				if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.G.Wait != "250ms" {
					t.Fatalf("nested duration: %q (%v)", line, err)
				}
			}
		})
	}
}
