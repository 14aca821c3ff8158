package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// Options tune the scenarios. Zero values are the defaults in brackets.
type Options struct {
	Consoles    int           // streaming/echo consoles for throughput and latency [64]
	Duration    time.Duration // measured window of throughput, latency, slowreader [10s]
	UpdateBytes int           // size of a stream update [64 KiB]
	Rate        float64       // latency: round trips per second per console [20]
	Connects    int           // connect: consoles opened [2000]
	Concurrency int           // connect and idle: opens in flight [64]
	IdleSteps   []int         // idle: console counts to measure at [1000 5000]
	SlowRate    int           // slowreader: bytes per second the browser reads [10 KiB]
	Timeout     time.Duration // per-operation timeout [10s]
	WorkDir     string        // token files and relay logs [a temporary directory]
	// IdleSettle is how long the idle scenario waits after opening a
	// step's consoles before it measures [2s]: time for the relay to settle,
	// or to take a heap profile of it by hand (docs/BENCHMARKS.md).
	IdleSettle time.Duration
	// IdleGiveUp ends the idle scenario at the first step the relay does
	// not hold in full (it has met a limit; larger steps would only pile
	// up failures) instead of trying every step, and stops the opens of
	// any scenario once more than max(Concurrency, 64) have failed (each
	// further one would only wait out its Timeout). vncrelay-bench also
	// uses it to stop a relay at the first console count of a --consoles
	// list that it does not hold in full.
	IdleGiveUp bool
	// ConsoleCommand runs the consoles in a child process (such as
	// ["vncrelay-bench", "consoles"]); empty runs them in this process.
	ConsoleCommand []string
	Progress       func(string) // live progress; nil for none
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Consoles, 64)
	def(&o.UpdateBytes, 64<<10)
	def(&o.Connects, 2000)
	def(&o.Concurrency, 64)
	def(&o.SlowRate, 10<<10)
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if len(o.IdleSteps) == 0 {
		o.IdleSteps = []int{1000, 5000}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.IdleSettle <= 0 {
		o.IdleSettle = 2 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// Result is one scenario run against one relay.
type Result struct {
	Scenario string `json:"scenario"`
	Relay    string `json:"relay"`
	Run      int    `json:"run"`
	// Step is the console count of a stepped scenario's run (see Stepped)
	// when the harness runs it at several counts; 0 otherwise.
	Step    int                `json:"step,omitempty"`
	Metrics map[string]float64 `json:"metrics"`
	Errors  int64              `json:"errors"`
	Note    string             `json:"note,omitempty"`
}

// Scenarios by name.
var Scenarios = map[string]func(ctx context.Context, spec RelaySpec, o Options) (Result, error){
	"throughput": Throughput,
	"latency":    Latency,
	"connect":    Connect,
	"idle":       Idle,
	"slowreader": SlowReader,
}

// ScenarioNames in the order they run.
var ScenarioNames = []string{"throughput", "latency", "connect", "idle", "slowreader"}

// RaiseNoFile raises the harness's own descriptor limit to the hard limit.
func RaiseNoFile() uint64 {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}

// setup starts consoles and the relay for one run.
func setup(ctx context.Context, spec RelaySpec, o *Options, mode rfb.Mode, tokens int) (*Consoles, *Running, error) {
	o.defaults()
	var cons *Consoles
	var err error
	if len(o.ConsoleCommand) > 0 {
		cons, err = SpawnConsoles(o.ConsoleCommand, min(8, max(1, o.Consoles)), mode, o.UpdateBytes)
	} else {
		cons, err = StartConsoles(min(8, max(1, o.Consoles)), mode, o.UpdateBytes)
	}
	if err != nil {
		return nil, nil, err
	}
	dir := o.WorkDir
	if dir == "" {
		dir = os.TempDir()
	}
	tf, err := cons.WriteTokenFile(dir, tokens)
	if err != nil {
		cons.Close()
		return nil, nil, err
	}
	vars := map[string]string{"tokens": tf, "target": cons.Addr(0), "workdir": dir}
	if spec.TLS {
		if vars["cert"], err = TLSCertFile(dir); err != nil {
			cons.Close()
			return nil, nil, err
		}
	}
	var own []string
	if spec.Tokens != nil {
		rt, err := spec.Tokens(ctx, cons, tokens)
		if err != nil {
			cons.Close()
			return nil, nil, fmt.Errorf("tokens for %s: %w", spec.Name, err)
		}
		own = rt.Tokens
		for k, v := range rt.Vars {
			vars[k] = v
		}
	}
	r, err := startRelay(ctx, spec, vars, filepath.Join(dir, spec.Name+".log"))
	if err != nil {
		cons.Close()
		return nil, nil, err
	}
	r.tokens = own
	return cons, r, nil
}

// openSessions opens n sessions (upgrade + token + RFB handshake) with the
// given concurrency; failures are counted, not fatal.
func openSessions(ctx context.Context, r *Running, n, concurrency int, o *Options, errs *atomic.Int64) []*Client {
	return openSessionsRange(ctx, r, 0, n, concurrency, o, errs)
}

func closeAll(clients []*Client) {
	for _, c := range clients {
		_ = c.Close()
	}
}

// Throughput: K consoles stream updates as fast as the clients ask (two
// requests in flight each); payload MB/s and the relay's CPU per MB.
func Throughput(ctx context.Context, spec RelaySpec, o Options) (Result, error) {
	cons, r, err := setup(ctx, spec, &o, rfb.ModeStream, o.Consoles)
	if err != nil {
		return Result{}, err
	}
	defer cons.Close()
	defer r.Stop()
	var errs atomic.Int64
	clients := openSessions(ctx, r, o.Consoles, o.Concurrency, &o, &errs)
	defer closeAll(clients)
	var bytes atomic.Int64
	stop := time.Now().Add(o.Duration)
	cpu0, t0 := r.CPU(), time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16+o.UpdateBytes)
			_ = c.SetDeadline(stop.Add(o.Timeout))
			for k := 0; k < 2; k++ {
				if c.RequestUpdate(1024, 16, false) != nil {
					errs.Add(1)
					return
				}
			}
			for time.Now().Before(stop) {
				if _, err := io.ReadFull(c, buf); err != nil {
					errs.Add(1)
					return
				}
				bytes.Add(int64(o.UpdateBytes))
				if c.RequestUpdate(1024, 16, false) != nil {
					errs.Add(1)
					return
				}
			}
		}()
	}
	done := progressTicker(o.Progress, func() string {
		return fmt.Sprintf("%d consoles, %.0f MB relayed", len(clients), float64(bytes.Load())/1e6)
	})
	wg.Wait()
	close(done)
	secs, cpu := time.Since(t0).Seconds(), r.CPU()-cpu0
	mb := float64(bytes.Load()) / 1e6
	m := map[string]float64{"consoles": float64(len(clients)), "mb_per_s": mb / secs}
	if r.PID != 0 && mb > 0 {
		m["cpu_ms_per_mb"] = 1000 * cpu / mb
		m["cpu_percent"] = 100 * cpu / secs
	}
	return Result{Scenario: "throughput", Relay: spec.Name, Metrics: m, Errors: errs.Load()}, nil
}

