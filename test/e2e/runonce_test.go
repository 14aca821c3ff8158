package e2e

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestRunOnce: websockify's --run-once. The first console opens and relays;
// from then on no connection is accepted; when it ends the relay exits 0.
func TestRunOnce(t *testing.T) {
	node := need(t, "node")
	addr, proc := startRelayCmd(t, "--run-once", "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	res := runClient(t, node, "ws_client.mjs", "ws://"+addr+"/websockify?token="+canary, "65536")
	if res.Code != 1000 {
		t.Fatalf("%+v", res)
	}
	err, exited := proc.wait(20 * time.Second)
	if !exited {
		t.Fatal("relay still running after its one console ended")
	}
	if err != nil {
		t.Fatalf("relay exit: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Fatal("still accepting after --run-once")
	}
}

// TestTimeout: websockify's --timeout SECS. A console open when the time
// comes keeps relaying, new connections are no longer accepted, and the
// relay exits 0 when that console ends.
func TestTimeout(t *testing.T) {
	addr, proc := startRelayCmd(t, "--timeout", "2", "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	st, c, br := upgrade(t, addr, canary)
	if st != 101 {
		t.Fatalf("status %d", st)
	}
	if _, err := io.ReadFull(br, make([]byte, 2+12)); err != nil { // the RFB version frame
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // past --timeout
	if d, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = d.Close()
		t.Fatal("still accepting after --timeout")
	}
	if _, exited := proc.wait(0); exited {
		t.Fatal("relay exited with a console open")
	}
	// The console still relays: the echo console answers the RFB version
	// (one masked frame) with its security types.
	if _, err := c.Write([]byte{0x82, 0x8c, 0, 0, 0, 0, 'R', 'F', 'B', ' ', '0', '0', '3', '.', '0', '0', '8', '\n'}); err != nil {
		t.Fatal(err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 0x82 {
		t.Fatalf("no frame from the console after --timeout: % x %v", hdr, err)
	}
	_, _ = c.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}) // close 1000, as a browser ends
	_ = c.Close()
	err, exited := proc.wait(20 * time.Second)
	if !exited || err != nil {
		t.Fatalf("relay after its last console: exited %v, %v", exited, err)
	}
}
