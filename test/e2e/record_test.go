package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRecord: websockify's --record FILE. A session by Node's ws through the
// binary is written to FILE.1, which reads back with noVNC's playback rules
// (record/testdata/replay.mjs) as exactly the bytes relayed: the console's
// RFB greeting first, and the echo of everything the client sent.
func TestRecord(t *testing.T) {
	node := need(t, "node")
	dir := t.TempDir()
	prefix := filepath.Join(dir, "console")
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)), "--record", prefix)
	const total = 262144
	res := runClient(t, node, "ws_client.mjs", "ws://"+addr+"/websockify?token="+canary, "262144")
	if res.Code != 1000 {
		t.Fatalf("%+v", res)
	}
	file := prefix + ".1"
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		if bytes.HasSuffix(b, []byte("'EOF'];\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not completed after the console closed (%d bytes)", file, len(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := exec.Command(node, "../../record/testdata/replay.mjs", file).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var r struct {
		EOF            bool
		Server, Client string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	server, _ := hex.DecodeString(r.Server)
	client, _ := hex.DecodeString(r.Client)
	if !r.EOF || !bytes.HasPrefix(server, []byte("RFB 003.008\n")) || len(client) < total || len(server) < total {
		t.Fatalf("replayed %d console and %d browser bytes, eof %v", len(server), len(client), r.EOF)
	}
	if !bytes.Equal(server[len(server)-total:], client[len(client)-total:]) {
		t.Fatal("the recorded echo differs from the recorded input")
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("recording mode %v, %v: want 0600", st.Mode(), err)
	}
}
