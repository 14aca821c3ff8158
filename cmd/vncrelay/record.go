package main

import (
	"log/slog"

	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/record"
)

// startRecording wires websockify's --record FILE: every console's traffic
// goes to FILE.N. The returned stop completes the files still open and logs
// what the queue bound dropped; call it after the server has stopped.
func startRecording(cfg *engine.Config, prefix string, log *slog.Logger) (stop func(), err error) {
	rec, err := record.New(prefix, record.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	log.Warn("recording every console's traffic, keystrokes included: keep the directory private", "prefix", prefix)
	cfg.Recorder = func(now int64) engine.ConsoleRecorder {
		if c := rec.Start(now); c != nil {
			return c
		}
		return nil // not a nil *record.Console in a non-nil interface
	}
	return func() {
		_ = rec.Close()
		if n := rec.Dropped(); n > 0 {
			log.Warn("recording queue was full: bytes not recorded", "bytes", n)
		}
	}, nil
}
