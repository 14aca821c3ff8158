package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// startProc starts a helper process in its own process group and kills the
// group at cleanup, so the test owns every PID it starts.
func startProc(t *testing.T, out *testutil.Buffer, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd
}

// freeDisplay finds an X display number with no server.
func freeDisplay(t *testing.T) int {
	t.Helper()
	for n := 40; n < 100; n++ {
		_, e1 := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		_, e2 := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		if os.IsNotExist(e1) && os.IsNotExist(e2) {
			return n
		}
	}
	t.Fatal("no free X display")
	return 0
}

// TestNoVNCChromiumTigerVNC: noVNC (Debian's novnc) in headless Chromium,
// through the built relay, to a real TigerVNC server. The page reaches
// Connected, the canvas shows what the X server draws, and a key typed in the
// page reaches an X client on the server.
func TestNoVNCChromiumTigerVNC(t *testing.T) {
	xvnc := need(t, "Xvnc")
	xsetroot := need(t, "xsetroot")
	xev := need(t, "xev")
	browserBin := need(t, "chromium")
	node := need(t, "node")
	needNoVNC(t)

	// The VNC server: a 640×400 desktop with a solid #3366cc root window and
	// an xev window at the top left that reports keys.
	disp := freeDisplay(t)
	display := ":" + strconv.Itoa(disp)
	rfbPort := freePort(t)
	xlog := &testutil.Buffer{}
	startProc(t, xlog, xvnc, display, "-rfbport", strconv.Itoa(rfbPort), "-SecurityTypes", "None",
		"-geometry", "640x400", "-depth", "24", "-localhost", "-nolisten", "tcp", "-desktop", "e2e")
	waitPort(t, fmt.Sprintf("127.0.0.1:%d", rfbPort))
	if out, err := exec.Command(xsetroot, "-display", display, "-solid", "#3366cc").CombinedOutput(); err != nil {
		t.Fatalf("xsetroot: %v %s\n%s", err, out, xlog.String())
	}
	keys := &testutil.Buffer{}
	startProc(t, keys, xev, "-display", display, "-geometry", "100x100+0+0", "-event", "keyboard")

	addr := startRelay(t, "--web", "/usr/share/novnc", "--token-plugin", "TokenFile",
		"--token-source", tokenFile(t, fmt.Sprintf("127.0.0.1:%d", rfbPort)))

	cdpPort, blog := startChromium(t, browserBin)

	page := fmt.Sprintf("http://%s/vnc_lite.html?path=%s", addr, "websockify%3Ftoken%3D"+canary)
	res := runNoVNC(t, node, cdpPort, blog, page, canary, "400,300", "600,380", "50,50")
	if !strings.HasPrefix(res.Status, "Connected") || !strings.Contains(res.Status, "e2e") {
		t.Fatalf("status %q", res.Status)
	}
	if res.Width != 640 || res.Height != 400 {
		t.Fatalf("canvas %dx%d, want 640x400", res.Width, res.Height)
	}
	blue := [3]uint8{0x33, 0x66, 0xcc}
	for i, p := range res.Pixels[:2] {
		if p != blue {
			t.Fatalf("pixel %d = %v, want the root colour %v", i, p, blue)
		}
	}
	if res.Pixels[2] == blue {
		t.Fatalf("pixel at (50,50) shows the root, not the xev window: %v", res.Pixels[2])
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(keys.String(), "keysym 0x61, a") {
		if time.Now().After(deadline) {
			t.Fatalf("key 'a' did not reach the X server; xev saw:\n%s", keys.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// needPlaywright fails the test unless node_modules has playwright-core,
// which the .mjs page drivers use to run Chromium over CDP.
func needPlaywright(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		t.Fatal("node_modules/playwright-core missing: run `make e2e-deps`")
	}
}

// needNoVNC fails the test unless Debian's novnc (its vnc_lite.html page)
// and playwright-core are installed.
func needNoVNC(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/share/novnc/vnc_lite.html"); err != nil {
		t.Fatal("Debian's novnc package is missing: run `make e2e-deps`")
	}
	needPlaywright(t)
}

// startChromium starts headless Chromium with a fresh profile (the test owns
// its PID), and extra flags if any, and returns the port of its DevTools
// endpoint, for CDP, and its output.
func startChromium(t *testing.T, browserBin string, extra ...string) (string, *testutil.Buffer) {
	t.Helper()
	profile := t.TempDir()
	blog := &testutil.Buffer{}
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-proxy-server", "--user-data-dir=" + profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"}, extra...)
	startProc(t, blog, browserBin, append(args, "about:blank")...)
	return devToolsPort(t, profile, blog), blog
}

// devToolsPort reads the port Chromium chose for --remote-debugging-port=0.
func devToolsPort(t *testing.T, profile string, log *testutil.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		f, err := os.Open(filepath.Join(profile, "DevToolsActivePort"))
		if err == nil {
			sc := bufio.NewScanner(f)
			ok := sc.Scan()
			_ = f.Close()
			if ok && sc.Text() != "" {
				return strings.TrimSpace(sc.Text())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("chromium did not open its DevTools port:\n%s", log.String())
	return ""
}

// noVNCResult is novnc.mjs's last output line: noVNC's status text, the
// canvas size in pixels and the RGB of the canvas at each point asked for.
type noVNCResult struct {
	OK     bool       `json:"ok"`
	Error  string     `json:"error"`
	Status string     `json:"status"`
	Width  int        `json:"width"`
	Height int        `json:"height"`
	Pixels [][3]uint8 `json:"pixels"`
}

// runNoVNC opens page (noVNC's vnc_lite.html) with novnc.mjs in the
// Chromium whose DevTools port is cdpPort (startChromium; blog its output),
// samples the canvas at points ("x,y"), and returns the result. When
// novnc.mjs fails it fails the test with novnc.mjs's and Chromium's
// output, secret (the token in page) masked in novnc.mjs's.
func runNoVNC(t *testing.T, node, cdpPort string, blog *testutil.Buffer, page, secret string, points ...string) noVNCResult {
	t.Helper()
	cmd := exec.Command(node, append([]string{"novnc.mjs", "http://127.0.0.1:" + cdpPort, page}, points...)...)
	nodeErr := &testutil.Buffer{}
	cmd.Stderr = nodeErr
	out, err := cmd.Output()
	var res noVNCResult
	if jerr := json.Unmarshal(lastLine(out), &res); jerr != nil || err != nil || !res.OK {
		t.Fatalf("novnc.mjs: %v %q %s\nchromium: %s", err, strings.ReplaceAll(string(out), secret, "<token>"),
			strings.ReplaceAll(nodeErr.String(), secret, "<token>"), blog.String())
	}
	return res
}

// noVNCConnected opens noVNC's page from the proxy at addr, with token tok,
// in a fresh headless Chromium and checks that it reaches Connected with
// QEMU's picture (at least 320x200) on the canvas.
func noVNCConnected(t *testing.T, addr, tok string) {
	t.Helper()
	browserBin := need(t, "chromium")
	node := need(t, "node")
	cdpPort, blog := startChromium(t, browserBin)
	page := fmt.Sprintf("http://%s/vnc_lite.html?path=%s", addr, url.QueryEscape("?token="+tok))
	res := runNoVNC(t, node, cdpPort, blog, page, tok, "10,10")
	if !strings.HasPrefix(res.Status, "Connected") || !strings.Contains(res.Status, "QEMU") || res.Width < 320 || res.Height < 200 {
		t.Fatalf("noVNC: status %q, canvas %dx%d", res.Status, res.Width, res.Height)
	}
}