// Latency: K consoles in echo mode, each doing Rate round trips a second of
// an 8-byte message through the relay and, paired with each, one straight
// to the console on a connection of its own (the added latency is the
// difference of the two sets' percentiles).
//
// The pairs are what make the tail comparable on a shared machine: each
// relayed round trip and its direct twin are made back to back by the same
// goroutine (in alternating order, so neither always goes first), so a
// burst of load from elsewhere falls on both sets alike. Measured one
// window after the other, as the harness did before, the direct p99 of one
// window and the relayed p99 of the next differed by more than any relay's
// own cost, and "added p99" came out negative as often as not.
func Latency(ctx context.Context, spec RelaySpec, o Options) (Result, error) {
	cons, r, err := setup(ctx, spec, &o, rfb.ModeEcho, o.Consoles)
	if err != nil {
		return Result{}, err
	}
	defer cons.Close()
	defer r.Stop()
	direct := &Running{Spec: RelaySpec{Name: "direct", Raw: true}, Addr: cons.Addr(0)}
	var errs atomic.Int64
	straight := openSessions(ctx, direct, o.Consoles, o.Concurrency, &o, &errs)
	defer closeAll(straight)
	relayed := openSessions(ctx, r, o.Consoles, o.Concurrency, &o, &errs)
	defer closeAll(relayed)
	pairs := min(len(straight), len(relayed))
	var mu sync.Mutex
	var base, via []time.Duration
	stop := time.Now().Add(o.Duration)
	interval := time.Duration(float64(time.Second) / o.Rate)
	var wg sync.WaitGroup
	for i := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			capacity := int(o.Rate*o.Duration.Seconds()) + 1
			localBase, localVia := make([]time.Duration, 0, capacity), make([]time.Duration, 0, capacity)
			d, v := straight[i], relayed[i]
			time.Sleep(time.Duration(i) * interval / time.Duration(max(1, pairs))) // spread the phases
			tick := time.NewTicker(interval)
			defer tick.Stop()
			_ = d.SetDeadline(stop.Add(o.Timeout))
			_ = v.SetDeadline(stop.Add(o.Timeout))
			for n := 0; time.Now().Before(stop); n++ {
				<-tick.C
				first, second := d, v
				if n%2 == 1 {
					first, second = v, d
				}
				rt1, err1 := roundTrip(first)
				rt2, err2 := roundTrip(second)
				if err1 != nil || err2 != nil {
					errs.Add(1)
					return
				}
				if first == v {
					rt1, rt2 = rt2, rt1
				}
				localBase, localVia = append(localBase, rt1), append(localVia, rt2)
			}
			mu.Lock()
			base, via = append(base, localBase...), append(via, localVia...)
			mu.Unlock()
		}()
	}
	done := progressTicker(o.Progress, func() string { return fmt.Sprintf("latency %s and direct, %d consoles", spec.Name, pairs) })
	wg.Wait()
	close(done)
	slices.Sort(base)
	slices.Sort(via)
	m := map[string]float64{"consoles": float64(len(relayed)), "samples": float64(len(via))}
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50", 0.50}, {"p99", 0.99}, {"p999", 0.999}} {
		v, b := percentile(via, q.p), percentile(base, q.p)
		m[q.name+"_us"] = us(v)
		m["direct_"+q.name+"_us"] = us(b)
		m["added_"+q.name+"_us"] = us(v - b)
	}
	return Result{Scenario: "latency", Relay: spec.Name, Metrics: m, Errors: errs.Load()}, nil
}

