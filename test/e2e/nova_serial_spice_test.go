package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/novatest"
)

// startQEMUText starts a halted QEMU whose human monitor listens on a free
// loopback TCP port: a text console over a TCP chardev, as a serial console
// is (Nova's serial consoles are QEMU TCP chardevs), that answers what it is
// sent. It returns the port.
func startQEMUText(t *testing.T) int {
	t.Helper()
	port := freePort(t)
	startQEMU(t, port, "-monitor", fmt.Sprintf("tcp:127.0.0.1:%d,server=on,wait=off", port))
	return port
}

// startQEMUSpice starts a halted QEMU with its SPICE server on a free
// loopback port and returns the port.
func startQEMUSpice(t *testing.T) int {
	t.Helper()
	port := freePort(t)
	startQEMU(t, port, "-vga", "qxl", "-spice", fmt.Sprintf("port=%d,addr=127.0.0.1,disable-ticketing=on", port))
	return port
}

// TestNovaSerialProxy replaces nova-serialproxy: serial tokens open the
// text console byte for byte (no RFB proxy), novnc tokens are refused.
func TestNovaSerialProxy(t *testing.T) {
	e := startNovaEnv(t)
	text := startQEMUText(t)
	serial := e.token(t, novatest.TokenSpec{ConsoleType: "serial", Port: text, AccessURLBase: "ws://127.0.0.1:6083/"}, nil)
	vnc := e.token(t, novatest.TokenSpec{}, nil)
	port := freePort(t)
	conf := e.novaConf(t, 0, fmt.Sprintf("[serial_console]\nserialproxy_host = 127.0.0.1\nserialproxy_port = %d\n", port))
	addr := startNovaProxy(t, "nova-serialproxy", func() []string { return []string{serial, vnc} }, "--config-file", conf)
	if addr != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("listening on %s, want [serial_console] serialproxy_port %d", addr, port)
	}
	if s := rawUpgrade(t, addr, "/?token="+vnc); s != 403 {
		t.Fatalf("novnc token at the serial proxy: status %d", s)
	}
	s := openRaw(t, addr, "/?token="+serial)
	banner, ok := s.readUntil("(qemu) ", 10*time.Second)
	if !ok || !strings.Contains(banner, "QEMU") {
		t.Fatalf("console banner %q", banner)
	}
	if !s.send([]byte("info status\n")) {
		t.Fatal("send")
	}
	answer, ok := s.readUntil("(qemu) ", 10*time.Second)
	if !ok || !strings.Contains(answer, "paused") {
		t.Fatalf("console answer %q", answer)
	}
}

// TestNovaSpiceHTML5Proxy replaces nova-spicehtml5proxy: spice-html5's pages
// from [DEFAULT] web, and spice-html5 tokens relayed untouched to QEMU's
// SPICE server, which answers a SPICE link message.
func TestNovaSpiceHTML5Proxy(t *testing.T) {
	need(t, "python3")
	e := startNovaEnv(t)
	spice := startQEMUSpice(t)
	tok := e.token(t, novatest.TokenSpec{ConsoleType: "spice-html5", Port: spice,
		AccessURLBase: "http://127.0.0.1:6082/spice_auto.html"}, nil)
	port := freePort(t)
	conf := e.novaConf(t, 0, fmt.Sprintf("[spice]\nhtml5proxy_host = 127.0.0.1\nhtml5proxy_port = %d\n", port))
	confPath := filepath.Join(t.TempDir(), "nova.conf")
	if err := os.WriteFile(confPath, []byte(strings.Replace(readFile(t, conf), "web = /usr/share/novnc", "web = /usr/share/spice-html5", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startNovaProxy(t, "nova-spicehtml5proxy", func() []string { return []string{tok} }, "--config-file", confPath)
	if page := httpGet(t, "http://"+addr+"/spice_auto.html"); !strings.Contains(page, "<html") {
		t.Fatalf("spice_auto.html: %q", page[:min(len(page), 200)])
	}
	s := openRaw(t, addr, "/?token="+tok)
	// SpiceLinkHeader (spice-protocol): magic "REDQ", major 2, minor 2,
	// size of the SpiceLinkMess that follows.
	mess := make([]byte, 18)
	binary.LittleEndian.PutUint32(mess[4:], 1) // channel type main
	binary.LittleEndian.PutUint32(mess[14:], 18)
	hdr := append([]byte("REDQ"), le32(2)...)
	hdr = append(append(hdr, le32(2)...), le32(uint32(len(mess)))...)
	if !s.send(append(hdr, mess...)) {
		t.Fatal("send")
	}
	reply, ok := s.read(16)
	if !ok || !bytes.Equal(reply[:4], []byte("REDQ")) || binary.LittleEndian.Uint32(reply[4:]) != 2 {
		t.Fatalf("SPICE link reply %q", reply)
	}
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// rawSession is a WebSocket session with no console protocol of its own:
// binary frames out, binary frames in.
type rawSession struct {
	c   net.Conn
	br  *bufio.Reader
	buf []byte // payload bytes read and not yet taken
}

// openRaw upgrades to addr+path and fails the test unless it gets a 101.
func openRaw(t *testing.T, addr, path string) *rawSession {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	req := upgradeReq(path, addr)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	s := &rawSession{c: c, br: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	status, err := s.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade: %q %v", status, err)
	}
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			return s
		}
	}
}

// send writes p as one masked binary frame (mask 0: the payload as is).
func (s *rawSession) send(p []byte) bool {
	f := append([]byte{0x82, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	_, err := s.c.Write(f)
	return err == nil
}

// fill reads one more binary frame's payload into buf.
func (s *rawSession) fill(deadline time.Time) bool {
	_ = s.c.SetReadDeadline(deadline)
	var h [2]byte
	if _, err := io.ReadFull(s.br, h[:]); err != nil || h[0] != 0x82 {
		return false
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(s.br, l[:]); err != nil {
			return false
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		return false // no console here sends 64 KiB at once
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(s.br, p); err != nil {
		return false
	}
	s.buf = append(s.buf, p...)
	return true
}

// read returns the next n payload bytes.
func (s *rawSession) read(n int) ([]byte, bool) {
	deadline := time.Now().Add(10 * time.Second)
	for len(s.buf) < n {
		if !s.fill(deadline) {
			return nil, false
		}
	}
	out := s.buf[:n]
	s.buf = s.buf[n:]
	return out, true
}

// readUntil returns the payload text up to and including marker.
func (s *rawSession) readUntil(marker string, d time.Duration) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		if i := bytes.Index(s.buf, []byte(marker)); i >= 0 {
			out := string(s.buf[:i+len(marker)])
			s.buf = s.buf[i+len(marker):]
			return out, true
		}
		if !s.fill(deadline) {
			return string(s.buf), false
		}
	}
}

// httpGet fetches a page (10 s at most) and returns its body; anything
// but a whole 200 fails the test.
func httpGet(t *testing.T, u string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}
