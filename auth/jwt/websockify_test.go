package jwt

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

const debianPython = "/usr/bin/python3"

// wsResult is one token's answer from websockify's JWTTokenApi.
type wsResult struct {
	Pair  []any  `json:"pair"`
	Error string `json:"error"`
}

func (r wsResult) target() string {
	if r.Pair == nil || r.Error != "" || len(r.Pair) != 2 {
		return "refused"
	}
	if fmt.Sprint(r.Pair[0]) == "unix_socket" {
		return "unix:" + fmt.Sprint(r.Pair[1])
	}
	return net.JoinHostPort(fmt.Sprint(r.Pair[0]), fmt.Sprint(r.Pair[1]))
}

// TestVerifierWebsockify resolves every case with websockify's own
// JWTTokenApi (Debian's 0.10 with python3-jwcrypto; the plugin did not
// change up to 0.13), one Python start for all key files.
func TestVerifierWebsockify(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not found", debianPython)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec.CommandContext(ctx, debianPython, "-c", "import websockify.token_plugins, jwcrypto").Run(); err != nil {
		t.Skipf("python3-websockify or python3-jwcrypto not importable: %v", err)
	}
	is := newIssuer(t)
	cases := jwtCases(t, is)
	type job struct {
		Plugin string   `json:"plugin"`
		Source string   `json:"source"`
		Tokens []string `json:"tokens"`
	}
	jobs := make([]job, len(cases))
	for i, c := range cases {
		jobs[i] = job{"JWTTokenApi", is.files[c.keyFile], []string{c.token}}
	}
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, debianPython, filepath.Join("..", "testdata", "anchors", "websockify_plugins.py"))
	cmd.Env = append(os.Environ(), "WEBSOCKIFY_TOKEN_PLUGINS="+newerWebsockify())
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("websockify_plugins.py: %v", err)
	}
	var outs []struct {
		InitError string     `json:"init_error"`
		Results   []wsResult `json:"results"`
	}
	if err := json.Unmarshal(out, &outs); err != nil || len(outs) != len(cases) {
		t.Fatalf("websockify_plugins.py output: %v, %d answers", err, len(outs))
	}
	verifiers := map[string]*Verifier{}
	for name, p := range is.files {
		if verifiers[name], err = New(p, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cases {
		if outs[i].InitError != "" || len(outs[i].Results) != 1 {
			t.Fatalf("%s: websockify: %q", c.name, outs[i].InitError)
		}
		theirs := outs[i].Results[0].target()
		ours := "refused"
		if got, err := verifiers[c.keyFile].Resolve(context.Background(), c.token); err == nil {
			ours = got.String()
		}
		if (ours == theirs) != (c.differs == "") {
			t.Errorf("%s: vncrelay %s, websockify %s (documented difference: %q)", c.name, ours, theirs, c.differs)
		}
	}
}

// newerWebsockify is VNCRELAY_WEBSOCKIFY_PLUGINS (see the auth package's
// tests); "" runs Debian's.
func newerWebsockify() string { return os.Getenv("VNCRELAY_WEBSOCKIFY_PLUGINS") }
