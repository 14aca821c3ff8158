package tokenapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// WebsockifyResult is one token's answer from websockify's own plugin: Pair
// is its [host, port] (nil for "not found"), Error the exception lookup
// raised.
type websockifyResult struct {
	Pair  []any  `json:"pair"`
	Error string `json:"error"`
}

// refused reports whether websockify would not open a console for the token.
func (r websockifyResult) refused() bool { return r.Pair == nil || r.Error != "" }

// target renders the pair as vncrelay's Target.String does.
func (r websockifyResult) target() string {
	if len(r.Pair) != 2 {
		return fmt.Sprint(r.Pair...)
	}
	if fmt.Sprint(r.Pair[0]) == "unix_socket" {
		return "unix:" + fmt.Sprint(r.Pair[1])
	}
	return net.JoinHostPort(fmt.Sprint(r.Pair[0]), fmt.Sprint(r.Pair[1]))
}

// runWebsockifyPlugin resolves tokens with websockify's plugin class through
// testdata/anchors/websockify_plugins.py. module, when not "", is the path
// of another release's token_plugins.py; the test is skipped when it or
// Debian's python3-websockify is missing.
func runWebsockifyPlugin(t *testing.T, module, plugin, source string, tokens []string) (version string, initErr string, res []websockifyResult) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not found: install Debian's python3", debianPython)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if module == "" {
		if err := exec.CommandContext(ctx, debianPython, "-c", "import websockify.token_plugins").Run(); err != nil {
			t.Skipf("python3-websockify not importable: %v", err)
		}
	} else if _, err := os.Stat(module); err != nil {
		t.Skipf("websockify token_plugins.py %s: %v", module, err)
	}
	in, err := json.Marshal(map[string]any{"plugin": plugin, "source": source, "tokens": tokens})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, debianPython, filepath.Join("..", "testdata", "anchors", "websockify_plugins.py"))
	cmd.Env = append(os.Environ(), "WEBSOCKIFY_TOKEN_PLUGINS="+module, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
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
		Results   []websockifyResult `json:"results"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("websockify_plugins.py output: %v", err)
	}
	if got.InitError == "" && len(got.Results) != len(tokens) {
		t.Fatalf("websockify_plugins.py: %d results for %d tokens", len(got.Results), len(tokens))
	}
	return got.Version, got.InitError, got.Results
}

// newerWebsockify is the token_plugins.py of a websockify release newer than
// Debian's (0.12 or 0.13, for TokenFileName and Redis namespaces), named by
// VNCRELAY_WEBSOCKIFY_PLUGINS; "" when unset (those comparisons are skipped).
func newerWebsockify() string { return os.Getenv("VNCRELAY_WEBSOCKIFY_PLUGINS") }

const debianPython = "/usr/bin/python3"
