package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify: under a service manager's NOTIFY_SOCKET (a socket the
// test listens on, as systemd does for Type=notify), the relay says READY=1
// once it listens, pings the watchdog while its loops answer
// (WATCHDOG_USEC), says RELOADING=1 then READY=1 around a SIGHUP reload,
// and STOPPING=1 when SIGTERM starts the drain.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed before %q", want)
				}
				if strings.Contains(m, want) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %q on the notify socket in 10 s", want)
			}
		}
	}
	addr, proc, _ := startRelayLogged(t, []string{"env", "NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	if m := next("READY=1"); !strings.Contains(m, "STATUS=relaying on "+addr) {
		t.Fatalf("ready message %q", m)
	}
	s := openEcho(t, addr)
	s.roundTrip(t, []byte("ping"))
	// SIGHUP: RELOADING=1 (with the monotonic time systemd wants) and
	// READY=1 once the reload is done.
	if err := proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if m := next("RELOADING=1"); !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Fatalf("reloading message %q", m)
	}
	next("READY=1")
	s.roundTrip(t, []byte("after the reload"))
	for range 3 {
		next("WATCHDOG=1")
	}
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1")
	if err, ok := proc.wait(15 * time.Second); !ok || err != nil {
		t.Fatalf("exit after SIGTERM: %v (exited %v)", err, ok)
	}
}

// TestSystemdUnits: the shipped unit files (the services and the socket
// unit) pass systemd-analyze verify, with their ExecStart pointed at the
// built binary.
func TestSystemdUnits(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	units, err := filepath.Glob("../../deploy/systemd/*.service")
	if err != nil || len(units) != 4 {
		t.Fatalf("units %v %v", units, err)
	}
	units = append(units, "../../deploy/systemd/vncrelay.socket") // activates vncrelay.service
	dir := t.TempDir()
	var args []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		body := regexp.MustCompile(`/usr/(local/)?bin/[a-z0-9-]+`).ReplaceAllString(string(b), relayBin)
		p := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, args...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
