package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// gnetLogger routes gnet's own log lines into the server's slog logger so that
// one log stream, in one format, holds everything. gnet's Info lines are its
// start-up and shut-down chatter ("Starting gnet client with 2 event loops",
// which "vncrelay listening" says too): they go out at Debug, seen only with
// -v. Its "default logging level is INFO" line, about gnet's own default
// logger, which is not in use, is dropped.
type gnetLogger struct{ l *slog.Logger }

// gnetLevelLine is the format of gnet's line naming its own logger's level.
const gnetLevelLine = "default logging level is %s"

func (g gnetLogger) logf(level slog.Level, format string, args ...any) {
	if format == gnetLevelLine {
		return
	}
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "gnet")
	}
}

func (g gnetLogger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g gnetLogger) Infof(format string, args ...any)  { g.logf(slog.LevelDebug, format, args...) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.logf(slog.LevelWarn, format, args...) }
func (g gnetLogger) Errorf(format string, args ...any) { g.logf(slog.LevelError, format, args...) }
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.logf(slog.LevelError, format, args...)
	os.Exit(1)
}
