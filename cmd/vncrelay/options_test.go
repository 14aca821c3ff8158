package main

import (
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name  string
		args  string
		check func(*options) bool
		err   string
	}{
		{"fixed target", "6080 vnc:5900", func(o *options) bool { return o.listen == ":6080" && o.target == "vnc:5900" }, ""},
		{"source addr", "127.0.0.1:6080 vnc:5900", func(o *options) bool { return o.listen == "127.0.0.1:6080" }, ""},
		{"IPv6 source", "[::1]:6080 vnc:5900", func(o *options) bool { return o.listen == "[::1]:6080" }, ""},
		{"options after positionals", "6080 --token-plugin TokenFile --token-source /t --heartbeat 30",
			func(o *options) bool {
				return o.plugin == "TokenFile" && o.source == "/t" && o.heartbeat == 30*time.Second
			}, ""},
		{"websockify class path", "--token-plugin websockify.token_plugins.TokenFile --token-source /t 6080",
			func(o *options) bool { return o.plugin == "websockify.token_plugins.TokenFile" }, ""},
		{"short flags", "-v -6 6080 h:1", func(o *options) bool { return o.verbose && o.preferIPv6 }, ""},
		{"file-only accepted", "--file-only --web /tmp 6080 h:1", func(o *options) bool { return o.web == "/tmp" }, ""},
		{"our durations", "--handshake-timeout 3s --console-idle-timeout 1m 6080 h:1",
			func(o *options) bool { return o.handshakeTO == 3*time.Second && o.consoleIdleTO == time.Minute }, ""},
		// Issue 7: websockify's older name for a token file or directory.
		{"target-config", "--target-config /etc/tokens 6080",
			func(o *options) bool { return o.plugin == "TokenFile" && o.source == "/etc/tokens" }, ""},
		{"target-config after positionals", "6080 --target-config=/etc/tokens.d",
			func(o *options) bool { return o.plugin == "TokenFile" && o.source == "/etc/tokens.d" }, ""},
		{"target-config with token-plugin", "--target-config /t --token-plugin TokenFile --token-source /u 6080", nil, "not both"},
		{"target-config with a fixed target", "--target-config /t 6080 h:1", nil, "only one"},
		{"max-fragments", "--max-fragments 64 6080 h:1", func(o *options) bool { return o.maxFragments == 64 }, ""},
		{"demo alone", "--demo", func(o *options) bool { return o.listen == "127.0.0.1:6080" }, ""},
		{"TLS options", "--cert c.pem --key k.pem --key-password pw --ssl-only --ssl-version tlsv1_3 --ssl-ciphers ECDHE-RSA-AES128-GCM-SHA256 --verify-client --cafile ca.pem --ssl-target 6080 h:1",
			func(o *options) bool {
				t := o.tls
				return t.cert == "c.pem" && t.key == "k.pem" && t.keyPassword == "pw" && t.sslOnly && t.version == "tlsv1_3" &&
					t.ciphers == "ECDHE-RSA-AES128-GCM-SHA256" && t.verifyClient && t.cafile == "ca.pem" && t.sslTarget
			}, ""},
		{"daemon", "-D 6080 h:1", func(o *options) bool { return o.daemon }, ""},
		{"auth plugin", "--auth-plugin BasicHTTPAuth --auth-source u:p --web-auth --web /tmp 6080 h:1",
			func(o *options) bool { return o.authPlugin == "BasicHTTPAuth" && o.authSource == "u:p" && o.webAuth }, ""},
		{"token source without plugin", "--token-source /t 6080", nil, "--token-source needs --token-plugin"},
		{"auth source without plugin", "--auth-source u:p 6080 h:1", nil, "--auth-source needs --auth-plugin"},
		{"web-auth without plugin", "--web-auth --web /tmp 6080 h:1", nil, "--web-auth needs --auth-plugin"},
		{"web-auth without web", "--auth-plugin ExpectOrigin --web-auth 6080 h:1", nil, "--web-auth needs --web"},
		{"record", "--record /tmp/r 6080 h:1", func(o *options) bool { return o.record == "/tmp/r" }, ""},
		{"wrapped program refused", "6080 -- vncserver", nil, "wrapping a program"},
		{"no target", "6080", nil, "no target"},
		{"two targets", "--unix-target /s 6080 h:1", nil, "only one"},
		{"plugin without source", "--token-plugin TokenFile 6080", nil, "--token-source"},
		{"bad port", "60x80 h:1", nil, "bad source port"},
		{"too many", "1 2 3", nil, "too many"},
		{"missing", "", nil, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(strings.Fields(tt.args), io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.check(o) {
				t.Fatalf("got %+v, %v", o, err)
			}
		})
	}
}

