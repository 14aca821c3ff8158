package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNovaPresetsSmoke runs the connect and idle scenarios, a few consoles
// each, through Nova's own nova-novncproxy and vncrelay's Nova mode against
// one Nova control plane (MariaDB with Nova's schema, RabbitMQ, the compute
// stand-in), as `make bench-nova` does at scale. About a minute, most of it
// Nova's schema.
func TestNovaPresetsSmoke(t *testing.T) {
	for path, pkg := range map[string]string{
		"/usr/bin/nova-novncproxy":                      "nova-consoleproxy",
		"/usr/sbin/mariadbd":                            "mariadb-server",
		"/usr/lib/rabbitmq/bin/rabbitmq-server":         "rabbitmq-server",
		"/usr/lib/python3/dist-packages/oslo_messaging": "python3-oslo.messaging",
	} {
		if _, err := os.Stat(path); err != nil {
			if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
				t.Skipf("%s not installed (Debian package %s)", path, pkg)
			}
			t.Fatalf("%s not installed: install Debian's %s (make e2e-deps), or set VNCRELAY_E2E_OPTIONAL=1 to skip", path, pkg)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vncrelay")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/vncrelay").CombinedOutput(); err != nil {
		t.Fatalf("build vncrelay: %v\n%s", err, out)
	}
	begin := time.Now()
	plane, err := StartNovaPlane(NovaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := plane.Close(); err != nil {
			t.Errorf("close plane: %v", err)
		}
	}()
	t.Logf("Nova control plane up in %v", time.Since(begin).Round(time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := Options{Connects: 6, Concurrency: 3, IdleSteps: []int{4}, IdleGiveUp: true, Consoles: 2,
		Timeout: 30 * time.Second, WorkDir: dir}
	specs := []RelaySpec{
		plane.Spec("vncrelay-nova", strings.ReplaceAll(VncrelayNovaCommand, "{vncrelay}", bin)),
		plane.Spec("nova-novncproxy", NovaNoVNCProxyCommand),
	}
	var seen []string // what the harness reports, which must hold no token
	for _, spec := range specs {
		spec.Tokens = recordTokens(spec.Tokens, &seen)
		for _, sc := range []struct {
			name string
			run  func(context.Context, RelaySpec, Options) (Result, error)
			want string // the count that must equal what was asked
			n    int
		}{
			{"connect", Connect, "opened", o.Connects},
			{"idle", Idle, "alive_at_end", o.IdleSteps[0]},
		} {
			t.Run(spec.Name+"/"+sc.name, func(t *testing.T) {
				res, err := sc.run(ctx, spec, o)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(res)
				t.Logf("%s", b)
				if got := res.Metrics[sc.want]; got != float64(sc.n) || res.Errors != 0 {
					t.Errorf("%s %v of %d, %d errors (%s); log:\n%s", sc.want, got, sc.n, res.Errors, res.Note,
						logTail(filepath.Join(dir, spec.Name+".log")))
				}
				for _, tok := range seen {
					if strings.Contains(string(b), tok) {
						t.Fatal("a token reached the result")
					}
				}
				if sc.name == "idle" && spec.Name == "vncrelay-nova" {
					// vncrelay's Nova mode holds a bounded pool, whatever the
					// console count; Nova's proxy holds a connection per console.
					if c := res.Metrics["db_conns_4"]; c > 8 {
						t.Errorf("%v database connections", c)
					}
					if c := res.Metrics["amqp_conns_4"]; c != 1 {
						t.Errorf("%v broker connections, want 1", c)
					}
				}
			})
		}
	}
}

// recordTokens wraps a token source to remember the tokens it made.
func recordTokens(f func(context.Context, *Consoles, int) (RunTokens, error), seen *[]string) func(context.Context, *Consoles, int) (RunTokens, error) {
	return func(ctx context.Context, c *Consoles, n int) (RunTokens, error) {
		rt, err := f(ctx, c, n)
		*seen = append(*seen, rt.Tokens...)
		return rt, err
	}
}

func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
