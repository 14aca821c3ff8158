package testutil

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

// WebsockifyJob is one plugin instance for RunWebsockifyJobs: websockify's
// plugin class Plugin (e.g. "TokenRedis") made with Source, asked Tokens.
type WebsockifyJob struct {
	Plugin string   `json:"plugin"`
	Source string   `json:"source"`
	Tokens []string `json:"tokens"`
}

// WebsockifyAnswer is what one WebsockifyJob gave: the websockify version,
// the exception making the plugin raised ("" for none), else one result a
// token.
type WebsockifyAnswer struct {
	Version   string             `json:"version"`
	InitError string             `json:"init_error"`
	Results   []WebsockifyResult `json:"results"`
}

// Answer is r as CompareWebsockify compares it: its Target, or "refused"
// when websockify would open no console (Refused, or not a [host, port]
// pair).
func (r WebsockifyResult) Answer() string {
	if r.Refused() || len(r.Pair) != 2 {
		return "refused"
	}
	return r.Target()
}

// CompareWebsockify checks one case of a differential test against
// websockify: ours, vncrelay's answer (a target's String, or "refused"),
// must equal theirs.Answer() exactly when differs, the documented
// difference, is "". A mismatch is reported with t.Errorf, naming the
// case.
func CompareWebsockify(t testing.TB, name, ours string, theirs WebsockifyResult, differs string) {
	t.Helper()
	if (ours == theirs.Answer()) != (differs == "") {
		t.Errorf("%s: vncrelay %s, websockify %s (documented difference: %q)", name, ours, theirs.Answer(), differs)
	}
}

// RunWebsockifyPlugin resolves tokens with one instance of websockify's
// plugin class made with source (RunWebsockifyJobs with one job).
func RunWebsockifyPlugin(t testing.TB, module, plugin, source string, tokens []string) (version, initErr string, res []WebsockifyResult) {
	t.Helper()
	a := RunWebsockifyJobs(t, module, []WebsockifyJob{{plugin, source, tokens}})[0]
	return a.Version, a.InitError, a.Results
}

// RunWebsockifyJobs runs jobs with websockify's plugin classes, one Python
// start for all, through the repository's
// auth/testdata/anchors/websockify_plugins.py, and returns an answer a
// job. module, when not "", is the path of another release's
// token_plugins.py; the test is skipped when it or Debian's
// python3-websockify is missing. The script's stderr is never shown: it may
// hold tokens.
func RunWebsockifyJobs(t testing.TB, module string, jobs []WebsockifyJob) []WebsockifyAnswer {
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
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, DebianPython, filepath.Join(RepoRoot(t), "auth", "testdata", "anchors", "websockify_plugins.py"))
	cmd.Env = append(os.Environ(), "WEBSOCKIFY_TOKEN_PLUGINS="+module)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("websockify_plugins.py: %v (stderr %d bytes, not shown: it may hold tokens)", err, stderr.Len())
	}
	var got []WebsockifyAnswer
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(jobs) {
		t.Fatalf("websockify_plugins.py output: %v, %d answers for %d jobs", err, len(got), len(jobs))
	}
	for i, a := range got {
		if a.InitError == "" && len(a.Results) != len(jobs[i].Tokens) {
			t.Fatalf("websockify_plugins.py: %d results for %d tokens", len(a.Results), len(jobs[i].Tokens))
		}
	}
	return got
}

// RepoRoot is the repository's top directory: the nearest directory at or
// above the test's working directory (its package's) that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// NewerWebsockify is the token_plugins.py of a websockify release newer than
// Debian's (0.12 or 0.13: TokenFileName, Redis namespaces), named by
// VNCRELAY_WEBSOCKIFY_PLUGINS; "" when unset (those comparisons are skipped).
func NewerWebsockify() string { return os.Getenv("VNCRELAY_WEBSOCKIFY_PLUGINS") }