// roundTrip sends c an 8-byte message and reads it back: the time it took,
// or an error if it failed or came back different.
func roundTrip(c *Client) (time.Duration, error) {
	var msg, back [8]byte
	t := time.Now()
	binary.BigEndian.PutUint64(msg[:], uint64(t.UnixNano()))
	if _, err := c.Write(msg[:]); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, back[:]); err != nil {
		return 0, err
	}
	if back != msg {
		return 0, errors.New("echo differs from what was sent")
	}
	return time.Since(t), nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// Connect: Connects consoles opened (upgrade, token, dial, RFB handshake) and
// closed, Concurrency at a time; consoles per second and relay CPU per console.
func Connect(ctx context.Context, spec RelaySpec, o Options) (Result, error) {
	cons, r, err := setup(ctx, spec, &o, rfb.ModeEcho, o.Connects)
	if err != nil {
		return Result{}, err
	}
	defer cons.Close()
	defer r.Stop()
	var errs, opened atomic.Int64
	var next atomic.Int64
	backend0 := backendCPU(spec)
	cpu0, t0 := r.CPU(), time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.Connects || ctx.Err() != nil {
					return
				}
				c, err := Dial(ctx, r, r.Token(i), SourceIP(i), o.Timeout)
				if err == nil {
					err = c.Handshake(o.Timeout)
					_ = c.Close()
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				opened.Add(1)
			}
		}()
	}
	done := progressTicker(o.Progress, func() string { return fmt.Sprintf("%d consoles opened", opened.Load()) })
	wg.Wait()
	close(done)
	secs := time.Since(t0).Seconds()
	time.Sleep(500 * time.Millisecond) // let the relay finish closing
	cpu := r.CPU() - cpu0
	backend := backendCPU(spec) - backend0
	m := map[string]float64{"opened": float64(opened.Load()), "consoles_per_s": float64(opened.Load()) / secs}
	if r.PID != 0 && opened.Load() > 0 {
		m["cpu_ms_per_console"] = 1000 * cpu / float64(opened.Load())
	}
	if spec.BackendCPU != nil && opened.Load() > 0 {
		m["backend_cpu_ms_per_console"] = 1000 * backend / float64(opened.Load())
	}
	probe(ctx, spec, m, "")
	res := Result{Scenario: "connect", Relay: spec.Name, Metrics: m, Errors: errs.Load()}
	if res.Errors > 0 && spec.Explain != nil {
		res.Note = spec.Explain(r.LogPath)
	}
	return res, nil
}

