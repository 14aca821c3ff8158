package e2e

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/novatest"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// novaEnv is a Nova control plane for the proxy under test: MariaDB with
// Nova's schema (made by nova-manage), RabbitMQ, an oslo.messaging compute
// stand-in for host "compute1" answering validate_console_port, and a QEMU
// VNC console.
type novaEnv struct {
	nova    *novatest.Nova
	rabbit  *novatest.Rabbit
	compute *novatest.FakeCompute
	console string // QEMU's VNC host:port
	port    int    // its port
}

// sharedRabbit is the test binary's RabbitMQ node (about 10 s to start):
// started by the first Nova test, stopped by TestMain.
var sharedRabbit struct {
	sync.Mutex
	r   *novatest.Rabbit
	dir string
	err error
}

func rabbitMQ(t *testing.T) *novatest.Rabbit {
	t.Helper()
	sharedRabbit.Lock()
	defer sharedRabbit.Unlock()
	if sharedRabbit.r == nil && sharedRabbit.err == nil {
		sharedRabbit.dir, sharedRabbit.err = os.MkdirTemp("", "vncrelay-e2e-rabbit-")
		if sharedRabbit.err == nil {
			sharedRabbit.r, sharedRabbit.err = novatest.NewRabbitMQ(sharedRabbit.dir)
		}
	}
	if sharedRabbit.err != nil {
		t.Fatalf("start RabbitMQ: %v", sharedRabbit.err)
	}
	return sharedRabbit.r
}

// stopRabbitMQ stops what rabbitMQ started, if anything.
func stopRabbitMQ() error {
	sharedRabbit.Lock()
	defer sharedRabbit.Unlock()
	var err error
	if sharedRabbit.r != nil {
		err = sharedRabbit.r.Stop()
	}
	if sharedRabbit.dir != "" {
		_ = os.RemoveAll(sharedRabbit.dir)
	}
	return err
}

func startNovaEnv(t *testing.T) *novaEnv {
	t.Helper()
	need(t, "rabbitmq-server")
	e := &novaEnv{nova: novatest.Shared(t), rabbit: rabbitMQ(t)}
	e.compute = novatest.StartFakeCompute(t, e.rabbit.URL(), "compute1")
	e.console = startQEMUVNC(t)
	_, p, _ := net.SplitHostPort(e.console)
	e.port, _ = strconv.Atoi(p)
	return e
}

// token makes a console token with Nova's own code, for an instance on
// compute1 whose compute node confirms the port unless answer says otherwise.
func (e *novaEnv) token(t *testing.T, spec novatest.TokenSpec, answer *novatest.ComputeAnswer) string {
	t.Helper()
	if spec.InstanceUUID == "" {
		spec.InstanceUUID = e.nova.CreateInstance(t, novatest.InstanceSpec{Host: "compute1"}).UUID
	}
	if spec.Port == 0 {
		spec.Port = e.port
	}
	a := novatest.ComputeAnswer{Port: strconv.Itoa(spec.Port)}
	if answer != nil {
		a = *answer
	}
	if err := e.compute.SetAnswer(spec.InstanceUUID, a); err != nil {
		t.Fatal(err)
	}
	return e.nova.CreateToken(t, spec)
}

// novaConf writes a nova.conf for the proxy, modelled on a deployment's.
func (e *novaEnv) novaConf(t *testing.T, port int, extra string) string {
	t.Helper()
	conf := fmt.Sprintf(`[DEFAULT]
# As a controller's nova.conf carries them, most options unused by the proxy.
transport_url = %s
my_ip = 127.0.0.1
state_path = /var/lib/nova
debug = false
web = /usr/share/novnc

[api]
auth_strategy = keystone

[vnc]
enabled = true
server_listen = 0.0.0.0
server_proxyclient_address = $my_ip
novncproxy_host = 127.0.0.1
novncproxy_port = %d
novncproxy_base_url = http://127.0.0.1:%d/vnc_lite.html

[console]
allowed_origins = portal.example.test

[database]
connection = %s
max_pool_size = 5

[keystone_authtoken]
www_authenticate_uri = http://keystone.example.test:5000
auth_type = password
password = not-used-by-the-proxy

[oslo_concurrency]
lock_path = $state_path/tmp
%s`, e.rabbit.URL(), port, port, e.nova.DatabaseURL, extra)
	p := filepath.Join(t.TempDir(), "nova.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startNovaProxy runs the built binary under Nova's program name (the
// symlink a package installs) with Nova's command line, and waits until it
// listens. Its log must never hold a token.
func startNovaProxy(t *testing.T, program string, tokens func() []string, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), program)
	if err := os.Symlink(relayBin, bin); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := startListening(t, append([]string{bin}, args...), tokens)
	return addr
}

