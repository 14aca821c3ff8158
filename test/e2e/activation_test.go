package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestSocketActivation: the relay serves a listening socket handed over as
// systemd does (LISTEN_PID, LISTEN_FDS, descriptor 3), and when it stops,
// the socket still listens for its holder (systemd queues connections while
// the service restarts).
func TestSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// sh sets LISTEN_PID to its own PID, which exec keeps for the relay.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, relayBin,
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)), ln.Addr().String())
	cmd.ExtraFiles = []*os.File{f} // descriptor 3
	logs := &testutil.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "vncrelay listening") {
		if time.Now().After(deadline) {
			t.Fatalf("relay did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "socket activation: serving the socket systemd handed over") {
		t.Fatalf("the handed socket was not taken: %s", logs.String())
	}
	st, _, _ := upgrade(t, ln.Addr().String(), canary)
	if st != 101 {
		t.Fatalf("upgrade through the handed socket: %d", st)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("relay exit: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("relay did not exit on SIGTERM")
	}
	testutil.ExpectAccepting(t, ln) // the next connection waits for its holder
}
