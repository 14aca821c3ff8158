package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestAuthPluginBasic: websockify's --auth-plugin BasicHTTPAuth, reached by
// Python's websockets with credentials in the URL (which it sends as Basic
// authorization): the console opens with them; without them, or with wrong
// ones, the client is told 401 and no console is opened.
func TestAuthPluginBasic(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import websockets").Run(); err != nil {
		t.Fatal("python3-websockets not installed: run `make e2e-deps`")
	}
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)),
		"--auth-plugin", "BasicHTTPAuth", "--auth-source", "ops:s3cret")
	res := runClient(t, py, "ws_client.py", "ws://ops:s3cret@"+addr+"/?token="+canary, "65536")
	if res.Code != 1000 {
		t.Fatalf("with credentials: %+v", res)
	}
	for _, creds := range []string{"", "ops:wrong@"} {
		out, err := exec.Command(py, "ws_client.py", "ws://"+creds+addr+"/?token="+canary, "16").Output()
		var r struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if jerr := json.Unmarshal(lastLine(out), &r); jerr != nil || r.OK || err == nil {
			t.Fatalf("credentials %q: %v %q", creds, err, out)
		}
		if !strings.Contains(r.Error, "401") {
			t.Fatalf("credentials %q: want a 401, got %s", creds, r.Error)
		}
	}
}
