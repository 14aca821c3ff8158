package jwt

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// TestVerifierWebsockify resolves every case with websockify's own
// JWTTokenApi (Debian's 0.10 with python3-jwcrypto; the plugin did not
// change up to 0.13), one Python start for all key files.
func TestVerifierWebsockify(t *testing.T) {
	if _, err := os.Stat(testutil.DebianPython); err != nil {
		t.Skipf("%s not found", testutil.DebianPython)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exec.CommandContext(ctx, testutil.DebianPython, "-c", "import websockify.token_plugins, jwcrypto").Run(); err != nil {
		t.Skipf("python3-websockify or python3-jwcrypto not importable: %v", err)
	}
	is := newIssuer(t)
	cases := jwtCases(t, is)
	jobs := make([]testutil.WebsockifyJob, len(cases))
	for i, c := range cases {
		jobs[i] = testutil.WebsockifyJob{Plugin: "JWTTokenApi", Source: is.files[c.keyFile], Tokens: []string{c.token}}
	}
	outs := testutil.RunWebsockifyJobs(t, testutil.NewerWebsockify(), jobs)
	verifiers := is.verifiers(t)
	for i, c := range cases {
		if outs[i].InitError != "" || len(outs[i].Results) != 1 {
			t.Fatalf("%s: websockify: %q", c.name, outs[i].InitError)
		}
		ours := "refused"
		if got, err := verifiers[c.keyFile].Resolve(context.Background(), c.token); err == nil {
			ours = got.String()
		}
		testutil.CompareWebsockify(t, c.name, ours, outs[i].Results[0], c.differs)
	}
}