func TestConfigPlugins(t *testing.T) {
	for _, tt := range []struct {
		args string
		err  string
	}{
		{"--token-plugin TokenFile --token-source /t 6080", ""},
		{"--token-plugin ReadOnlyTokenFile --token-source /t 6080", ""},
		{"--token-plugin TokenRedis --token-source r:6379 6080", ""},
		{"--token-plugin websockify.token_plugins.TokenRedis --token-source r:6380:1:pw:ns 6080", ""},
		{"--token-plugin TokenRedis --token-source :6379 6080", "empty host"},
		{"--token-plugin TokenRedis --token-source r:6379:0:pw:ns:extra 6080", "more than 5"},
		{"--token-plugin JSONTokenApi --token-source http://api/tokens/%s 6080", ""},
		{"--token-plugin websockify.token_plugins.BaseTokenAPI --token-source http://api/t?token=%s 6080", ""},
		{"--token-plugin BaseTokenAPI --token-source http://api/tokens 6080", "no %s"},
		{"--token-plugin UnixDomainSocketDirectory --token-source / 6080", ""},
		{"--token-plugin TokenFileName --token-source / 6080", ""},
		{"--token-plugin TokenFileName --token-source /nonexistent-vncrelay-dir 6080", "TokenFileName"},
		{"--token-plugin JWTTokenApi --token-source /nonexistent-vncrelay-key.pem 6080", "JWT key file"},
		{"--token-plugin JWTTokenApi --token-source testdata/jwt-hmac.key 6080", ""},
		{"--token-plugin mymodule.TokenRedis --token-source r 6080", "only websockify's own"},
		{"--token-plugin TokenSQL --token-source r 6080", "no such websockify plugin"},
		{"6080 bad-target", "missing port"},
		{"--log-format xml 6080 h:1", ""},
	} {
		o, err := parseOptions(strings.Fields(tt.args), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.args, err)
		}
		_, _, err = o.config(nil)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Fatalf("%s: err %v, want %q", tt.args, err, tt.err)
		}
	}
	o, _ := parseOptions(strings.Fields("--log-format xml 6080 h:1"), io.Discard)
	if _, _, err := newLogger(o, io.Discard); err == nil {
		t.Fatal("--log-format xml accepted")
	}
}

// TestTLSApply: the TLS options reach the engine's configuration, and
// mistakes are refused at start with what is wrong.
func TestTLSApply(t *testing.T) {
	ca := testutil.NewTestCA(t, "cmd CA")
	dir := t.TempDir()
	combined := ca.Server(t, "relay.test").WriteCombined(t, dir, "relay.pem")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		opts   tlsOptions
		check  func(*engine.Config) bool
		errHas string
	}{
		{"none", tlsOptions{}, func(c *engine.Config) bool { return c.TLS == nil && c.TargetTLS == nil }, ""},
		{"combined cert, ssl-only", tlsOptions{cert: combined, sslOnly: true},
			func(c *engine.Config) bool { return c.TLS != nil && c.TLSOnly }, ""},
		{"ssl-target with a CA file", tlsOptions{sslTarget: true, targetCAFile: caFile},
			func(c *engine.Config) bool { return c.TargetTLS != nil && c.TargetTLS.RootCAs != nil && c.TLS == nil }, ""},
		{"ssl-only without a cert", tlsOptions{sslOnly: true}, nil, "--ssl-only needs a certificate"},
		{"unknown cipher", tlsOptions{cert: combined, ciphers: "HIGH:!aNULL"}, nil, "HIGH, !aNULL"},
		{"old version", tlsOptions{cert: combined, version: "tlsv1"}, nil, "--ssl-version"},
		{"target CA without ssl-target", tlsOptions{targetCAFile: caFile}, nil, "--ssl-target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg engine.Config
			_, err := tc.opts.apply(&cfg, log)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err %v, want one saying %q", err, tc.errHas)
				}
				return
			}
			if err != nil || !tc.check(&cfg) {
				t.Fatalf("config %+v, %v", cfg, err)
			}
		})
	}
}

// TestTraffic: --traffic prints websockify's marks for each relayed read and
// passes the payload on to the --record recorder.
func TestTraffic(t *testing.T) {
	var out strings.Builder
	var got []string
	cfg := engine.Config{Recorder: func(int64) engine.ConsoleRecorder { return &collect{&got} }}
	withTraffic(&cfg, &out)
	rec := cfg.Recorder(0)
	rec.Record(1, true, []byte("in"))
	rec.Record(2, false, []byte("out"))
	rec.Close()
	if !strings.HasSuffix(out.String(), "}>{<\n") || !strings.HasPrefix(out.String(), "Traffic legend:") {
		t.Fatalf("printed %q", out.String())
	}
	if strings.Join(got, ",") != "in,out,close" {
		t.Fatalf("recorder got %q", got)
	}
	for _, bad := range []string{"--inetd", "--libserver"} {
		if _, err := parseOptions([]string{bad, "6080", "h:1"}, io.Discard); err == nil || !strings.Contains(err.Error(), "not planned") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

type collect struct{ got *[]string }

func (c *collect) Record(_ int64, _ bool, p []byte) { *c.got = append(*c.got, string(p)) }
func (c *collect) Close()                           { *c.got = append(*c.got, "close") }

// TestVersionCommand: `vncrelay version` and `--version` print the module
// version, VCS revision and Go version, and exit 0.
func TestVersionCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "vncrelay")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil || !strings.HasPrefix(string(out), "vncrelay ") || !strings.Contains(string(out), " go1.") {
			t.Fatalf("%s: %v %q", arg, err, out)
		}
	}
}
