package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Log buffering bounds.
const (
	logFlushInterval = 100 * time.Millisecond // longest a line waits
	logFlushSize     = 64 << 10               // a buffer this full is written at once
	logMaxPending    = 4 << 20                // past this, lines are dropped and counted
)

// asyncLog takes log lines from the event loops without ever blocking them on
// I/O: Write appends to a memory buffer, and a goroutine of its own writes the
// buffer out every logFlushInterval, or sooner once logFlushSize has gathered.
// One write syscall per line was a measurable share of the CPU a console costs
// to open, and a slow log sink (a full pipe) must not stall consoles. If the
// sink falls behind by logMaxPending, lines are dropped and the count of
// dropped lines is written when it catches up. Close writes everything out.
type asyncLog struct {
	w       io.Writer
	mu      sync.Mutex
	buf     []byte
	dropped int
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newAsyncLog(w io.Writer) *asyncLog {
	l := &asyncLog{w: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

// Write queues p; it never blocks on the sink.
func (l *asyncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	if len(l.buf)+len(p) > logMaxPending {
		l.dropped++
		l.mu.Unlock()
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	full := len(l.buf) >= logFlushSize
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (l *asyncLog) run() {
	defer close(l.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	var spare []byte
	for {
		select {
		case <-l.stop:
			l.flush(spare)
			return
		case <-t.C:
		case <-l.kick:
		}
		spare = l.flush(spare)
	}
}

// flush swaps the buffer for spare and writes it out; it returns the written
// buffer, emptied, to be the next spare.
func (l *asyncLog) flush(spare []byte) []byte {
	l.mu.Lock()
	out, dropped := l.buf, l.dropped
	l.buf, l.dropped = spare[:0], 0
	l.mu.Unlock()
	if len(out) > 0 {
		_, _ = l.w.Write(out)
	}
	if dropped > 0 {
		fmt.Fprintf(l.w, "level=WARN msg=\"log lines dropped: the log sink was too slow\" count=%d\n", dropped)
	}
	return out[:0]
}

// Close writes out what is queued and stops the writer goroutine.
func (l *asyncLog) Close() error {
	close(l.stop)
	<-l.done
	return nil
}
