package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLighttpdPeerSmoke runs the connect and throughput scenarios through the
// lighttpd peer as `make bench-compare` starts it (vncrelay-bench's lighttpd
// subcommand writing LighttpdConfig and becoming Debian's lighttpd): every
// console opens and bytes flow; lighttpd itself accepts the generated config.
func TestLighttpdPeerSmoke(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/lighttpd"); err != nil {
		if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
			t.Skip("lighttpd not installed (Debian package lighttpd)")
		}
		t.Fatal("/usr/sbin/lighttpd not installed: install Debian's lighttpd (make e2e-deps), or set VNCRELAY_E2E_OPTIONAL=1 to skip")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vncrelay-bench")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/vncrelay-bench").CombinedOutput(); err != nil {
		t.Fatalf("build vncrelay-bench: %v\n%s", err, out)
	}
	spec := RelaySpec{Name: "lighttpd", Command: bin + " lighttpd --dir {workdir} --listen {listen} --target {target}"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{Connects: 20, Concurrency: 4, Consoles: 2, Duration: time.Second, UpdateBytes: 16 << 10,
		Timeout: 20 * time.Second, WorkDir: dir}
	for _, sc := range []struct {
		name string
		run  func(context.Context, RelaySpec, Options) (Result, error)
		want string
		min  float64
	}{
		{"connect", Connect, "opened", float64(o.Connects)},
		{"throughput", Throughput, "mb_per_s", 0.001},
	} {
		t.Run(sc.name, func(t *testing.T) {
			res, err := sc.run(ctx, spec, o)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Metrics[sc.want]; got < sc.min || res.Errors != 0 {
				t.Errorf("%s = %v (want ≥ %v), %d errors (%s); log:\n%s", sc.want, got, sc.min, res.Errors, res.Note,
					logTail(filepath.Join(dir, spec.Name+".log")))
			}
		})
	}
	// The config the peer ran with is lighttpd's own syntax: lighttpd -t
	// (test the configuration) accepts it.
	confs, _ := filepath.Glob(filepath.Join(dir, "lighttpd-*.conf"))
	if len(confs) == 0 {
		t.Fatal("no lighttpd config written")
	}
	if out, err := exec.Command("/usr/sbin/lighttpd", "-tt", "-f", confs[0]).CombinedOutput(); err != nil ||
		strings.Contains(string(out), "WARNING") {
		t.Errorf("lighttpd -tt %s: %v\n%s", confs[0], err, out)
	}
}
