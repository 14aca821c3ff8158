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

// gnetStaleEvent is the format of gnet's warning for an event of a socket
// it no longer knows: one closed while handling an earlier event of the same
// epoll_wait batch (the console closed with its browser). The kernel had
// queued the event before the close; nothing is wrong, so it goes out at
// Debug.
const gnetStaleEvent = "received event[fd=%d|ev=%d|flags=%d] of a stale connection from event-loop(%d)"

func (g gnetLogger) logf(level slog.Level, format string, args ...any) {
	switch format {
	case gnetLevelLine:
		return
	case gnetStaleEvent:
		level = slog.LevelDebug
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
