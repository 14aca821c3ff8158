package e2e

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStoppedBrowser: a browser process that is stopped (SIGSTOP: its kernel
// still acknowledges, but nothing answers pings) is closed by the heartbeat
// and pong timeout.
func TestStoppedBrowser(t *testing.T) {
	node := need(t, "node")
	addr, proc, logs := startRelayLogged(t, nil, "--heartbeat", "1", "--pong-timeout", "1s",
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	_ = proc
	cmd := exec.Command(node, "hold.mjs", "ws://"+addr+"/?token="+canary)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("hold.mjs: %q %v", line, err)
	}
	time.Sleep(1500 * time.Millisecond) // a heartbeat or two, answered
	if strings.Contains(logs.String(), "console closed") {
		t.Fatalf("console closed while the browser answered:\n%s", logs.String())
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "reason=pong_timeout") {
		if time.Now().After(deadline) {
			t.Fatalf("stopped browser not closed:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDescriptorExhaustion: under a descriptor limit of 96 and a connection
// cap set above what that allows (the relay warns at start), a flood of
// connections makes accept fail with EMFILE; the relay backs off instead of
// stopping, the live console keeps relaying, and new consoles succeed once the
// flood is gone, without a restart. (With the default cap, derived from the
// limit, the flood is answered 503 and accept never meets EMFILE:
// TestDescriptorBudget.)
func TestDescriptorExhaustion(t *testing.T) {
	prlimit := need(t, "prlimit")
	addr, proc, logs := startRelayLogged(t, []string{prlimit, "--nofile=96:96", "--"}, "--max-connections", "500",
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	if !strings.Contains(logs.String(), "exceeds what the descriptor limit allows") {
		t.Fatalf("no warning at start about the connection cap:\n%s", logs.String())
	}
	live := openEcho(t, addr)

	var flood []net.Conn
	for range 200 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // the accept queue is full too
		}
		flood = append(flood, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "accept failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no accept failure under a flood of %d:\n%s", len(flood), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 10 { // the live console is unaffected
		live.roundTrip(t, []byte{byte(i), 'x'})
	}
	for _, c := range flood {
		_ = c.Close()
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		c, ok := tryOpenEcho(addr)
		if ok {
			c.roundTrip(t, []byte("after the flood"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new console after the flood:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	live.roundTrip(t, []byte("still here"))
	select {
	case <-proc.done:
		t.Fatalf("relay exited: %v", proc.err)
	default:
	}
}

// echoSession is a raw WebSocket console session to an echo console.
type echoSession struct {
	c  net.Conn
	br *bufio.Reader
}

func openEcho(t *testing.T, addr string) *echoSession {
	t.Helper()
	s, ok := tryOpenEcho(addr)
	if !ok {
		t.Fatal("could not open a console")
	}
	t.Cleanup(func() { _ = s.c.Close() })
	return s
}

// tryOpenEcho upgrades and runs the RFB handshake with the echo console.
func tryOpenEcho(addr string) (*echoSession, bool) { return tryOpenEchoToken(addr, canary) }

// tryOpenEchoToken is tryOpenEcho with another token.
func tryOpenEchoToken(addr, token string) (*echoSession, bool) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, false
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, upgradeReq("/?token="+token, "x"))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101") {
		_ = c.Close()
		return nil, false
	}
	for line != "\r\n" {
		if line, err = br.ReadString('\n'); err != nil {
			_ = c.Close()
			return nil, false
		}
	}
	s := &echoSession{c: c, br: br}
	// RFB: version (12), security types (2), result (4), ServerInit (24 + name).
	if !s.expect(12) || !s.send([]byte("RFB 003.008\n")) || !s.expect(2) || !s.send([]byte{1}) ||
		!s.expect(4) || !s.send([]byte{1}) || !s.expect(24+len("vncrelay demo")) {
		_ = c.Close()
		return nil, false
	}
	_ = c.SetDeadline(time.Time{})
	return s, true
}

// send writes p as one masked binary frame (mask 0: XOR with zero).
func (s *echoSession) send(p []byte) bool {
	f := append([]byte{0x82, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	_, err := s.c.Write(f)
	return err == nil
}

// expect reads n payload bytes from binary frames.
func (s *echoSession) expect(n int) bool {
	_, ok := s.read(n)
	return ok
}

func (s *echoSession) read(n int) ([]byte, bool) {
	var out []byte
	for len(out) < n {
		var h [2]byte
		if _, err := io.ReadFull(s.br, h[:]); err != nil || h[0] != 0x82 || h[1] > 125 {
			return nil, false
		}
		p := make([]byte, h[1])
		if _, err := io.ReadFull(s.br, p); err != nil {
			return nil, false
		}
		out = append(out, p...)
	}
	return out, true
}

func (s *echoSession) roundTrip(t *testing.T, p []byte) {
	t.Helper()
	_ = s.c.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = s.c.SetDeadline(time.Time{}) }()
	if !s.send(p) {
		t.Fatal("send failed")
	}
	got, ok := s.read(len(p))
	if !ok || string(got) != string(p) {
		t.Fatalf("echo %q, want %q", got, p)
	}
}

// TestDescriptorBudget: with the default cap, derived from the descriptor
// limit, a flood is answered 503 at once and the live console is unaffected.
func TestDescriptorBudget(t *testing.T) {
	prlimit := need(t, "prlimit")
	addr, _, logs := startRelayLogged(t, []string{prlimit, "--nofile=96:96", "--"},
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	live := openEcho(t, addr)
	busy := 0
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		b := make([]byte, 12)
		if n, _ := io.ReadFull(c, b); n == 12 && string(b) == "HTTP/1.1 503" {
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("no connection over the budget was answered 503")
	}
	live.roundTrip(t, []byte("unaffected"))
	if strings.Contains(logs.String(), "accept failed") {
		t.Fatalf("accept met the descriptor limit:\n%s", logs.String())
	}
}
