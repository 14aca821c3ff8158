package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upgrade sends a WebSocket upgrade for token and returns the status code,
// the connection (closed when the test ends) and its reader after the
// answer's head.
func upgrade(t *testing.T, addr, token string) (int, net.Conn, *bufio.Reader) {
	t.Helper()
	return upgradeDial(t, &net.Dialer{}, addr, token)
}

// upgradeDial is upgrade over a connection d dials.
func upgradeDial(t *testing.T, d *net.Dialer, addr, token string) (int, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_, _ = io.WriteString(c, upgradeReq("/websockify?token="+token, "x"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("upgrade via %s: %v", addr, err)
	}
	var status int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &status); err != nil {
		t.Fatalf("status line %q", line)
	}
	for line != "\r\n" {
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	return status, c, br
}

// TestSIGHUPReloadsTokens: ReadOnlyTokenFile never rereads on its own; SIGHUP
// makes it.
func TestSIGHUPReloadsTokens(t *testing.T) {
	path := tokenFile(t, echoConsole(t))
	addr, proc := startRelayCmd(t, "--token-plugin", "ReadOnlyTokenFile", "--token-source", path)
	if st, _, _ := upgrade(t, addr, canary); st != 101 {
		t.Fatalf("known token: %d", st)
	}
	second := canary + "-2"
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%s: %s\n", second, strings.TrimSpace(strings.SplitN(readFile(t, path), ": ", 3)[1]))
	_ = f.Close()
	if st, _, _ := upgrade(t, addr, second); st != 403 {
		t.Fatalf("read-only file reloaded without SIGHUP: %d", st)
	}
	if err := proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _, _ := upgrade(t, addr, second)
		if st == 101 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP: %d", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSIGTERMDrain: SIGTERM sends close 1001 to a live console and the
// process exits 0 within the drain timeout.
func TestSIGTERMDrain(t *testing.T) {
	addr, proc := startRelayCmd(t, "--drain-timeout", "5s", "--token-plugin", "TokenFile",
		"--token-source", tokenFile(t, echoConsole(t)))
	st, c, br := upgrade(t, addr, canary)
	if st != 101 {
		t.Fatalf("status %d", st)
	}
	if _, err := io.ReadFull(br, make([]byte, 2+12)); err != nil { // the RFB version frame
		t.Fatal(err)
	}
	start := time.Now()
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x88 || hdr[1] < 2 {
		t.Fatalf("frame % x, want a close", hdr)
	}
	payload := make([]byte, hdr[1])
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	if code := binary.BigEndian.Uint16(payload); code != 1001 {
		t.Fatalf("close code %d, want 1001", code)
	}
	// Answer as a browser would; the relay then exits.
	if _, err := c.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9}); err != nil {
		t.Fatal(err)
	}
	if err, ok := proc.wait(10 * time.Second); !ok {
		t.Fatal("relay did not exit after SIGTERM")
	} else if err != nil {
		t.Fatalf("exit: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("drain took %v", d)
	}
}
