package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// adminCanary is the token of the admin tests: it must not appear in any
// admin answer or log line.
const adminCanary = "ADMIN-CANARY-41c9e7"

// adminEnv is a relay with an echo console, a token file and an admin
// listener.
type adminEnv struct {
	t      *testing.T
	srv    *engine.Server
	adm    *admin
	base   string // http://admin address
	tokens string // the token file
	logs   *testutil.Buffer
	served chan error
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	console := &rfb.Server{Mode: rfb.ModeEcho}
	if err := console.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = console.Close() })
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte(adminCanary+": "+console.Addr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	adm, err := listenAdmin("127.0.0.1:0", false, log)
	if err != nil {
		t.Fatal(err)
	}
	tf := &auth.TokenFile{Path: tokens, Logger: log}
	srv, err := engine.New(engine.Config{Listen: "127.0.0.1:0", Resolver: tf, Loops: 2, Logger: log})
	if err != nil {
		adm.close()
		t.Fatal(err)
	}
	adm.start(srv, tf)
	e := &adminEnv{t: t, srv: srv, adm: adm, base: "http://" + adm.ln.Addr().String(), tokens: tokens,
		logs: logs, served: make(chan error, 1)}
	go func() { e.served <- srv.Serve() }()
	t.Cleanup(func() {
		_, _ = srv.Shutdown(context.Background())
		adm.close()
		if strings.Contains(logs.String(), adminCanary) {
			t.Errorf("the token reached the log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for srv.Ready() != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return e
}

// get fetches an admin path and returns status and body; the body must not
// hold the token.
func (e *adminEnv) get(path string) (int, string) {
	e.t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(e.base + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if strings.Contains(string(b), adminCanary) {
		e.t.Fatalf("GET %s shows the token", path)
	}
	return resp.StatusCode, string(b)
}

// metrics scrapes /metrics and parses it.
func (e *adminEnv) metrics() map[string]*dto.MetricFamily {
	e.t.Helper()
	code, body := e.get("/metrics")
	if code != 200 {
		e.t.Fatalf("/metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// value returns the value of the series of name whose labels include
// labels (name=value pairs), summed over the matching series.
func value(t *testing.T, mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := mf[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
	var sum float64
	found := false
	for _, m := range f.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			has := false
			for _, lp := range m.GetLabel() {
				has = has || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			match = match && has
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		t.Fatalf("metric %s%v missing", name, labels)
	}
	return sum
}

// testConsole is a raw WebSocket console client past the RFB handshake of
// the echo console.
type testConsole struct {
	c  net.Conn
	br *bufio.Reader
}

// RFB handshake byte counts with bench/rfb's echo console: what the browser
// sends (version, security type, ClientInit) and what the console sends
// (version, security types, SecurityResult, ServerInit with its name).
const (
	rfbBrowserBytes = 12 + 1 + 1
	rfbConsoleBytes = 12 + 2 + 4 + 24 + len("vncrelay demo")
)

func (e *adminEnv) open(token string) (*testConsole, int) {
	e.t.Helper()
	c, err := net.DialTimeout("tcp", e.srv.Addr().String(), 2*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET /?token="+token+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		e.t.Fatal(err)
	}
	status, _ := strconv.Atoi(strings.Fields(line)[1])
	for line != "\r\n" {
		if line, err = br.ReadString('\n'); err != nil {
			e.t.Fatal(err)
		}
	}
	if status != 101 {
		return nil, status
	}
	tc := &testConsole{c: c, br: br}
	tc.read(e.t, 12)
	tc.send(e.t, []byte("RFB 003.008\n"))
	tc.read(e.t, 2)
	tc.send(e.t, []byte{1})
	tc.read(e.t, 4)
	tc.send(e.t, []byte{1})
	tc.read(e.t, 24+len("vncrelay demo"))
	_ = c.SetDeadline(time.Time{})
	return tc, status
}

// send writes p (at most 125 bytes) as one masked binary frame (mask 0).
func (tc *testConsole) send(t *testing.T, p []byte) {
	t.Helper()
	if _, err := tc.c.Write(append([]byte{0x82, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)); err != nil {
		t.Fatal(err)
	}
}

// read reads n payload bytes from small binary frames.
func (tc *testConsole) read(t *testing.T, n int) []byte {
	t.Helper()
	var out []byte
	for len(out) < n {
		var h [2]byte
		if _, err := io.ReadFull(tc.br, h[:]); err != nil || h[0] != 0x82 || h[1] > 125 {
			t.Fatalf("read frame: %v % x", err, h)
		}
		p := make([]byte, h[1])
		if _, err := io.ReadFull(tc.br, p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p...)
	}
	return out
}

var rowRE = regexp.MustCompile(`<tr data-client="([^"]+)" data-bytes-in="(\d+)" data-bytes-out="(\d+)">`)

// TestAdminEndpoints: health, readiness (token store and drain), metrics
// that match what the test did, and the status page's sort and limit.
func TestAdminEndpoints(t *testing.T) {
	e := newAdminEnv(t)
	if code, body := e.get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := e.get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	var cs []*testConsole
	for range 3 {
		tc, status := e.open(adminCanary)
		if status != 101 {
			t.Fatalf("upgrade: %d", status)
		}
		cs = append(cs, tc)
	}
	const echoed = 100
	payload := []byte(strings.Repeat("e", echoed))
	cs[0].send(t, payload)
	cs[0].read(t, echoed)
	if _, status := e.open("not-a-token"); status != 403 {
		t.Fatalf("unknown token: %d", status)
	}
	// The refused connection is counted closed once the relay has closed it.
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.Stats().Connections != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	mf := e.metrics()
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vncrelay_consoles_open", nil, 3},
		{"vncrelay_consoles_opened_total", nil, 3},
		{"vncrelay_loop_consoles", nil, 3},
		{"vncrelay_bytes_total", []string{"direction", "in"}, float64(3*rfbBrowserBytes + echoed)},
		{"vncrelay_bytes_total", []string{"direction", "out"}, float64(3*rfbConsoleBytes + echoed)},
		{"vncrelay_refusals_total", []string{"status", "403"}, 1},
		{"vncrelay_refusals_total", []string{"status", "503"}, 0},
		{"vncrelay_consoles_closed_total", []string{"reason", "refused"}, 1},
		{"vncrelay_handshake_duration_seconds", nil, 3},
		{"vncrelay_token_lookup_duration_seconds", nil, 4},
		{"vncrelay_dial_duration_seconds", nil, 3},
		{"vncrelay_console_handshake_duration_seconds", nil, 0},
		{"vncrelay_workers_max", nil, 256},
		{"vncrelay_token_lookup_errors_total", nil, 0},
		{"vncrelay_consoles_paused", nil, 0},
	}
	for _, c := range checks {
		if got := value(t, mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := mf["process_open_fds"]; !ok {
		t.Error("process_open_fds missing")
	}

	code, page := e.get("/status?sort=bytes_in&limit=2")
	if code != 200 {
		t.Fatalf("/status: %d", code)
	}
	rows := rowRE.FindAllStringSubmatch(page, -1)
	if len(rows) != 2 || rows[0][2] != strconv.Itoa(rfbBrowserBytes+echoed) || rows[1][2] != strconv.Itoa(rfbBrowserBytes) {
		t.Fatalf("status rows sorted by bytes_in: %q", rows)
	}
	if !strings.Contains(page, auth.Mask(adminCanary)) || !strings.Contains(page, `id="consoles-open">3<`) {
		t.Fatalf("status page lacks the masked token or the console count:\n%s", page)
	}
	if _, page = e.get("/status?limit=-5&sort=nonsense"); len(rowRE.FindAllString(page, -1)) != 1 ||
		!strings.Contains(page, "sorted by age") {
		t.Fatalf("limit clamped to 1, unknown sort taken as age:\n%s", page)
	}

	// The token source goes: not ready, with the reason.
	if err := os.Rename(e.tokens, e.tokens+".gone"); err != nil {
		t.Fatal(err)
	}
	if code, body := e.get("/readyz"); code != 503 || !strings.Contains(body, "token store") {
		t.Fatalf("/readyz without a token file: %d %q", code, body)
	}
	if err := os.Rename(e.tokens+".gone", e.tokens); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.get("/readyz"); code != 200 {
		t.Fatalf("/readyz with the token file back: %d", code)
	}

	// Draining: not ready while the consoles close.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.srv.Shutdown(context.Background())
	}()
	deadline = time.Now().Add(5 * time.Second)
	for e.srv.Ready() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if code, body := e.get("/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Fatalf("/readyz while draining: %d %q", code, body)
	}
	if code, _ := e.get("/healthz"); code != 200 {
		t.Fatalf("/healthz while draining: %d", code)
	}
	<-done
}

// TestAdminPprof: pprof is served on a loopback admin address, without the
// command line.
func TestAdminPprof(t *testing.T) {
	e := newAdminEnv(t)
	if code, _ := e.get("/debug/pprof/"); code != 200 {
		t.Fatalf("/debug/pprof/: %d", code)
	}
	if code, _ := e.get("/debug/pprof/cmdline"); code == 200 {
		t.Fatal("the command line is served (it may hold a store password)")
	}
	if code, body := e.get("/"); code != 200 || !strings.Contains(body, "/status") {
		t.Fatalf("index: %d %q", code, body)
	}
}

func TestAdminFlags(t *testing.T) {
	tests := []struct {
		name, admin, pprof, want, err string
	}{
		{"off", "", "", "", ""},
		{"admin anywhere", "0.0.0.0:9180", "", "0.0.0.0:9180", ""},
		{"pprof alias", "", "127.0.0.1:6060", "127.0.0.1:6060", ""},
		{"both the same", "127.0.0.1:6060", "127.0.0.1:6060", "127.0.0.1:6060", ""},
		{"both different", "127.0.0.1:9180", "127.0.0.1:6060", "", "older name"},
		{"pprof not loopback", "", "0.0.0.0:6060", "", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := adminFlags(tt.admin, tt.pprof)
			if got != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("adminFlags = %q, %v; want %q, %q", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestSplitAdminArgs(t *testing.T) {
	tests := []struct {
		name, args, admin, pprof, rest, err string
	}{
		{"none", "--config-file /etc/nova/nova.conf", "", "", "--config-file /etc/nova/nova.conf", ""},
		{"separate", "--admin 127.0.0.1:9180 --config-file f", "127.0.0.1:9180", "", "--config-file f", ""},
		{"joined", "--config-file f --admin=127.0.0.1:9180", "127.0.0.1:9180", "", "--config-file f", ""},
		{"pprof", "--pprof=127.0.0.1:6060", "", "127.0.0.1:6060", "", ""},
		{"missing value", "--config-file f --admin", "", "", "", "needs an address"},
		{"nova's own admin-like option untouched", "--administrator x", "", "", "--administrator x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin, pprof, rest, err := splitAdminArgs(strings.Fields(tt.args))
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
			if err == nil && (admin != tt.admin || pprof != tt.pprof || strings.Join(rest, " ") != tt.rest) {
				t.Fatalf("got %q %q %q", admin, pprof, rest)
			}
		})
	}
}

func TestFmtAge(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"seconds", 45 * time.Second, "45s"},
		{"minutes", 3*time.Minute + 7*time.Second, "3m07s"},
		{"hours", 2*time.Hour + 5*time.Minute + 59*time.Second, "2h05m"},
		{"days", 76 * time.Hour, "3d04h"},
		{"negative clock step", -time.Second, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmtAge(tt.d); got != tt.want {
				t.Fatalf("fmtAge(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

// TestAdminOpenMetrics: /metrics answers in the OpenMetrics text format when
// the scraper asks for it, and in Prometheus's text format otherwise.
func TestAdminOpenMetrics(t *testing.T) {
	e := newAdminEnv(t)
	for _, tt := range []struct{ accept, want string }{
		{"application/openmetrics-text; version=1.0.0", "application/openmetrics-text"},
		{"", "text/plain"},
	} {
		req, err := http.NewRequest(http.MethodGet, e.base+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.want) || !strings.Contains(string(b), "vncrelay_consoles_open") {
			t.Fatalf("Accept %q: Content-Type %q, %d bytes", tt.accept, ct, len(b))
		}
	}
}