// Idle: hold IdleSteps consoles open and measure the relay's memory per
// console at each step; at the end poke every console (one byte echoed) and
// count those still relaying.
func Idle(ctx context.Context, spec RelaySpec, o Options) (Result, error) {
	o.defaults()
	most := slices.Max(o.IdleSteps)
	cons, r, err := setup(ctx, spec, &o, rfb.ModeEcho, most)
	if err != nil {
		return Result{}, err
	}
	defer cons.Close()
	defer r.Stop()
	m := map[string]float64{}
	if r.PID == 0 {
		return Result{}, fmt.Errorf("idle needs the relay's PID")
	}
	time.Sleep(time.Second)
	base, err := TreeMemory(r.PID)
	if err != nil {
		return Result{}, err
	}
	m["base_rss_mib"] = float64(base.RSS) / (1 << 20)
	var errs atomic.Int64
	var clients []*Client
	defer func() { closeAll(clients) }()
	steps := slices.Clone(o.IdleSteps)
	slices.Sort(steps)
	from := 0
	var stepHeld []int // consoles held after each step reached, for alive_N
	var note string
	for _, n := range steps {
		o.Progress(fmt.Sprintf("opening up to %d consoles", n))
		more := openSessionsRange(ctx, r, from, n, o.Concurrency, &o, &errs)
		from = n
		clients = append(clients, more...)
		o.Progress(fmt.Sprintf("%d consoles held, settling for %v", len(clients), o.IdleSettle))
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(o.IdleSettle):
		}
		mem, err := TreeMemory(r.PID)
		if err != nil {
			return Result{}, err
		}
		k := len(clients)
		m[fmt.Sprintf("held_%d", n)] = float64(k)
		m[fmt.Sprintf("rss_mib_%d", n)] = float64(mem.RSS) / (1 << 20)
		if k > 0 {
			m[fmt.Sprintf("pss_kib_per_console_%d", n)] = float64(mem.PSS-base.PSS) / 1024 / float64(k)
			m[fmt.Sprintf("rss_kib_per_console_%d", n)] = float64(mem.RSS-base.RSS) / 1024 / float64(k)
		}
		m[fmt.Sprintf("fds_%d", n)] = float64(FDCount(r.PID))
		probe(ctx, spec, m, fmt.Sprintf("_%d", n))
		stepHeld = append(stepHeld, k)
		if o.IdleGiveUp && k < n {
			note = fmt.Sprintf("held %d of %d consoles: stopped at this step, larger steps skipped", k, n)
			o.Progress(spec.Name + " " + note)
			break
		}
	}
	o.Progress("poking every console")
	var alive atomic.Int64
	answered := make([]bool, len(clients)) // by index, for the count per step
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Concurrency)
	for i, c := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = c.SetDeadline(time.Now().Add(o.Timeout))
			var b [1]byte
			if _, err := c.Write([]byte{42}); err == nil {
				if _, err := io.ReadFull(c, b[:]); err == nil && b[0] == 42 {
					alive.Add(1)
					answered[i] = true
				}
			}
		}()
	}
	wg.Wait()
	m["held"] = float64(len(clients))
	m["alive_at_end"] = float64(alive.Load())
	// alive_N: of the consoles opened by step N (clients are in opening
	// order), those that answered the poke at the end.
	for j, k := range stepHeld {
		m[fmt.Sprintf("alive_%d", steps[j])] = float64(countTrue(answered[:k]))
	}
	res := Result{Scenario: "idle", Relay: spec.Name, Metrics: m, Errors: errs.Load(), Note: note}
	if (res.Errors > 0 || alive.Load() < int64(len(clients))) && spec.Explain != nil {
		res.Note = strings.TrimPrefix(note+"; "+spec.Explain(r.LogPath), "; ")
	}
	return res, nil
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// openSessionsRange opens the sessions with indexes from..to-1 (each index
// is a token and a source address). With o.IdleGiveUp it stops opening once
// more than max(concurrency, 64) of them have failed: the relay has met a
// limit (descriptors, connections), and each further open would only wait
// out its timeout.
func openSessionsRange(ctx context.Context, r *Running, from, to, concurrency int, o *Options, errs *atomic.Int64) []*Client {
	clients := make([]*Client, to-from)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range min(concurrency, to-from) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				i := from + k
				if i >= to || ctx.Err() != nil {
					return
				}
				c, err := Dial(ctx, r, r.Token(i), SourceIP(i), o.Timeout)
				if err == nil {
					if err = c.Handshake(o.Timeout); err != nil {
						_ = c.Close()
					}
				}
				if err != nil {
					if errs.Add(1) == 1 {
						o.Progress("first error: " + err.Error() + "\n")
					}
					if o.IdleGiveUp && failed.Add(1) > int64(max(concurrency, 64)) {
						next.Store(int64(to - from)) // no further opens
					}
					continue
				}
				clients[k] = c
			}
		}()
	}
	wg.Wait()
	return slices.DeleteFunc(clients, func(c *Client) bool { return c == nil })
}

