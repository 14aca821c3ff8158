package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/novatest"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

var adminRE = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)

// startRelayAdmin runs the relay with --admin on 127.0.0.1:0 and returns
// the relay's and the admin listener's addresses.
func startRelayAdmin(t *testing.T, args ...string) (relay, admin string) {
	t.Helper()
	relay, _, logs := startRelayLogged(t, nil, append(args, "--admin", "127.0.0.1:0")...)
	m := adminRE.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no admin listening line:\n%s", logs.String())
	}
	return relay, m[1]
}

// adminGet fetches an admin URL; the body must not hold the token.
func adminGet(t *testing.T, u string) string {
	t.Helper()
	b := httpGet(t, u)
	if strings.Contains(b, canary) {
		t.Fatalf("GET %s shows the token", u)
	}
	return b
}

// metricValue reads one series (name with its labels, as the exposition
// format prints them) from a /metrics body.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("series %s not in /metrics", series)
	return 0
}

// Bytes of the RFB handshake with the echo console (openEcho): browser
// to console, and console to browser.
const (
	echoHandshakeIn  = 12 + 1 + 1
	echoHandshakeOut = 12 + 2 + 4 + 24 + len("vncrelay demo")
)

// openEchoes opens n consoles and sends i*10+5 bytes through console i; it
// returns the bytes relayed each way in all.
func openEchoes(t *testing.T, addr string, n int) (in, out int) {
	t.Helper()
	for i := range n {
		s := openEcho(t, addr)
		s.roundTrip(t, bytes.Repeat([]byte{'a' + byte(i)}, i*10+5))
		in += echoHandshakeIn + i*10 + 5
		out += echoHandshakeOut + i*10 + 5
	}
	return in, out
}

// TestStatusPageChromium: the status page in headless Chromium shows every
// console open, with the masked token, and totals that match /metrics; it
// loads nothing but itself and has no script; its screenshot is a real
// picture. VNCRELAY_STATUS_SCREENSHOT=path keeps the screenshot.
func TestStatusPageChromium(t *testing.T) {
	browserBin := need(t, "chromium")
	node := need(t, "node")
	needPlaywright(t)
	relay, admin := startRelayAdmin(t, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	const consoles = 4
	in, out := openEchoes(t, relay, consoles)

	metrics := adminGet(t, "http://"+admin+"/metrics")
	if got := metricValue(t, metrics, "vncrelay_consoles_open"); got != consoles {
		t.Fatalf("vncrelay_consoles_open %v, want %d", got, consoles)
	}
	mIn := metricValue(t, metrics, `vncrelay_bytes_total{direction="in"}`)
	mOut := metricValue(t, metrics, `vncrelay_bytes_total{direction="out"}`)
	if mIn != float64(in) || mOut != float64(out) {
		t.Fatalf("bytes in/out %v/%v in /metrics, the test relayed %d/%d", mIn, mOut, in, out)
	}

	cdpPort, blog := startChromium(t, browserBin)
	png := filepath.Join(t.TempDir(), "status.png")
	if p := os.Getenv("VNCRELAY_STATUS_SCREENSHOT"); p != "" {
		png = p
	}
	page := "http://" + admin + "/status?sort=bytes_in&refresh=30"
	cmd := exec.Command(node, "status.mjs", "http://127.0.0.1:"+cdpPort, page, png)
	raw, err := cmd.Output()
	var res struct {
		OK           bool     `json:"ok"`
		Error        string   `json:"error"`
		Status       int      `json:"status"`
		Requests     []string `json:"requests"`
		Title        string   `json:"title"`
		ConsolesOpen float64  `json:"consolesOpen"`
		BytesIn      float64  `json:"bytesIn"`
		BytesOut     float64  `json:"bytesOut"`
		Refresh      string   `json:"refresh"`
		Scripts      int      `json:"scripts"`
		Headings     []string `json:"headings"`
		Loops        [][]int  `json:"loops"`
		HTML         string   `json:"html"`
		Rows         []struct {
			Client, Target, Token, State, Paused string
			BytesIn, BytesOut                    int
		} `json:"rows"`
	}
	if jerr := json.Unmarshal(lastLine(raw), &res); jerr != nil || err != nil || !res.OK {
		t.Fatalf("status.mjs: %v %v %q\nchromium: %s", err, jerr, raw, blog.String())
	}
	if strings.Contains(res.HTML, canary) {
		t.Fatal("the status page shows the token")
	}
	if res.Status != 200 || res.Title != "vncrelay status" || res.Refresh != "30" || res.Scripts != 0 {
		t.Fatalf("page: status %d title %q refresh %q scripts %d", res.Status, res.Title, res.Refresh, res.Scripts)
	}
	if len(res.Requests) != 1 {
		t.Fatalf("the page loaded more than itself: %q", res.Requests)
	}
	if res.ConsolesOpen != consoles || res.BytesIn != mIn || res.BytesOut != mOut {
		t.Fatalf("page totals %v consoles, %v/%v bytes; /metrics %d, %v/%v", res.ConsolesOpen, res.BytesIn, res.BytesOut,
			consoles, mIn, mOut)
	}
	if len(res.Rows) != consoles {
		t.Fatalf("%d rows, want %d", len(res.Rows), consoles)
	}
	echoAddr := ""
	sumIn := 0
	for i, r := range res.Rows {
		if r.Token != auth.Mask(canary) || r.State != "relaying" || r.Paused != "no" || !strings.HasPrefix(r.Client, "127.0.0.1:") {
			t.Errorf("row %d: %+v", i, r)
		}
		if echoAddr == "" {
			echoAddr = r.Target
		}
		if r.Target != echoAddr || r.Target == "" {
			t.Errorf("row %d target %q", i, r.Target)
		}
		// Sorted by bytes in, largest first: console i sent i*10+5 bytes.
		if want := echoHandshakeIn + (consoles-1-i)*10 + 5; r.BytesIn != want {
			t.Errorf("row %d bytes in %d, want %d (sorted by bytes_in)", i, r.BytesIn, want)
		}
		sumIn += r.BytesIn
	}
	if sumIn != in {
		t.Errorf("rows sum to %d bytes in, the test relayed %d", sumIn, in)
	}
	loopConsoles := 0
	for _, l := range res.Loops {
		loopConsoles += l[2]
	}
	if loopConsoles != consoles {
		t.Errorf("loops table: %v", res.Loops)
	}
	checkScreenshot(t, png)
}

// checkScreenshot decodes the PNG and checks that it shows a page: a
// reasonable size and many colours (text, table rows, headings), not one.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 300 {
		t.Fatalf("screenshot %v", b)
	}
	colours := map[[3]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
		}
	}
	// The table heading's blue is there, and the relaying cells' green.
	if len(colours) < 20 || !hasColour(img, 0x20, 0x43, 0x5c) || !hasColour(img, 0xc8, 0xf0, 0xc8) {
		t.Fatalf("screenshot looks blank: %d colours", len(colours))
	}
}