// tempest runs tempest's console client in mode against url and returns its
// status line, failing the test when tempest's judgement fails.
func tempest(t *testing.T, mode, u string) string {
	t.Helper()
	var res struct {
		OK         bool   `json:"ok"`
		Error      string `json:"error"`
		StatusLine string `json:"status_line"`
	}
	runJSON(t, &res, "python3", "tempest_client.py", mode, u)
	if !res.OK {
		t.Fatalf("tempest's %s judgement failed: %s (status %q)", mode, res.Error, res.StatusLine)
	}
	return res.StatusLine
}

// rawUpgrade sends an upgrade with extra headers and returns the status.
func rawUpgrade(t *testing.T, addr, target string, extra ...string) int {
	t.Helper()
	host := addr
	for _, h := range extra {
		if strings.HasPrefix(h, "Host:") {
			host = "" // the caller's Host replaces ours
		}
	}
	status, _ := rawStatus(t, addr, upgradeReq(target, host, extra...))
	return status
}

// TestNovaNoVNCProxy replaces nova-novncproxy: the binary runs as
// nova-novncproxy --config-file nova.conf against Nova's real database,
// RabbitMQ and a compute stand-in speaking oslo.messaging with Nova's
// serializers, and QEMU's VNC server as the console.
func TestNovaNoVNCProxy(t *testing.T) {
	need(t, "python3")
	e := startNovaEnv(t)
	var made []string
	mk := func(spec novatest.TokenSpec, answer *novatest.ComputeAnswer) string {
		tok := e.token(t, spec, answer)
		made = append(made, tok)
		return tok
	}
	port := freePort(t)
	conf := e.novaConf(t, port, "")
	addr := startNovaProxy(t, "nova-novncproxy", func() []string { return made }, "--config-file", conf)
	pathURL := func(token string) string {
		return "http://" + addr + "/vnc_lite.html?path=" + url.QueryEscape("?token="+token)
	}

	good := mk(novatest.TokenSpec{}, nil)
	t.Run("tempest test_novnc", func(t *testing.T) {
		if got := tempest(t, "good", pathURL(good)); got != "HTTP/1.1 101 Switching Protocols" {
			t.Fatalf("status %q", got)
		}
		calls := e.compute.Calls()
		if len(calls) == 0 || !calls[len(calls)-1].IsInstance || calls[len(calls)-1].ConsoleType != "novnc" ||
			calls[len(calls)-1].Port != strconv.Itoa(e.port) {
			t.Fatalf("compute saw %+v", calls)
		}
	})
	t.Run("token stays multi-use", func(t *testing.T) {
		tempest(t, "good", "http://"+addr+"/websockify?token="+good)
	})
	t.Run("token in a cookie, with Horizon's malformed cookies", func(t *testing.T) {
		if s := rawUpgrade(t, addr, "/websockify", `Cookie: ?=!; sessionid="a b"; token=`+good+`; flag`); s != 101 {
			t.Fatalf("status %d", s)
		}
	})
	refusals := []struct {
		name   string
		token  func() string
		status string
	}{
		{"tempest test_novnc_bad_token", func() string { return "bad" + good }, "HTTP/1.1 403 Forbidden"},
		{"expired", func() string { return mk(novatest.TokenSpec{TTL: -10}, nil) }, "HTTP/1.1 403 Forbidden"},
		{"serial token at the novnc proxy", func() string { return mk(novatest.TokenSpec{ConsoleType: "serial"}, nil) }, "HTTP/1.1 403 Forbidden"},
		{"compute says the port is not the console's", func() string {
			return mk(novatest.TokenSpec{}, &novatest.ComputeAnswer{Port: "1"})
		}, "HTTP/1.1 403 Forbidden"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if got := tempest(t, "bad", pathURL(tt.token())); got != tt.status {
				t.Fatalf("status %q, want %q", got, tt.status)
			}
		})
	}
	t.Run("instance row gone", func(t *testing.T) {
		inst := e.nova.CreateInstance(t, novatest.InstanceSpec{Host: "compute1"})
		tok := mk(novatest.TokenSpec{InstanceUUID: inst.UUID}, nil)
		e.nova.SoftDeleteInstanceRow(t, inst.UUID)
		if got := tempest(t, "bad", pathURL(tok)); got != "HTTP/1.1 403 Forbidden" {
			t.Fatalf("status %q", got)
		}
	})
	t.Run("Origin", func(t *testing.T) {
		tok := mk(novatest.TokenSpec{AccessURLBase: "https://portal.example.test/vnc_lite.html"}, nil)
		host := strings.Split(addr, ":")[0]
		for _, c := range []struct {
			name   string
			extra  []string
			status int
		}{
			{"allowed origin, https", []string{"Origin: https://portal.example.test"}, 101},
			{"same host as Host, https", []string{"Origin: https://" + host}, 101},
			{"scheme mismatch", []string{"Origin: http://portal.example.test"}, 403},
			{"TLS proxy in front says https", []string{"Origin: http://portal.example.test", "X-Forwarded-Proto: https"}, 101},
			{"other host", []string{"Origin: https://evil.example.test"}, 403},
			{"no Origin: not a browser", nil, 101},
			// Nova's rule lets a page open a console of the host it came
			// from, so this passes in Nova too; what must not follow is
			// evil.example.test becoming an allowed origin (checked below).
			{"request to another Host, same Origin", []string{"Origin: https://evil.example.test", "Host: evil.example.test"}, 101},
			{"two Host headers", []string{"Origin: https://evil.example.test", "Host: " + addr, "Host: evil.example.test"}, 400},
		} {
			t.Run(c.name, func(t *testing.T) {
				if s := rawUpgrade(t, addr, "/?token="+tok, c.extra...); s != c.status {
					t.Fatalf("status %d, want %d", s, c.status)
				}
			})
		}
		// Nova appended each request's Host to allowed_origins (Launchpad
		// 2158919): after the request above, evil.example.test would pass.
		if s := rawUpgrade(t, addr, "/?token="+tok, "Origin: https://evil.example.test"); s != 403 {
			t.Fatalf("poisoned: status %d", s)
		}
	})
	t.Run("database stopped, then back", func(t *testing.T) {
		if err := e.nova.DB.Stop(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		s := rawUpgrade(t, addr, "/?token="+good)
		if err := e.nova.DB.Start(); err != nil {
			t.Fatal(err)
		}
		if s != 503 {
			t.Fatalf("with the database down: status %d, want 503", s)
		}
		t.Logf("503 after %v", time.Since(start).Round(time.Millisecond))
		deadline := time.Now().Add(30 * time.Second)
		for rawUpgrade(t, addr, "/?token="+good) != 101 {
			if time.Now().After(deadline) {
				t.Fatal("no recovery after the database came back")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("compute RPC times out", func(t *testing.T) {
		tok := mk(novatest.TokenSpec{}, &novatest.ComputeAnswer{Port: strconv.Itoa(e.port), Hang: 11 * time.Second})
		start := time.Now()
		if s := rawUpgrade(t, addr, "/?token="+tok); s != 503 && s != 504 {
			t.Fatalf("status %d, want 503", s)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("refused after %v", d)
		}
	})
}

// TestNovaTunnel: a token with internal_access_path reaches its console
// through the CONNECT front, whose answer shares a segment with the
// console's first bytes.
func TestNovaTunnel(t *testing.T) {
	e := startNovaEnv(t)
	front := testutil.ConnectFront(t, "/console/vm-1", "HTTP/1.1 200 OK\r\n\r\n", e.console)
	_, fp, _ := net.SplitHostPort(front)
	fport, _ := strconv.Atoi(fp)
	var made []string
	good := e.token(t, novatest.TokenSpec{Port: fport, InternalAccessPath: "/console/vm-1"}, nil)
	wrongPath := e.token(t, novatest.TokenSpec{Port: fport, InternalAccessPath: "/console/other"}, nil)
	made = append(made, good, wrongPath)
	addr := startNovaProxy(t, "nova-novncproxy", func() []string { return made }, "--config-file", e.novaConf(t, freePort(t), ""))
	if got := tempest(t, "good", "http://"+addr+"/?token="+good); got != "HTTP/1.1 101 Switching Protocols" {
		t.Fatalf("status %q", got)
	}
	if s := rawUpgrade(t, addr, "/?token="+wrongPath); s != 502 {
		t.Fatalf("tunnel refused: status %d, want 502", s)
	}
}

// TestNovaNoVNCChromium: noVNC's page, served by the proxy from [DEFAULT]
// web, in headless Chromium, through nova-novncproxy (the vncrelay symlink)
// to QEMU: it reaches Connected with QEMU's picture on the canvas.
func TestNovaNoVNCChromium(t *testing.T) {
	need(t, "chromium") // before the Nova environment: noVNCConnected needs them
	need(t, "node")
	e := startNovaEnv(t)
	tok := e.token(t, novatest.TokenSpec{}, nil)
	addr := startNovaProxy(t, "nova-novncproxy", func() []string { return []string{tok} }, "--config-file", e.novaConf(t, freePort(t), ""))
	noVNCConnected(t, addr, tok)
}
