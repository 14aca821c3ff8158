package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestSyslog sends log records through --syslog to a UDP server and to a
// local datagram socket (as /dev/log), in RFC 5424 form and with
// --legacy-syslog, and reads them as a syslog daemon would.
func TestSyslog(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	host, _ := os.Hostname()
	rfc5424 := regexp.MustCompile(`^<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ` + regexp.QuoteMeta(host) + ` vncrelay ` + pid + ` - - level=(\w+) msg="?([^"]*)"?`)
	legacy := regexp.MustCompile(`^<(\d+)>vncrelay\[` + pid + `\]: level=(\w+) msg="?([^"]*)"?`)

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	sock := filepath.Join(t.TempDir(), "log")
	unixgram, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unixgram.Close()

	for _, tt := range []struct {
		name   string
		server string
		conn   net.PacketConn
		legacy bool
		re     *regexp.Regexp
	}{
		{"UDP, RFC 5424", udp.LocalAddr().String(), udp, false, rfc5424},
		{"UDP, legacy", udp.LocalAddr().String(), udp, true, legacy},
		{"local socket, RFC 5424", sock, unixgram, false, rfc5424},
		{"local socket, legacy", sock, unixgram, true, legacy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &options{logFormat: "text", syslog: tt.server, legacySys: tt.legacy}
			log, closeLog, err := newLogger(o, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("console open", "client", "192.0.2.1")
			log.Error("token lookup failed")
			closeLog()
			for _, want := range []struct {
				pri, level, msg string
			}{{"14", "INFO", "console open"}, {"11", "ERROR", "token lookup failed"}} { // facility user (1) × 8 + severity
				buf := make([]byte, 2048)
				_ = tt.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, _, err := tt.conn.ReadFrom(buf)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				m := tt.re.FindSubmatch(buf[:n])
				if m == nil || string(m[1]) != want.pri || string(m[2]) != want.level || string(m[3]) != want.msg {
					t.Fatalf("message %q does not match %s with <%s> %s %q", buf[:n], tt.re, want.pri, want.level, want.msg)
				}
			}
		})
	}
	if _, err := parseOptions([]string{"--legacy-syslog", "6080", "h:1"}, io.Discard); err == nil {
		t.Fatal("--legacy-syslog without --syslog accepted")
	}
	if _, _, err := newLogger(&options{logFormat: "text", syslog: "host:notaport"}, io.Discard); err == nil {
		t.Fatal("bad --syslog accepted")
	}
}
