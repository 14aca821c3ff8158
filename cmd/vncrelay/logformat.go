package main

import (
	"log/slog"
)

// logDurations is the handlers' ReplaceAttr: a time.Duration is written as
// Go's duration text ("1.5s", "350ms", "1h0m0s") in every format. slog's
// text handler already does; its JSON handler would write integer
// nanoseconds, which a reader takes for seconds or milliseconds. The log
// format is in docs/OPERATIONS.md (Logs).
func logDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
