package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// checkFiles writes a token file, a web root and two nova.conf files (one
// good, one naming a missing web root) and returns their paths.
func checkFiles(t *testing.T) (tokens, web, novaGood, novaBad string) {
	t.Helper()
	dir := t.TempDir()
	tokens, web = filepath.Join(dir, "tokens"), filepath.Join(dir, "web")
	novaGood, novaBad = filepath.Join(dir, "good.conf"), filepath.Join(dir, "bad.conf")
	base := "[database]\nconnection = mysql://nova:secret@127.0.0.1:1/nova\n"
	for path, body := range map[string]string{
		tokens:   "tok: 127.0.0.1:5900\n",
		novaGood: base + "[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = 0\n",
		novaBad:  base + "[DEFAULT]\nweb = " + filepath.Join(dir, "nosuch") + "\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(web, 0o755); err != nil {
		t.Fatal(err)
	}
	return tokens, web, novaGood, novaBad
}

// TestCheckConfig: --check-config builds a configuration as a start would
// and says what is wrong with it, for websockify's command line and Nova's.
func TestCheckConfig(t *testing.T) {
	tokens, web, novaGood, novaBad := checkFiles(t)
	tests := []struct {
		name string
		prog string
		args string
		err  string // "" for a good configuration
	}{
		{"token file", "vncrelay", "--token-plugin TokenFile --token-source " + tokens + " --web " + web + " 127.0.0.1:0", ""},
		{"fixed target", "vncrelay", "--allowed-origin novnc.example 127.0.0.1:0 127.0.0.1:5900", ""},
		{"missing token file", "vncrelay", "--token-plugin TokenFile --token-source " + tokens + ".gone 127.0.0.1:0", "token source"},
		{"web root missing", "vncrelay", "--web " + web + "/nosuch 127.0.0.1:0 127.0.0.1:5900", "not a directory"},
		{"unknown plugin", "vncrelay", "--token-plugin TokenSQL --token-source x 127.0.0.1:0", "no such websockify plugin"},
		{"certificate missing", "vncrelay", "--cert /nonexistent/cert.pem 127.0.0.1:0 127.0.0.1:5900", "cert"},
		{"bad limit", "vncrelay", "--trusted-proxy not-a-cidr 127.0.0.1:0 127.0.0.1:5900", "trusted"},
		{"no target", "vncrelay", "127.0.0.1:0", "token"},
		{"nova good", "nova-novncproxy", "--config-file " + novaGood, ""},
		{"nova subcommand", "vncrelay", "nova novnc --config-file " + novaGood, ""},
		{"nova web missing", "nova-novncproxy", "--config-file " + novaBad, "html/js"},
		{"nova config missing", "nova-novncproxy", "--config-file " + novaGood + ".gone", "gone"},
		{"nova bad subcommand", "vncrelay", "nova vnc --config-file " + novaGood, "want novnc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := checkCommand(tt.prog, strings.Fields(tt.args), &out)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err == "" && !strings.Contains(out.String(), "configuration OK"):
				t.Fatalf("no OK line: %q", out.String())
			case tt.err != "" && err == nil:
				t.Fatal("accepted")
			case tt.err != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.err)):
				t.Fatalf("error %q does not say %q", err, tt.err)
			}
			if (err != nil && strings.Contains(err.Error(), "secret")) || strings.Contains(out.String(), "secret") {
				t.Fatalf("the database password reached the output: %v\n%s", err, out.String())
			}
		})
	}
}

// TestCheckConfigExit: the program exits 0 for a good configuration and 1
// with the reason on stderr for a bad one. The test binary runs main as a
// child process.
func TestCheckConfigExit(t *testing.T) {
	if args := os.Getenv("VNCRELAY_TEST_MAIN"); args != "" {
		os.Args = append([]string{"vncrelay"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	tokens, _, _, _ := checkFiles(t)
	tests := []struct {
		name   string
		args   string
		status int
		stderr string
	}{
		{"good", "--check-config --token-plugin TokenFile --token-source " + tokens + " 127.0.0.1:0", 0, "configuration OK"},
		{"bad", "--token-plugin TokenFile --token-source " + tokens + ".gone --check-config 127.0.0.1:0", 1, "configuration refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCheckConfigExit$")
			cmd.Env = append(os.Environ(), "VNCRELAY_TEST_MAIN="+tt.args)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", status, stderr.String(), tt.status, tt.stderr)
			}
		})
	}
}

// TestReloader: SIGHUP's reload puts a good new configuration in force
// and refuses a bad one with a log line, keeping the one in force.
func TestReloader(t *testing.T) {
	tokens, web, _, _ := checkFiles(t)
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	args := "--token-plugin TokenFile --token-source " + tokens + " 127.0.0.1:0"
	build := func(l *slog.Logger) (*built, error) { return buildWebsockify(strings.Fields(args), l) }
	b, err := build(log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = srv.Shutdown(t.Context()) }()
	o, _ := parseOptions(strings.Fields(args), nil)
	rl := newReloader(srv, log, build, nil, fixedOptions(o), b.cleanup)
	defer rl.close()
	listen := "127.0.0.1:0" // the same command line: the configured address, not the port it got

	tests := []struct {
		name  string
		args  string
		log   string
		check func(engine.Config) bool
	}{
		{"origins and web root", "--allowed-origin novnc.example --web " + web + " --token-plugin TokenFile --token-source " + tokens + " " + listen,
			"configuration reloaded", func(c engine.Config) bool { return c.Origins != nil && c.WebDir == web }},
		{"missing token file", "--token-plugin TokenFile --token-source " + tokens + ".gone " + listen,
			"reload refused", func(c engine.Config) bool { return c.WebDir == web }},
		{"listen changed", "--token-plugin TokenFile --token-source " + tokens + " 127.0.0.1:1",
			"Listen changed", func(c engine.Config) bool { return c.WebDir == web }},
		{"log format changed", "--log-format json --token-plugin TokenFile --token-source " + tokens + " " + listen,
			"needs a restart", func(c engine.Config) bool { return c.WebDir == web }},
		{"limits", "--max-consoles-per-token 2 --token-plugin TokenFile --token-source " + tokens + " " + listen,
			"configuration reloaded", func(c engine.Config) bool { return c.MaxConsolesPerToken == 2 && c.WebDir == "" && c.Origins == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := logs.Len()
			args = tt.args
			rl.reload()
			if got := logs.String()[before:]; !strings.Contains(got, tt.log) {
				t.Fatalf("log %q does not say %q", got, tt.log)
			}
			if !tt.check(srv.Config()) {
				t.Fatalf("configuration in force: %+v", srv.Config())
			}
		})
	}
}
