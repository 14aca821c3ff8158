package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDaemon: websockify's -D. The command returns once the daemon listens,
// printing its PID; the daemon runs in a session of its own, detached from
// ours, and relays; SIGTERM stops it. A daemon that cannot start (its port
// taken) makes the command fail with the daemon's own error.
func TestDaemon(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logFile := filepath.Join(dir, "relay.log")
	cmd := exec.Command(relayBin, "-D", "--log-file", logFile, "--token-plugin", "TokenFile",
		"--token-source", tokenFile(t, echoConsole(t)), addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vncrelay -D: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`daemon started, pid (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no PID in %q", out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	sid, err := unix.Getsid(pid)
	if err != nil || sid != pid {
		t.Fatalf("daemon session %d (%v): want a session of its own (%d)", sid, err, pid)
	}
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
		t.Fatalf("daemon not listening: %v", err)
	} else {
		_ = c.Close()
	}
	res := runClient(t, need(t, "node"), "ws_client.mjs", "ws://"+addr+"/websockify?token="+canary, "65536")
	if res.Code != 1000 {
		t.Fatalf("%+v", res)
	}

	// A second daemon on the same port fails, and says why, in the foreground.
	out, err = exec.Command(relayBin, "-D", "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)), addr).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("second daemon on a taken port: %v %q", err, out)
	}

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("daemon still running 20 s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "vncrelay listening") || !strings.Contains(string(b), "signal received") {
		t.Fatalf("daemon log: %s", b)
	}
}