func hasColour(img image.Image, r, g, b uint32) bool {
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if pr>>8 == r && pg>>8 == g && pb>>8 == b {
				return true
			}
		}
	}
	return false
}

// TestPrometheusScrapes: Debian's Prometheus, started by the test on
// loopback, scrapes the admin listener; its query API shows the consoles
// the test holds and the bytes it relayed.
func TestPrometheusScrapes(t *testing.T) {
	prom := need(t, "prometheus")
	relay, admin := startRelayAdmin(t, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	const consoles = 3
	in, out := openEchoes(t, relay, consoles)

	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"+
		"  - job_name: vncrelay\n    static_configs:\n      - targets: ['%s']\n", admin)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	plog := &testutil.Buffer{}
	startProc(t, plog, prom, "--config.file="+conf, "--web.listen-address="+promAddr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--log.level=warn")

	query := func(q string) (float64, bool) {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if v, ok := query(`vncrelay_consoles_open{job="vncrelay"}`); ok && v == consoles {
			break
		}
		if time.Now().After(deadline) {
			v, ok := query(`vncrelay_consoles_open`)
			t.Fatalf("Prometheus did not show %d consoles open in 60 s (last: %v %v)\nprometheus:\n%s", consoles, v, ok, plog.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	checks := []struct {
		q    string
		want float64
	}{
		{`up{job="vncrelay"}`, 1},
		{`vncrelay_bytes_total{direction="in"}`, float64(in)},
		{`vncrelay_bytes_total{direction="out"}`, float64(out)},
		{`sum(vncrelay_loop_consoles)`, consoles},
		{`vncrelay_handshake_duration_seconds_count`, consoles},
		{`vncrelay_refusals_total{status="403"}`, 0},
	}
	for _, c := range checks {
		if v, ok := query(c.q); !ok || v != c.want {
			t.Errorf("%s = %v (ok %v), want %v", c.q, v, ok, c.want)
		}
	}
}

// TestNovaProxyAdmin: `--admin` on a Nova proxy's command line (nova.conf
// has no such option): ready while Nova's database answers, 503 naming the
// token store when it does not.
func TestNovaProxyAdmin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		db    func() string
		ready bool
	}{
		{"database down", func() string {
			return fmt.Sprintf("mysql+pymysql://nova:pw@127.0.0.1:%d/nova", freePort(t))
		}, false},
		{"database up", func() string { return novatest.Shared(t).DatabaseURL }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			conf := filepath.Join(t.TempDir(), "nova.conf")
			body := fmt.Sprintf("[DEFAULT]\nweb = /usr/share/novnc\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = %d\n"+
				"[database]\nconnection = %s\n", port, tc.db())
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(t.TempDir(), "nova-novncproxy")
			if err := os.Symlink(relayBin, bin); err != nil {
				t.Fatal(err)
			}
			_, _, logs := startListening(t, []string{bin, "--config-file", conf, "--admin", "127.0.0.1:0"},
				func() []string { return nil })
			m := adminRE.FindStringSubmatch(logs.String())
			if m == nil {
				t.Fatalf("no admin listening line:\n%s", logs.String())
			}
			if v := metricValue(t, adminGet(t, "http://"+m[1]+"/metrics"), "vncrelay_consoles_open"); v != 0 {
				t.Fatalf("consoles open %v", v)
			}
			resp, err := http.Get("http://" + m[1] + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.ready && resp.StatusCode != 200 || !tc.ready && (resp.StatusCode != 503 || !strings.Contains(string(b), "token store")) {
				t.Fatalf("/readyz: %d %q", resp.StatusCode, b)
			}
		})
	}
}

// TestPromtoolRules: the shipped alert rules pass promtool's check and
// their unit tests (deploy/prometheus/vncrelay-alerts_test.yml).
func TestPromtoolRules(t *testing.T) {
	promtool := need(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus/vncrelay-alerts.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 7 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	cmd := exec.Command(promtool, "test", "rules", "vncrelay-alerts_test.yml")
	cmd.Dir = "../../deploy/prometheus"
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
