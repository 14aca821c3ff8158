package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/novatest"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// canary is the token the tests use; it must not appear in the relay's log.
const canary = "E2E-CANARY-5b1d2c"

var relayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vncrelay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	relayBin = filepath.Join(dir, "vncrelay")
	build := exec.Command("go", "build", "-race", "-o", relayBin, "../../cmd/vncrelay")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vncrelay:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := stopRabbitMQ(); err != nil {
		fmt.Fprintln(os.Stderr, "stop RabbitMQ:", err)
	}
	if err := novatest.CloseShared(); err != nil {
		fmt.Fprintln(os.Stderr, "stop Nova's database:", err)
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// need finds a tool the test needs. A missing tool fails the test, since CI
// installs them all (.ci/deps.sh); VNCRELAY_E2E_OPTIONAL=1 skips instead, for
// a developer machine without them.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
		t.Skipf("%s not installed (make e2e-deps)", tool)
	}
	t.Fatalf("%s not installed: run `make e2e-deps` (or set VNCRELAY_E2E_OPTIONAL=1 to skip)", tool)
	return ""
}

var listeningRE = regexp.MustCompile(`msg="vncrelay listening" addr=(\S+)`)

// startRelay runs the built binary with args (listening on 127.0.0.1:0) and
// returns the address it listens on. At cleanup it sends SIGTERM, waits for
// a clean exit, and checks the token never reached the log.
func startRelay(t *testing.T, args ...string) string {
	t.Helper()
	addr, _ := startRelayCmd(t, args...)
	return addr
}

// relayProc is a running relay binary.
type relayProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// wait waits up to d for the process to exit and returns its status.
func (r *relayProc) wait(d time.Duration) (error, bool) {
	select {
	case <-r.done:
		return r.err, true
	case <-time.After(d):
		return nil, false
	}
}

// startRelayCmd is startRelay that also returns the process.
func startRelayCmd(t *testing.T, args ...string) (string, *relayProc) {
	t.Helper()
	addr, proc, _ := startRelayLogged(t, nil, args...)
	return addr, proc
}

// startRelayLogged starts the relay under an optional wrapper command (such
// as prlimit) and also returns its log as it grows.
func startRelayLogged(t *testing.T, wrapper []string, args ...string) (string, *relayProc, *testutil.Buffer) {
	t.Helper()
	argv := append(append(append([]string(nil), wrapper...), relayBin), append(args, "127.0.0.1:0")...)
	return startListening(t, argv, func() []string { return []string{canary} })
}

// startListening runs argv (the relay binary, under whatever name or
// wrapper), waits for its "vncrelay listening" line and returns the address.
// At cleanup it sends SIGINT, waits for a clean exit, and checks that none of
// the secrets (asked for then: tests make tokens as they go) reached the log.
func startListening(t *testing.T, argv []string, secrets func() []string) (string, *relayProc, *testutil.Buffer) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	logs := &testutil.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(logs, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proc := &relayProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		close(proc.done)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // fails harmlessly if a test already stopped it
		if err, ok := proc.wait(15 * time.Second); !ok {
			_ = cmd.Process.Kill()
			t.Errorf("%s did not exit on SIGINT", filepath.Base(argv[0]))
		} else if err != nil {
			t.Errorf("%s exit: %v", filepath.Base(argv[0]), err)
		}
		_ = pw.Close()
		for _, secret := range secrets() {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("a token reached the log:\n%s", logs.String())
			}
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(argv[0]), logs.String())
		}
	})
	select {
	case a := <-addr:
		return a, proc, logs
	case <-proc.done:
		t.Fatalf("%s exited: %v\n%s", filepath.Base(argv[0]), proc.err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start:\n%s", filepath.Base(argv[0]), logs.String())
	}
	return "", nil, nil
}

// tokenFile writes a websockify token file with the canary token for target.
func tokenFile(t *testing.T, target string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte("# e2e\n"+canary+": "+target+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// echoConsole starts an RFB console that echoes after the handshake.
func echoConsole(t *testing.T) string {
	t.Helper()
	s := &rfb.Server{Mode: rfb.ModeEcho}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

type clientResult struct {
	OK     bool   `json:"ok"`
	Code   int    `json:"code"`
	Bytes  int    `json:"bytes"`
	Error  string `json:"error"`
	SHA256 string `json:"sha256"`
}

// runClient runs a client script and decodes its JSON line.
func runClient(t *testing.T, name string, args ...string) clientResult {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = "."
	out, err := cmd.Output()
	var res clientResult
	if jerr := json.Unmarshal(bytes.TrimSpace(lastLine(out)), &res); jerr != nil {
		var ee *exec.ExitError
		stderr := ""
		if errorsAs(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v; output %q; stderr %s", name, err, out, stderr)
	}
	if err != nil || !res.OK {
		t.Fatalf("%s failed: %v %+v", name, err, res)
	}
	return res
}

// runJSON runs a helper script and decodes its last output line into v; the
// script's own verdict is for the caller to judge.
func runJSON(t *testing.T, v any, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if jerr := json.Unmarshal(lastLine(out), v); jerr != nil {
		t.Fatalf("%s %q: %v; output %q", name, args, err, out)
	}
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

// TestNodeWS: a session with Node's ws through the built binary.
func TestNodeWS(t *testing.T) {
	node := need(t, "node")
	if _, err := os.Stat("node_modules/ws"); err != nil {
		t.Fatal("node_modules/ws missing: run `make e2e-deps`")
	}
	addr := startRelay(t, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	res := runClient(t, node, "ws_client.mjs", "ws://"+addr+"/websockify?token="+canary, "2097152")
	if res.Code != 1000 || res.Bytes != 2097152 {
		t.Fatalf("%+v", res)
	}
}

// TestPythonWebsockets: a session with Python's websockets through the binary.
func TestPythonWebsockets(t *testing.T) {
	py := "/usr/bin/python3" // Debian's, which has python3-websockets
	if _, err := os.Stat(py); err != nil {
		py = need(t, "python3")
	}
	if err := exec.Command(py, "-c", "import websockets").Run(); err != nil {
		if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
			t.Skip("python3-websockets not installed")
		}
		t.Fatal("python3-websockets not installed: run `make e2e-deps`")
	}
	addr := startRelay(t, "--token-plugin", "ReadOnlyTokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	res := runClient(t, py, "ws_client.py", "ws://"+addr+"/?token="+canary, "2097152")
	if res.Code != 1000 {
		t.Fatalf("%+v", res)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPort waits until something accepts on addr.
func waitPort(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
