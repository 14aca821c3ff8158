package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The tests in this file run websockify's and Nova's own code (Debian's
// python3-websockify and python3-nova, under Debian's /usr/bin/python3) on
// the same inputs as vncrelay's tables, through the small harnesses in
// testdata/anchors, and hold every difference to a named, explained list.

const debianPython = "/usr/bin/python3"

// runAnchor runs a harness script with in as JSON on its stdin and decodes its
// JSON output into out. It skips the test when the module is not installed.
func runAnchor(t *testing.T, module, script string, in, out any) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not found: install Debian's python3", debianPython)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := exec.CommandContext(ctx, debianPython, "-c", "import "+module).Run(); err != nil {
		t.Skipf("Python module %s not importable (%v): install its Debian package", module, err)
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, debianPython, filepath.Join("testdata", "anchors", script))
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s output: %v", script, err)
	}
}

// anchorRequest is a request as the Python harnesses take it.
type anchorRequest struct {
	Path      []byte `json:"path"`
	Host      []byte `json:"host"`
	Cookie    []byte `json:"cookie"`
	HostToken bool   `json:"host_token"`
}

// Differences of TokenFrom from websockify's get_target, by case name.
var websockifyTokenDifferences = map[string]string{
	"two in query":                 "websockify takes the first token; two are ambiguous, refused",
	"query malformed token":        "websockify takes the escape literally; refused",
	"host IPv6 with port":          "websockify cuts at the first ':' and looks up \"[\"",
	"host IPv6 without port":       "websockify cuts at the first ':' and looks up \"[\"",
	"host IPv6 unclosed":           "websockify looks up \"[\"; refused",
	"host IPv6 junk after bracket": "websockify looks up \"[\"; refused",
}

// Differences of TokenFrom from Nova's new_websocket_client, by case name.
var novaTokenDifferences = map[string]string{
	"two in query":          "Nova takes the last token; two are ambiguous, refused",
	"query malformed token": "Nova takes the escape literally; refused",
	"query trailing newline stripped (websockify)": "Nova keeps the newline; websockify strips it",
	"query only a newline":                         "Nova looks up \"\\n\"; websockify strips it to no token",
	"cookie backslash escape not decoded":          "Nova decodes escapes in quoted values; such a value is skipped",
	"cookie non-ASCII token passes through":        "Nova reads the header as ISO-8859-1 and then refuses the value",
}

func TestTokenFromMatchesWebsockify(t *testing.T) {
	cases := append(append(append([]tokenFromCase{}, tokenFromQueryCases...), tokenFromCookieCases...), tokenFromHostCases...)
	var reqs []anchorRequest
	for _, tt := range cases {
		reqs = append(reqs, anchorRequestOf(tt))
	}
	var got []struct{ Token *string }
	runAnchor(t, "websockify.websocketproxy", "websockify_token.py", reqs, &got)
	for i, tt := range cases {
		anchor := ""
		if got[i].Token != nil {
			anchor = *got[i].Token
		}
		ours, src, _ := TokenFrom(tt.request(), tt.hostToken)
		if src == "cookie" {
			if anchor != "" {
				t.Errorf("%s: websockify read %q from a cookie", tt.name, anchor)
			}
			continue // websockify reads no cookies; vncrelay follows Nova there
		}
		checkAnchor(t, "websockify", tt.name, ours, anchor, websockifyTokenDifferences)
	}
}

func TestTokenFromMatchesNova(t *testing.T) {
	var cases []tokenFromCase
	var reqs []anchorRequest
	for _, group := range [][]tokenFromCase{tokenFromQueryCases, tokenFromCookieCases} {
		for _, tt := range group {
			cases = append(cases, tt)
			reqs = append(reqs, anchorRequestOf(tt))
		}
	}
	var got []struct{ Token, Error string }
	runAnchor(t, "nova.console.websocketproxy", "nova_token.py", reqs, &got)
	for i, tt := range cases {
		if got[i].Error != "" {
			t.Fatalf("%s: harness: %s", tt.name, got[i].Error)
		}
		ours, _, _ := TokenFrom(tt.request(), false)
		checkAnchor(t, "Nova", tt.name, ours, got[i].Token, novaTokenDifferences)
	}
}

// checkAnchor fails when ours and the anchor's token differ and the case is
// not a listed difference, or when a listed difference has gone.
func checkAnchor(t *testing.T, anchor, name, ours, theirs string, differences map[string]string) {
	t.Helper()
	why, listed := differences[name]
	switch {
	case ours != theirs && !listed:
		t.Errorf("%s: vncrelay %q, %s %q", name, ours, anchor, theirs)
	case ours == theirs && listed:
		t.Errorf("%s: listed as a difference from %s (%s) but both give %q", name, anchor, why, ours)
	}
}

func anchorRequestOf(tt tokenFromCase) anchorRequest {
	path := "/websockify"
	if !tt.noQuery {
		path += "?" + tt.query
	}
	return anchorRequest{Path: []byte(path), Host: []byte(tt.host), Cookie: []byte(tt.cookie), HostToken: tt.hostToken}
}