// SlowReader: one browser reads SlowRate bytes a second while its console
// has many updates to send; the relay's memory is sampled every second.
func SlowReader(ctx context.Context, spec RelaySpec, o Options) (Result, error) {
	cons, r, err := setup(ctx, spec, &o, rfb.ModeStream, 1)
	if err != nil {
		return Result{}, err
	}
	defer cons.Close()
	defer r.Stop()
	if r.PID == 0 {
		return Result{}, fmt.Errorf("slowreader needs the relay's PID")
	}
	var errs atomic.Int64
	clients := openSessions(ctx, r, 1, 1, &o, &errs)
	if len(clients) == 0 {
		return Result{}, fmt.Errorf("could not open the console")
	}
	c := clients[0]
	defer c.Close()
	// Ask for far more than can be read in the window: 1000 updates.
	for range 1000 {
		if err := c.RequestUpdate(1024, 16, false); err != nil {
			return Result{}, err
		}
	}
	start, _ := TreeMemory(r.PID)
	peak := start.RSS
	stop := time.Now().Add(o.Duration)
	buf := make([]byte, o.SlowRate/10)
	var read int64
	next := time.Now()
	lastSample := time.Now()
	for time.Now().Before(stop) {
		_ = c.SetDeadline(time.Now().Add(o.Timeout))
		n, err := io.ReadFull(c, buf)
		read += int64(n)
		if err != nil {
			errs.Add(1)
			break
		}
		next = next.Add(100 * time.Millisecond)
		time.Sleep(time.Until(next))
		if time.Since(lastSample) >= time.Second {
			lastSample = time.Now()
			if mem, err := TreeMemory(r.PID); err == nil {
				peak = max(peak, mem.RSS)
				o.Progress(fmt.Sprintf("slow reader: %d KiB read, relay RSS %.1f MiB", read>>10, float64(mem.RSS)/(1<<20)))
			}
		}
	}
	m := map[string]float64{
		"rss_start_mib":  float64(start.RSS) / (1 << 20),
		"rss_peak_mib":   float64(peak) / (1 << 20),
		"rss_growth_mib": float64(peak-start.RSS) / (1 << 20),
		"read_kib":       float64(read) / 1024,
	}
	return Result{Scenario: "slowreader", Relay: spec.Name, Metrics: m, Errors: errs.Load()}, nil
}

// progressTicker reports f() every second until the returned channel closes.
func progressTicker(report func(string), f func() string) chan struct{} {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				report(f())
			}
		}
	}()
	return done
}
