package e2e

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/novatest"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// waitLogAfter waits up to 10 s for the relay's log, past offset from, to say
// want.
func waitLogAfter(t *testing.T, logs *testutil.Buffer, from int, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String()[from:], want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %q:\n%s", want, logs.String()[from:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReload: SIGHUP builds the configuration again from the same
// command line. A token source that no longer loads is refused with a log
// line and the one in force kept; a good one is put in force. A console
// open across both reloads keeps relaying, byte-exact.
func TestSIGHUPReload(t *testing.T) {
	path := tokenFile(t, echoConsole(t))
	good := readFile(t, path)
	addr, proc, logs := startRelayLogged(t, nil, "--token-plugin", "ReadOnlyTokenFile", "--token-source", path)
	live := openEcho(t, addr)
	rng := rand.New(rand.NewPCG(11, 5))
	relay := func() {
		t.Helper()
		for range 50 {
			p := make([]byte, 1+rng.IntN(125))
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			live.roundTrip(t, p)
		}
	}
	relay()
	hup := func() int {
		t.Helper()
		n := logs.Len()
		if err := proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// A bad configuration: the token source is gone.
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	waitLogAfter(t, logs, hup(), "reload refused; the configuration in force is kept")
	relay()
	if s, ok := tryOpenEcho(addr); !ok {
		t.Fatal("the known token no longer opens a console after a refused reload")
	} else {
		_ = s.c.Close()
	}

	// A good one: the file is back, with a second token.
	second := canary + "-2"
	target := strings.TrimSpace(strings.SplitN(good, ": ", 2)[1])
	if err := os.WriteFile(path, []byte(good+second+": "+target+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := tryOpenEchoToken(addr, second); ok {
		t.Fatal("the new token opens a console before the reload")
	}
	waitLogAfter(t, logs, hup(), "configuration reloaded")
	relay()
	s, ok := tryOpenEchoToken(addr, second)
	if !ok {
		t.Fatal("the new token does not open a console after the reload")
	}
	_ = s.c.Close()
	if strings.Contains(logs.String(), second) {
		t.Fatal("a token reached the log")
	}
}

// TestCheckConfigCommand: vncrelay --check-config exits 0 for a good
// command line and non-zero, with the reason, for a bad one.
func TestCheckConfigCommand(t *testing.T) {
	path := tokenFile(t, "127.0.0.1:5900")
	tests := []struct {
		name   string
		args   []string
		ok     bool
		stderr string
	}{
		{"good", []string{"--check-config", "--token-plugin", "TokenFile", "--token-source", path, "127.0.0.1:0"}, true, "configuration OK"},
		{"missing token file", []string{"--check-config", "--token-plugin", "TokenFile", "--token-source", path + ".gone", "127.0.0.1:0"}, false, "token source"},
		{"web root missing", []string{"--check-config", "--web", path + ".gone", "127.0.0.1:0", "127.0.0.1:5900"}, false, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(relayBin, tt.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if (err == nil) != tt.ok || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %v, stderr %q; want ok=%t and %q", err, stderr.String(), tt.ok, tt.stderr)
			}
		})
	}
}

// TestNovaReload: SIGHUP makes nova-novncproxy read its nova.conf again: a
// new [console] allowed_origins is in force for new consoles, a file
// naming a missing web root is refused with a log line and the settings in
// force kept, and a console open across both reloads carries on.
func TestNovaReload(t *testing.T) {
	e := startNovaEnv(t)
	var made []string
	port := freePort(t)
	conf := e.novaConf(t, port, "")
	orig := readFile(t, conf)
	bin := filepath.Join(t.TempDir(), "nova-novncproxy")
	if err := os.Symlink(relayBin, bin); err != nil {
		t.Fatal(err)
	}
	addr, proc, logs := startListening(t, []string{bin, "--config-file", conf}, func() []string { return made })
	tok := e.token(t, novatest.TokenSpec{AccessURLBase: "https://portal.example.test/vnc_lite.html"}, nil)
	made = append(made, tok)
	origin := "Origin: https://new.example.test"
	if s := rawUpgrade(t, addr, "/websockify?token="+tok, origin); s != 403 {
		t.Fatalf("new origin before the reload: %d, want 403", s)
	}
	live := openRaw(t, addr, "/websockify?token="+tok)
	if v, ok := live.read(12); !ok || string(v) != "RFB 003.008\n" {
		t.Fatalf("RFB version %q", v)
	}
	hup := func(body, want string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		n := logs.Len()
		if err := proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLogAfter(t, logs, n, want)
	}

	hup(strings.Replace(orig, "allowed_origins = portal.example.test", "allowed_origins = portal.example.test,new.example.test", 1),
		"configuration reloaded")
	if s := rawUpgrade(t, addr, "/websockify?token="+tok, origin); s != 101 {
		t.Fatalf("new origin after the reload: %d, want 101", s)
	}
	hup(strings.Replace(orig, "web = /usr/share/novnc", "web = /nonexistent/novnc", 1), "reload refused")
	if s := rawUpgrade(t, addr, "/websockify?token="+tok, origin); s != 101 {
		t.Fatalf("new origin after a refused reload: %d, want 101 (the settings in force kept)", s)
	}
	// The console opened before both reloads goes on with its handshake.
	if !live.send([]byte("RFB 003.008\n")) {
		t.Fatal("send")
	}
	if types, ok := live.read(2); !ok || types[0] == 0 {
		t.Fatalf("security types % x after the reloads", types)
	}
}
