package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// SoakOptions tune the soak; zero values are the defaults in brackets.
type SoakOptions struct {
	Consoles  int           // consoles held [9900]
	Sample    time.Duration // memory and descriptor sampling interval [30s]
	Reconnect float64       // share of consoles that close and reopen each minute [0.05]
}

// Soak holds many consoles for Options.Duration with random small traffic
// (each console sends 1-256 random bytes every 2-8 s and checks the echo byte
// for byte), reconnects a share of them every minute, and samples the relay's
// memory and descriptors. Run the relay with --heartbeat so pings flow too.
// It reports unexplained closes (a session ended that the harness did not
// end; the target is 0), integrity failures, and RSS and descriptors over
// time.
func Soak(ctx context.Context, spec RelaySpec, o Options, so SoakOptions) (Result, error) {
	if so.Consoles <= 0 {
		so.Consoles = 9900
	}
	if so.Sample <= 0 {
		so.Sample = 30 * time.Second
	}
	if so.Reconnect <= 0 {
		so.Reconnect = 0.05
	}
	o.Consoles = 8
	cons, r, err := setup(ctx, spec, &o, rfb.ModeEcho, so.Consoles)
	if err != nil {
		return Result{}, err
	}
	defer cons.Close()
	defer r.Stop()
	if r.PID == 0 {
		return Result{}, fmt.Errorf("soak needs the relay's PID")
	}
	var openErrs, unexplained, corrupt, reconnects, roundTrips atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	m := map[string]float64{}
	start := time.Now()

	// Open everything first, Concurrency at a time. Failures are dropped, so
	// client i may not be the session of Token(i): reconnects use Token(i),
	// which maps to a console like any other.
	var mu sync.Mutex
	clients := openSessionsRange(ctx, r, 0, so.Consoles, o.Concurrency, &o, &openErrs)
	m["opened"] = float64(len(clients))
	o.Progress(fmt.Sprintf("soak: %d consoles open after %v", len(clients), time.Since(start).Round(time.Second)))

	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			msg := make([]byte, 256)
			back := make([]byte, 256)
			lastReconnect := time.Now()
			mu.Lock()
			in := readLoop(clients[i])
			mu.Unlock()
			for ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(2000+rng.IntN(6000)) * time.Millisecond):
				}
				if ctx.Err() != nil {
					break
				}
				mu.Lock()
				c := clients[i]
				mu.Unlock()
				if c == nil {
					return
				}
				n := 1 + rng.IntN(len(msg))
				for k := range msg[:n] {
					msg[k] = byte(rng.Uint32())
				}
				if _, err := c.Write(msg[:n]); err != nil {
					unexplained.Add(1)
					return
				}
				if !in.readFull(back[:n], o.Timeout) {
					unexplained.Add(1)
					return
				}
				if !bytes.Equal(msg[:n], back[:n]) {
					corrupt.Add(1)
				}
				roundTrips.Add(1)
				if time.Since(lastReconnect) < time.Minute {
					continue
				}
				lastReconnect = time.Now() // one draw a minute
				if rng.Float64() < so.Reconnect {
					_ = c.Close()
					nc, err := Dial(ctx, r, r.Token(i), SourceIP(i), o.Timeout)
					if err == nil {
						if err = nc.Handshake(o.Timeout); err != nil {
							_ = nc.Close()
						}
					}
					if err != nil {
						openErrs.Add(1)
						mu.Lock()
						clients[i] = nil
						mu.Unlock()
						return
					}
					reconnects.Add(1)
					mu.Lock()
					clients[i] = nc
					mu.Unlock()
					in = readLoop(nc)
				}
			}
		}()
	}

	// Sample memory and descriptors until the end.
	tick := time.NewTicker(so.Sample)
	defer tick.Stop()
	sample := func() {
		mem, err := TreeMemory(r.PID)
		if err != nil {
			return
		}
		at := int(time.Since(start).Seconds())
		m[fmt.Sprintf("rss_mib_at_%05ds", at)] = float64(mem.RSS) / (1 << 20)
		m[fmt.Sprintf("fds_at_%05ds", at)] = float64(FDCount(r.PID))
		o.Progress(fmt.Sprintf("soak %v: RSS %.1f MiB, %d fds, %d round trips, %d unexplained closes",
			time.Since(start).Round(time.Second), float64(mem.RSS)/(1<<20), FDCount(r.PID), roundTrips.Load(), unexplained.Load()))
	}
	sample()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			sample()
		}
	}
	sample()
	wg.Wait()
	mu.Lock()
	for _, c := range clients {
		if c != nil {
			_ = c.Close()
		}
	}
	mu.Unlock()
	m["round_trips"] = float64(roundTrips.Load())
	m["unexplained_closes"] = float64(unexplained.Load())
	m["integrity_failures"] = float64(corrupt.Load())
	m["reconnects"] = float64(reconnects.Load())
	m["open_failures"] = float64(openErrs.Load())
	return Result{Scenario: "soak", Relay: spec.Name, Metrics: m, Errors: unexplained.Load() + corrupt.Load()}, nil
}

// reader reads a client continuously on its own goroutine, as a browser does,
// so that heartbeat pings are answered at once whatever the test is doing.
type reader struct {
	data chan []byte
	rest []byte
}

func readLoop(c *Client) *reader {
	r := &reader{data: make(chan []byte, 16)}
	go func() {
		defer close(r.data)
		for {
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if n > 0 {
				r.data <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

// readFull fills p from the stream within timeout.
func (r *reader) readFull(p []byte, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for len(p) > 0 {
		if len(r.rest) == 0 {
			select {
			case b, ok := <-r.data:
				if !ok {
					return false
				}
				r.rest = b
			case <-deadline:
				return false
			}
		}
		n := copy(p, r.rest)
		p, r.rest = p[n:], r.rest[n:]
	}
	return true
}
