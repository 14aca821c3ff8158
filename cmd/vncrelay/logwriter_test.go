package main

import (
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

func TestAsyncLogKeepsOrderAndFlushesOnClose(t *testing.T) {
	var sink testutil.Buffer
	l := newAsyncLog(&sink)
	var want strings.Builder
	for i := range 5000 {
		line := strings.Repeat("x", i%50) + "\n"
		want.WriteString(line)
		_, _ = l.Write([]byte(line))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if sink.String() != want.String() {
		t.Fatalf("log differs: %d bytes, want %d", sink.Len(), want.Len())
	}
}

// blockedWriter never returns, like a pipe nobody reads.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

func TestAsyncLogNeverBlocksTheCaller(t *testing.T) {
	sink := blockedWriter{release: make(chan struct{})}
	l := newAsyncLog(sink)
	line := []byte(strings.Repeat("y", 1000) + "\n")
	for range 10000 { // 10 MB into a sink that takes nothing: must return at once
		_, _ = l.Write(line)
	}
	l.mu.Lock()
	dropped := l.dropped
	l.mu.Unlock()
	if dropped == 0 {
		t.Fatal("nothing dropped although the sink is stuck")
	}
	close(sink.release)
	_ = l.Close()
}
