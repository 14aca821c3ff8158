package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAppendEscapedMatchesWebsockify compares the escaping of every byte
// value with what websockify writes: Python's unicode_escape of the bytes
// read as ISO-8859-1, then ' escaped.
func TestAppendEscapedMatchesWebsockify(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	py := exec.Command("/usr/bin/python3", "-c",
		`import sys; b=sys.stdin.buffer.read(); sys.stdout.write(b.decode('latin1').encode('unicode_escape').decode('ascii').replace("'", "\\'"))`)
	py.Stdin = bytes.NewReader(all)
	want, err := py.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if got := AppendEscaped(nil, all); !bytes.Equal(got, want) {
		t.Fatalf("escaping differs from websockify's:\n got %q\nwant %q", got, want)
	}
}

// replay reads a recording with noVNC's playback rules (testdata/replay.mjs).
func replay(t *testing.T, path string) (server, client []byte, eof bool) {
	t.Helper()
	out, err := exec.Command("node", "testdata/replay.mjs", path).Output()
	if err != nil {
		t.Fatalf("replay %s: %v", path, err)
	}
	var r struct {
		EOF            bool
		Server, Client string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	server, _ = hex.DecodeString(r.Server)
	client, _ = hex.DecodeString(r.Client)
	return server, client, r.EOF
}

func TestRecordingReplays(t *testing.T) {
	dir := t.TempDir()
	r, err := New(filepath.Join(dir, "session"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	c := r.Start(now)
	var fromConsole, fromBrowser []byte
	for i := range 200 {
		p := bytes.Repeat([]byte{byte(i), '\'', '\\', '{', '}', '\n', 0xff}, i%7+1)
		c.Record(now+int64(i)*int64(time.Millisecond), i%3 == 0, p)
		if i%3 == 0 {
			fromBrowser = append(fromBrowser, p...)
		} else {
			fromConsole = append(fromConsole, p...)
		}
	}
	c.Close()
	c2 := r.Start(now) // a second console gets the next number
	c2.Record(now, false, []byte("RFB 003.008\n"))
	if err := r.Close(); err != nil { // completes c2's file
		t.Fatal(err)
	}
	server, client, eof := replay(t, filepath.Join(dir, "session.1"))
	if !eof || !bytes.Equal(server, fromConsole) || !bytes.Equal(client, fromBrowser) {
		t.Fatalf("replayed %d/%d bytes (eof %v), recorded %d/%d", len(server), len(client), eof, len(fromConsole), len(fromBrowser))
	}
	server, _, eof = replay(t, filepath.Join(dir, "session.2"))
	if !eof || string(server) != "RFB 003.008\n" {
		t.Fatalf("second console: %q eof %v", server, eof)
	}
	if r.Dropped() != 0 {
		t.Fatalf("%d bytes dropped", r.Dropped())
	}
}

// TestRecordingDropsWhenFull: past the queue bound, payloads are dropped and
// counted, the file says where, and it still replays.
func TestRecordingDropsWhenFull(t *testing.T) {
	dir := t.TempDir()
	r, err := New(filepath.Join(dir, "rec"), Options{QueueBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Start(time.Now().UnixNano())
	big := bytes.Repeat([]byte("x"), 4<<10) // larger than the whole queue
	c.Record(time.Now().UnixNano(), false, []byte("kept"))
	c.Record(time.Now().UnixNano(), false, big)
	c.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Dropped() != uint64(len(big)) {
		t.Fatalf("dropped %d, want %d", r.Dropped(), len(big))
	}
	b, err := os.ReadFile(filepath.Join(dir, "rec.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "// vncrelay: 4096 bytes not recorded here") {
		t.Fatalf("no gap marker in %q", b)
	}
	server, _, eof := replay(t, filepath.Join(dir, "rec.1"))
	if !eof || string(server) != "kept" {
		t.Fatalf("replayed %q eof %v", server, eof)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("", Options{}); err == nil {
		t.Fatal("empty prefix accepted")
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing", "rec"), Options{}); err == nil {
		t.Fatal("missing directory accepted")
	}
}

// TestExistingFileKept: a recording never overwrites a file. A restart
// numbers on after the files there; a number taken by another process after
// the start is skipped.
func TestExistingFileKept(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"rec.1": "precious", "rec.7": "older run", "rec.notes": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(filepath.Join(dir, "rec"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Another process takes rec.8 after this one started.
	if err := os.WriteFile(filepath.Join(dir, "rec.8"), []byte("other process"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := r.Start(time.Now().UnixNano())
	c.Record(time.Now().UnixNano(), false, []byte("data"))
	c.Close()
	_ = r.Close()
	for name, want := range map[string]string{"rec.1": "precious", "rec.7": "older run", "rec.8": "other process"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Fatalf("%s overwritten: %q", name, b)
		}
	}
	server, _, eof := replay(t, filepath.Join(dir, "rec.9"))
	if !eof || string(server) != "data" {
		t.Fatalf("rec.9: %q eof %v", server, eof)
	}
}
