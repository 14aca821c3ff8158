// Command vncrelay-bench measures websockify-compatible console relays:
// throughput and CPU per MB, added latency, cost of opening a console, memory
// per idle console, and memory under a slow reader. Several relays are run in
// turn (A B A B ...) and reported side by side with ratios to the first. A
// list of console counts (--consoles 1,8,64,512) runs throughput and latency
// at each, and draws a curve per metric.
//
//	vncrelay-bench --relay vncrelay --relay websockify --relay forwarder
//	vncrelay-bench --relay 'mine=/opt/relay --listen {listen} --tokens {tokens}'
//	vncrelay-bench --relay vncrelay-nova --relay nova-novncproxy --scenario connect,idle
//	vncrelay-bench --relay forwarder --relay vncrelay --scenario throughput --consoles 1,8,64,512
//	vncrelay-bench forwarder --listen 127.0.0.1:7000 --target 127.0.0.1:5900
//
// See docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/vncrelay/vncrelay/bench"
)

// presets are the relays the harness knows by name.
var presets = map[string]string{
	"vncrelay":      "{vncrelay} --token-plugin TokenFile --token-source {tokens} {listen}",
	"websockify":    "websockify --token-plugin TokenFile --token-source {tokens} {listen}",
	"websockify-js": "node {peers}/node_modules/websockify/websockify.js {listen} {target}",
	"forwarder":     "raw:{self} forwarder --listen {listen} --target {target}",
	"lighttpd":      "{self} lighttpd --dir {workdir} --listen {listen} --target {target}",
	// wss: vncrelay terminating TLS itself, and the deployment operators
	// use today, HAProxy terminating TLS in front of a plain vncrelay (both
	// processes measured together).
	"vncrelay-wss": "tls:{vncrelay} --cert {cert} --token-plugin TokenFile --token-source {tokens} {listen}",
	"haproxy-tls":  "tls:{self} haproxy-tls --dir {workdir} --listen {listen} --cert {cert} -- {vncrelay} --token-plugin TokenFile --token-source {tokens}",
	// Nova's proxy and vncrelay's Nova mode, against a Nova control plane
	// the harness starts (bench.NovaPlane): any template naming {novaconf}.
	"nova-novncproxy": bench.NovaNoVNCProxyCommand,
	"vncrelay-nova":   bench.VncrelayNovaCommand,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "forwarder":
		err = forwarder(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "lighttpd":
		err = lighttpd(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "haproxy-tls":
		err = haproxyTLS(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "consoles":
		err = consoles(os.Args[2:])
	default:
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil && !errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "vncrelay-bench:", err)
		os.Exit(1)
	}
}

func forwarder(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("forwarder", pflag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to accept on")
	target := fs.String("target", "", "address to forward to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return errors.New("forwarder: --target is required")
	}
	return bench.Forward(ctx, *listen, *target)
}

// lighttpd becomes lighttpd with mod_wstunnel relaying to --target (the
// lighttpd peer; see bench.LighttpdConfig).
func lighttpd(args []string) error {
	fs := pflag.NewFlagSet("lighttpd", pflag.ContinueOnError)
	dir := fs.String("dir", os.TempDir(), "directory for the generated lighttpd.conf")
	listen := fs.String("listen", "127.0.0.1:0", "address to accept on (a fixed port)")
	target := fs.String("target", "", "console address every WebSocket is tunnelled to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return errors.New("lighttpd: --target is required")
	}
	return bench.ExecLighttpd(*dir, *listen, *target)
}

// haproxyTLS runs HAProxy terminating TLS in front of a plain vncrelay
// (the haproxy-tls peer; see bench.RunHAProxyFront). The vncrelay command
// line follows "--", its listen address left for this to add.
func haproxyTLS(args []string) error {
	fs := pflag.NewFlagSet("haproxy-tls", pflag.ContinueOnError)
	dir := fs.String("dir", os.TempDir(), "directory for the generated haproxy.cfg")
	listen := fs.String("listen", "127.0.0.1:0", "address HAProxy accepts TLS on (a fixed port)")
	cert := fs.String("cert", "", "PEM file with the certificate and its key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cert == "" || fs.ArgsLenAtDash() < 0 || len(fs.Args()[fs.ArgsLenAtDash():]) == 0 {
		return errors.New("haproxy-tls: want --cert FILE -- VNCRELAY ARGS")
	}
	return bench.RunHAProxyFront(*dir, *listen, *cert, fs.Args()[fs.ArgsLenAtDash():])
}

// consoles runs fake RFB consoles for the harness in a process of their own.
func consoles(args []string) error {
	fs := pflag.NewFlagSet("consoles", pflag.ContinueOnError)
	count := fs.Int("count", 1, "consoles to start")
	mode := fs.String("mode", "echo", "draw, stream or echo")
	update := fs.Int("update-bytes", 64<<10, "bytes per update in stream mode")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := bench.ParseMode(*mode)
	if err != nil {
		return err
	}
	return bench.ServeConsoles(*count, m, *update, os.Stdin, os.Stdout)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("vncrelay-bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var relays []string
	fs.StringArrayVar(&relays, "relay", nil, "relay to measure: a preset ("+presetNames()+
		"), NAME=COMMAND TEMPLATE ({listen} {port} {tokens} {target}; {novaconf} runs it against a Nova control plane), NAME=raw:COMMAND for a plain TCP relay, or NAME=ws://HOST:PORT/PATH; repeat to compare")
	scenarios := fs.String("scenario", "throughput,latency,connect", "scenarios, comma-separated: "+strings.Join(bench.ScenarioNames, ",")+", soak")
	runs := fs.Int("runs", 3, "runs of each scenario per relay (medians reported)")
	var o bench.Options
	consoles := fs.String("consoles", "64", "consoles for throughput and latency; a list (1,8,64,512) runs them at each count, a curve")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured window of throughput, latency and slowreader")
	fs.IntVar(&o.UpdateBytes, "update-bytes", 64<<10, "bytes per framebuffer update (throughput)")
	fs.Float64Var(&o.Rate, "rate", 20, "round trips per second per console (latency)")
	fs.IntVar(&o.Connects, "connects", 2000, "consoles opened (connect)")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "opens in flight (connect, idle)")
	idleSteps := fs.String("idle-steps", "1000,5000", "console counts to measure memory at (idle)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-operation timeout (dial, handshake, read)")
	fs.IntVar(&o.SlowRate, "slow-rate", 10<<10, "bytes per second the slow browser reads (slowreader)")
	fs.DurationVar(&o.IdleSettle, "idle-settle", 2*time.Second, "idle: wait after each step's opens before measuring (time to take a heap profile)")
	fs.BoolVar(&o.IdleGiveUp, "idle-give-up", false, "stop a relay at the first step it does not hold in full (idle steps, --consoles lists)")
	var no bench.NovaOptions
	fs.IntVar(&no.DBMaxConnections, "nova-db-max-connections", bench.MariaDBDefaultMaxConnections,
		"MariaDB max_connections of the Nova control plane (151 is MariaDB's default)")
	jsonOut := fs.String("json", "", "write results as JSON lines to FILE (- for stdout)")
	chartDir := fs.String("chart-dir", "", "write an SVG chart per scenario into DIR")
	vncrelayBin := fs.String("vncrelay-bin", "bin/vncrelay", "vncrelay binary for the vncrelay preset")
	peers := fs.String("peers-dir", "bench/peers", "directory with the npm peers (websockify-js)")
	pid := fs.Int("pid", 0, "PID to measure for a relay given as a URL")
	tlsKey := fs.String("tls-key", bench.TLSKeyP256, "key type of the certificate TLS relays get: p256 or rsa2048")
	tlsResume := fs.Bool("tls-resume", false, "TLS clients resume sessions (tickets), one session cache per relay")
	var so bench.SoakOptions
	fs.IntVar(&so.Consoles, "soak-consoles", 9900, "consoles held (soak)")
	fs.DurationVar(&so.Sample, "soak-sample", 30*time.Second, "memory sampling interval (soak)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := bench.SetTLS(*tlsKey, *tlsResume); err != nil {
		return fmt.Errorf("--tls-key: %w", err)
	}
	if len(relays) == 0 {
		relays = []string{"vncrelay"}
	}
	var err error
	if o.IdleSteps, err = bench.ParseCounts("--idle-steps", *idleSteps); err != nil {
		return err
	}
	counts, err := bench.ParseCounts("--consoles", *consoles)
	if err != nil {
		return err
	}
	o.Consoles = counts[len(counts)-1] // scenarios without steps: the largest
	specs, err := parseRelays(relays, *vncrelayBin, *peers, *pid)
	if err != nil {
		return err
	}
	o.Progress = progress(stderr)
	if plane, err := novaPlane(specs, no, o.Progress, stderr); err != nil {
		return err
	} else if plane != nil {
		defer plane.Close()
	}
	work, err := os.MkdirTemp("", "vncrelay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o.WorkDir = work
	if self, err := os.Executable(); err == nil {
		o.ConsoleCommand = []string{self, "consoles"}
	}
	nofile := bench.RaiseNoFile()
	fmt.Fprintf(stderr, "vncrelay-bench: %d relays, scenarios %s, %d runs, nofile %d\n", len(specs), *scenarios, *runs, nofile)

	var results []bench.Result
	var stops []string // relays stopped at a step they did not hold
	for _, name := range strings.Split(*scenarios, ",") {
		name = strings.TrimSpace(name)
		scenario, ok := bench.Scenarios[name]
		if name == "soak" {
			scenario, ok = func(ctx context.Context, spec bench.RelaySpec, o bench.Options) (bench.Result, error) {
				return bench.Soak(ctx, spec, o, so)
			}, true
		}
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		steps := []int{0} // one pass at o.Consoles
		if bench.Stepped(name) && len(counts) > 1 {
			steps = counts
		}
		stopped := map[string]bool{} // relays that failed an earlier step
		for _, step := range steps {
			failed := map[string]string{}
			for run := 1; run <= *runs; run++ {
				for _, spec := range specs { // A B A B ...: drift on a shared machine hits all alike
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if stopped[spec.Name] {
						continue
					}
					ro := o
					label := fmt.Sprintf("%s: %s run %d/%d", name, spec.Name, run, *runs)
					if step > 0 {
						ro.Consoles = step
						label = fmt.Sprintf("%s at %d: %s run %d/%d", name, step, spec.Name, run, *runs)
					}
					o.Progress(label)
					res, err := scenario(ctx, spec, ro)
					if err != nil {
						fmt.Fprintf(stderr, "\n%s: %v\n", label, err)
						failed[spec.Name] = err.Error()
						continue
					}
					res.Run, res.Step = run, step
					if held, reached := bench.Held(res); !reached {
						failed[spec.Name] = fmt.Sprintf("held %d of %d consoles", held, step)
					}
					results = append(results, res)
				}
			}
			if step > 0 && o.IdleGiveUp { // the runs of a step all run; larger steps are skipped
				for _, spec := range specs {
					if why, ok := failed[spec.Name]; ok && !stopped[spec.Name] {
						stopped[spec.Name] = true
						stops = append(stops, fmt.Sprintf("%s %s: stopped at %d consoles (%s), larger steps skipped", name, spec.Name, step, why))
					}
				}
			}
		}
	}
	o.Progress("")
	sums := bench.Summarize(results)
	bench.WriteTable(stdout, sums)
	bench.WriteCurves(stdout, sums)
	for _, r := range results {
		if r.Note != "" {
			fmt.Fprintf(stdout, "note: %s %s run %d: %s\n", r.Scenario, r.Relay, r.Run, r.Note)
		}
	}
	for _, s := range stops {
		fmt.Fprintf(stdout, "note: %s\n", s)
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, stdout, results); err != nil {
			return err
		}
	}
	if *chartDir != "" {
		if err := charts(*chartDir, sums); err != nil {
			return err
		}
	}
	return nil
}

func presetNames() string {
	return "vncrelay, vncrelay-wss, haproxy-tls, websockify, websockify-js, lighttpd, forwarder, vncrelay-nova, nova-novncproxy"
}

// novaPlane starts a Nova control plane when a relay's command names
// {novaconf}, and points those relays at it; nil when none does.
func novaPlane(specs []bench.RelaySpec, o bench.NovaOptions, progress func(string), stderr io.Writer) (*bench.NovaPlane, error) {
	var nova []int
	for i, s := range specs {
		if strings.Contains(s.Command, "{novaconf}") {
			nova = append(nova, i)
		}
	}
	if len(nova) == 0 {
		return nil, nil
	}
	o.Progress = progress
	begin := time.Now()
	plane, err := bench.StartNovaPlane(o)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "vncrelay-bench: Nova control plane up in %v (MariaDB max_connections %d)\n",
		time.Since(begin).Round(time.Second), o.DBMaxConnections)
	for _, i := range nova {
		s := plane.Spec(specs[i].Name, specs[i].Command)
		s.Raw = specs[i].Raw
		specs[i] = s
	}
	return plane, nil
}

func parseRelays(relays []string, vncrelayBin, peers string, pid int) ([]bench.RelaySpec, error) {
	absPeers, _ := filepath.Abs(peers)
	absBin, _ := filepath.Abs(vncrelayBin)
	var specs []bench.RelaySpec
	for _, r := range relays {
		if tmpl, ok := presets[r]; ok {
			r = r + "=" + tmpl
		}
		r = strings.NewReplacer("{vncrelay}", absBin, "{peers}", absPeers).Replace(r)
		spec, err := bench.ParseRelaySpec(r)
		if err != nil {
			return nil, err
		}
		if spec.URL != "" {
			spec.PID = pid
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func writeJSON(path string, stdout io.Writer, results []bench.Result) error {
	if path == "-" {
		return bench.WriteJSON(stdout, results)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteJSON(f, results); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func charts(dir string, sums []bench.Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	byScenario := map[string][]bench.Summary{}
	for _, s := range sums {
		byScenario[s.Scenario] = append(byScenario[s.Scenario], s)
	}
	for sc, group := range byScenario {
		if bench.HasCurves(sums, sc) {
			// x = consoles, one line per relay, a chart per metric.
			for _, m := range bench.CurveKeys[sc] {
				path := filepath.Join(dir, "curve-"+bench.SafeName(sc)+"-"+bench.SafeName(m)+".svg")
				if err := bench.CurveChart(path, sums, sc, m); err != nil {
					return fmt.Errorf("chart %s %s: %w", sc, m, err)
				}
			}
		}
		if bench.Stepped(sc) && group[0].Step > 0 {
			continue // bars of a stepped scenario would mix its steps
		}
		path := filepath.Join(dir, bench.SafeName(sc)+".svg")
		if err := bench.Chart(path, sc, group, bench.ChartKeys[sc]); err != nil {
			return fmt.Errorf("chart %s: %w", sc, err)
		}
	}
	return nil
}

// progress returns a live progress line on a terminal, and nothing otherwise.
func progress(w io.Writer) func(string) {
	f, ok := w.(*os.File)
	if !ok {
		return func(string) {}
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func(string) {}
	}
	return func(s string) { fmt.Fprintf(w, "\r\033[K%s", s) }
}
