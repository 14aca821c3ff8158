package main

import (
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDurationOptions: every duration option takes websockify's bare
// seconds and Go durations alike, and refuses what is neither.
func TestDurationOptions(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        time.Duration
		err         string
	}{
		{"seconds", "30", 30 * time.Second, ""},
		{"fraction of a second", "0.5", 500 * time.Millisecond, ""},
		{"leading dot", ".25", 250 * time.Millisecond, ""},
		{"zero", "0", 0, ""},
		{"negative seconds", "-1", -time.Second, ""},
		{"Go duration", "1m30s", 90 * time.Second, ""},
		{"milliseconds", "500ms", 500 * time.Millisecond, ""},
		{"negative Go duration", "-2s", -2 * time.Second, ""},
		{"exponent", "1e3", 0, "want seconds"},
		{"hex", "0x10", 0, "want seconds"},
		{"infinity", "Inf", 0, "want seconds"},
		{"NaN", "NaN", 0, "want seconds"},
		{"unit unknown", "5 minutes", 0, "want seconds"},
		{"too many seconds", "99999999999999999999", 0, "out of range"},
		{"empty", "", 0, "want seconds"},
	} {
		for _, opt := range []struct {
			name string
			get  func(*options) time.Duration
		}{
			{"heartbeat", func(o *options) time.Duration { return o.heartbeat }},
			{"idle-timeout", func(o *options) time.Duration { return o.idle }},
			{"timeout", func(o *options) time.Duration { return o.timeout }},
			{"revoke-check", func(o *options) time.Duration { return o.revokeCheck }},
			{"handshake-timeout", func(o *options) time.Duration { return o.handshakeTO }},
			{"connect-timeout", func(o *options) time.Duration { return o.connectTO }},
			{"close-timeout", func(o *options) time.Duration { return o.closeTO }},
			{"drain-timeout", func(o *options) time.Duration { return o.drainTO }},
			{"console-idle-timeout", func(o *options) time.Duration { return o.consoleIdleTO }},
			{"pong-timeout", func(o *options) time.Duration { return o.pongTO }},
			{"handover-timeout", func(o *options) time.Duration { return o.handoverTO }},
			{"token-cache-ttl", func(o *options) time.Duration { return o.cacheTTL }},
			{"token-negative-ttl", func(o *options) time.Duration { return o.negativeTTL }},
			{"tls-handshake-timeout", func(o *options) time.Duration { return o.tls.handshakeTO }},
		} {
			t.Run(tc.name+"/"+opt.name, func(t *testing.T) {
				o, err := parseOptions([]string{"--" + opt.name + "=" + tc.value, "6080", "h:1"}, io.Discard)
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("got %v, want an error saying %q", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := opt.get(o); got != tc.want {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

// TestDurationHelp: --help names every duration option's type the same way
// and says how a duration is written.
func TestDurationHelp(t *testing.T) {
	var out strings.Builder
	_, _ = parseOptions([]string{"--help"}, &out)
	help := out.String()
	if !strings.Contains(help, "A duration is a number of seconds") {
		t.Fatalf("--help does not say how a duration is written:\n%s", help)
	}
	for _, opt := range []string{"--heartbeat", "--timeout", "--idle-timeout", "--revoke-check", "--connect-timeout"} {
		if !strings.Contains(help, opt+" duration ") {
			t.Errorf("--help shows %s without the duration type", opt)
		}
	}
	if strings.Contains(help, "SECS") || strings.Contains(help, "(default 0") {
		t.Errorf("--help still mentions SECS or a zero default:\n%s", help)
	}
}

// FuzzDurationValue: any option value is a duration or an error, never a
// panic; a bare number is that many seconds, anything else what
// time.ParseDuration says.
func FuzzDurationValue(f *testing.F) {
	for _, s := range []string{"30", "0.5", ".25", "-1", "1m30s", "500ms", "1e3", "Inf", "", "99999999999999999999", "+3", "3."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d time.Duration
		err := durationValue{&d}.Set(s)
		if err != nil {
			return
		}
		if bareSeconds.MatchString(s) {
			secs, perr := strconv.ParseFloat(s, 64)
			if perr != nil || math.Abs(d.Seconds()-secs) > 1e-6*math.Max(1, math.Abs(secs)) {
				t.Fatalf("%q gave %v", s, d)
			}
			return
		}
		if want, perr := time.ParseDuration(s); perr != nil || want != d {
			t.Fatalf("%q gave %v, time.ParseDuration %v %v", s, d, want, perr)
		}
	})
}
