package main

import (
	"io"

	"github.com/vncrelay/vncrelay/engine"
)

// trafficLegend is printed once when --traffic is on. The marks are
// websockify's; vncrelay prints a pair per relayed payload: what was
// received and where it went.
const trafficLegend = `Traffic legend:
    }  - client receive
    {  - target receive
    >  - target send
    <  - client send
`

// withTraffic wraps cfg.Recorder so that every relayed read prints its
// legend marks to w (websockify's --traffic, a debugging aid): a pair per
// frame payload from the browser (several may reach the console in one
// write) and per read from the console. w must not block: it is written on
// the event loop (asyncLog is used).
func withTraffic(cfg *engine.Config, w io.Writer) {
	_, _ = io.WriteString(w, trafficLegend)
	next := cfg.Recorder
	cfg.Recorder = func(now int64) engine.ConsoleRecorder {
		t := &trafficConsole{w: w}
		if next != nil {
			t.next = next(now)
		}
		return t
	}
}

// trafficConsole prints one console's marks and passes the payload on to
// the --record recorder, if any.
type trafficConsole struct {
	w    io.Writer
	next engine.ConsoleRecorder
}

var (
	marksFromBrowser = []byte("}>")
	marksFromConsole = []byte("{<")
)

// Record prints the marks of one relayed read.
func (t *trafficConsole) Record(now int64, fromBrowser bool, p []byte) {
	if fromBrowser {
		_, _ = t.w.Write(marksFromBrowser)
	} else {
		_, _ = t.w.Write(marksFromConsole)
	}
	if t.next != nil {
		t.next.Record(now, fromBrowser, p)
	}
}

// Close ends the line of marks and the recording.
func (t *trafficConsole) Close() {
	_, _ = t.w.Write([]byte("\n"))
	if t.next != nil {
		t.next.Close()
	}
}
