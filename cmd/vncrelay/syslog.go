package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Syslog facilities websockify uses (RFC 5424 section 6.2.1): user, or
// daemon with --daemon.
const (
	facilityUser   = 1
	facilityDaemon = 3
)

// syslogQueue bounds the messages waiting for the syslog socket.
const syslogQueue = 4096

// syslogSink sends log records to a syslog server as websockify's --syslog
// does: SERVER is host:port (UDP) or the path of a local socket (datagram,
// as /dev/log), the application name is "vncrelay", and the header is RFC
// 5424's ("<PRI>1 TIMESTAMP HOSTNAME vncrelay PID - - MSG") or, with
// --legacy-syslog, the old BSD one ("<PRI>vncrelay[PID]: MSG"), both as
// websockify writes them. Records are queued and sent by a goroutine of its
// own, so a stalled syslog daemon never blocks an event loop; when the queue
// is full, records are dropped and counted in the next message sent.
type syslogSink struct {
	conn     net.Conn
	stream   bool // a stream socket: messages end with '\n'
	facility int
	legacy   bool
	host     string
	pid      int
	q        chan sysMsg
	dropped  atomic.Int64
	done     chan struct{}
	mu       sync.RWMutex // Write holds it shared; Close exclusively
	closed   bool
}

type sysMsg struct {
	severity int
	text     []byte
}

// dialSyslog connects to server (host:port or a socket path).
func dialSyslog(server string, legacy, daemon bool) (*syslogSink, error) {
	network, addr := "unixgram", server
	if strings.Contains(server, ":") {
		host, port, err := net.SplitHostPort(server)
		if _, perr := strconv.Atoi(port); err != nil || perr != nil {
			return nil, fmt.Errorf("--syslog %s: want host:port or a socket path", server)
		}
		network, addr = "udp", net.JoinHostPort(host, port)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(context.Background(), network, addr)
	stream := false
	if err != nil && network == "unixgram" {
		conn, err = d.DialContext(context.Background(), "unix", addr) // a stream socket, as websockify falls back to
		stream = true
	}
	if err != nil {
		return nil, fmt.Errorf("--syslog: %w", err)
	}
	host, _ := os.Hostname()
	s := &syslogSink{conn: conn, stream: stream, facility: facilityUser, legacy: legacy, host: host, pid: os.Getpid(),
		q: make(chan sysMsg, syslogQueue), done: make(chan struct{})}
	if daemon {
		s.facility = facilityDaemon
	}
	go s.run()
	return s, nil
}

// Write takes one record formatted by the syslog handler (slog's text form
// without time, starting "level=..."); it never blocks.
func (s *syslogSink) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	m := sysMsg{severity: severityOf(line), text: bytes.ReplaceAll(line, []byte("\n"), []byte(" "))}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return len(p), nil
	}
	select {
	case s.q <- m:
	default:
		s.dropped.Add(1)
	}
	return len(p), nil
}

// severityOf maps the record's slog level to a syslog severity (RFC 5424
// section 6.2.1), as Python's SysLogHandler maps logging's levels.
func severityOf(line []byte) int {
	switch {
	case bytes.HasPrefix(line, []byte("level=ERROR")):
		return 3
	case bytes.HasPrefix(line, []byte("level=WARN")):
		return 4
	case bytes.HasPrefix(line, []byte("level=DEBUG")):
		return 7
	}
	return 6
}

func (s *syslogSink) run() {
	defer close(s.done)
	var b []byte
	for m := range s.q {
		if n := s.dropped.Swap(0); n > 0 {
			b = s.format(b[:0], 4, []byte(fmt.Sprintf("level=WARN msg=\"syslog messages dropped: the syslog socket was too slow\" count=%d", n)))
			_, _ = s.conn.Write(b)
		}
		b = s.format(b[:0], m.severity, m.text)
		_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = s.conn.Write(b)
	}
}

// format appends one syslog message: websockify's header, then text.
func (s *syslogSink) format(b []byte, severity int, text []byte) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(s.facility*8+severity), 10)
	b = append(b, '>')
	if s.legacy {
		b = append(b, "vncrelay["...)
		b = strconv.AppendInt(b, int64(s.pid), 10)
		b = append(b, "]: "...)
	} else {
		b = append(b, "1 "...)
		b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
		b = append(b, ' ')
		b = append(b, s.host...)
		b = append(b, " vncrelay "...)
		b = strconv.AppendInt(b, int64(s.pid), 10)
		b = append(b, " - - "...)
	}
	b = append(b, text...)
	if s.stream {
		b = append(b, '\n') // a stream socket needs a delimiter
	}
	return b
}

// Close sends what is queued and closes the socket.
func (s *syslogSink) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.q)
	}
	s.mu.Unlock()
	<-s.done
	return s.conn.Close()
}

// syslogHandler formats records for the sink: slog's text form without the
// time (the syslog header has it).
func syslogHandler(s *syslogSink, level slog.Leveler) slog.Handler {
	return slog.NewTextHandler(s, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})
}
