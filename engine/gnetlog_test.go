package engine

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestGnetLogLevels: gnet's start-up chatter is at Debug (seen with -v
// only), never Info; its warnings and errors keep their level.
func TestGnetLogLevels(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level slog.Level
		log   func(gnetLogger)
		want  string // "" for nothing logged
	}{
		{"info at Info", slog.LevelInfo, func(g gnetLogger) { g.Infof("Starting gnet client with %d event loops", 2) }, ""},
		{"info at Debug", slog.LevelDebug, func(g gnetLogger) { g.Infof("Starting gnet client with %d event loops", 2) },
			`level=DEBUG msg="Starting gnet client with 2 event loops" component=gnet`},
		{"level line dropped", slog.LevelDebug, func(g gnetLogger) { g.Debugf(gnetLevelLine, "INFO") }, ""},
		{"stale event at Info", slog.LevelInfo, func(g gnetLogger) { g.Warnf(gnetStaleEvent, 17, 1, 0, 0) }, ""},
		{"stale event at Debug", slog.LevelDebug, func(g gnetLogger) { g.Warnf(gnetStaleEvent, 17, 1, 0, 0) },
			`level=DEBUG msg="received event[fd=17|ev=1|flags=0] of a stale connection from event-loop(0)" component=gnet`},
		{"warning", slog.LevelInfo, func(g gnetLogger) { g.Warnf("w %d", 1) }, `level=WARN msg="w 1" component=gnet`},
		{"error", slog.LevelInfo, func(g gnetLogger) { g.Errorf("e %d", 1) }, `level=ERROR msg="e 1" component=gnet`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tc.log(gnetLogger{slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: tc.level}))})
			got := b.String()
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("logged %q, want %q", got, tc.want)
			}
		})
	}

	// A real server at Info says nothing from gnet when it starts and stops.
	logs := &testutil.Buffer{}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	w := e.dial() // serving: gnet has started
	_ = w.c.Close()
	e.close()
	if strings.Contains(logs.String(), "gnet") {
		t.Fatalf("gnet lines at Info:\n%s", logs.String())
	}
}
