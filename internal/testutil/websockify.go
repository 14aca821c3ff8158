package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// DebianPython is the interpreter that has Debian's Python modules
// (python3-websockify, python3-nova); the python3 on PATH may not.
const DebianPython = "/usr/bin/python3"

// WebsockifyResult is one token's answer from websockify's own plugin: Pair
// is its [host, port] (nil for "not found"), Error the exception its lookup
// raised.
type WebsockifyResult struct {
	Pair  []any  `json:"pair"`
	Error string `json:"error"`
}

// Refused reports whether websockify would not open a console for the token.
func (r WebsockifyResult) Refused() bool { return r.Pair == nil || r.Error != "" }

// Target renders the pair as auth.Target.String does.
func (r WebsockifyResult) Target() string {
	if len(r.Pair) != 2 {
		return fmt.Sprint(r.Pair...)
	}
	if fmt.Sprint(r.Pair[0]) == "unix_socket" {
		return "unix:" + fmt.Sprint(r.Pair[1])
	}
	return net.JoinHostPort(fmt.Sprint(r.Pair[0]), fmt.Sprint(r.Pair[1]))
}

// RunWebsockifyPlugin resolves tokens with websockify's plugin class through
// script (auth/testdata/anchors/websockify_plugins.py, as a path from the
// calling package). module, when not "", is the path of another release's
// token_plugins.py; the test is skipped when it or Debian's
// python3-websockify is missing. The script's stderr is never shown: it may
// hold tokens.
func RunWebsockifyPlugin(t testing.TB, script, module, plugin, source string, tokens []string) (version, initErr string, res []WebsockifyResult) {
	t.Helper()
	if _, err := os.Stat(DebianPython); err != nil {
		t.Skipf("%s not found: install Debian's python3", DebianPython)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if module == "" {
		if err := exec.CommandContext(ctx, DebianPython, "-c", "import websockify.token_plugins").Run(); err != nil {
			t.Skipf("python3-websockify not importable: %v", err)
		}
	} else if _, err := os.Stat(module); err != nil {
		t.Skipf("websockify token_plugins.py %s: %v", module, err)
	}
	in, err := json.Marshal(map[string]any{"plugin": plugin, "source": source, "tokens": tokens})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, DebianPython, script)
	cmd.Env = append(os.Environ(), "WEBSOCKIFY_TOKEN_PLUGINS="+module)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("websockify_plugins.py: %v (stderr %d bytes, not shown: it may hold tokens)", err, stderr.Len())
	}
	var got struct {
		Version   string             `json:"version"`
		InitError string             `json:"init_error"`
		Results   []WebsockifyResult `json:"results"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("websockify_plugins.py output: %v", err)
	}
	if got.InitError == "" && len(got.Results) != len(tokens) {
		t.Fatalf("websockify_plugins.py: %d results for %d tokens", len(got.Results), len(tokens))
	}
	return got.Version, got.InitError, got.Results
}

// NewerWebsockify is the token_plugins.py of a websockify release newer than
// Debian's (0.12 or 0.13: TokenFileName, Redis namespaces), named by
// VNCRELAY_WEBSOCKIFY_PLUGINS; "" when unset (those comparisons are skipped).
func NewerWebsockify() string { return os.Getenv("VNCRELAY_WEBSOCKIFY_PLUGINS") }
