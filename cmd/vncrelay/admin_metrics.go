package main

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vncrelay/vncrelay/engine"
)

// collector exports the engine's counters to Prometheus. It reads them at
// scrape time (engine.Server.Stats, Latencies, Loops): nothing on the relay
// path knows about metrics. Every label is a bounded set: a close reason, an
// HTTP status, a direction, a loop index. None is a token, a client or a
// console address. docs/OPERATIONS.md lists every metric.
type collector struct {
	srv *engine.Server
	log *slog.Logger
}

func newCollector(srv *engine.Server, log *slog.Logger) *collector {
	return &collector{srv: srv, log: log}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("vncrelay_"+name, help, labels, nil)
}

var (
	descConsolesOpen     = desc("consoles_open", "Consoles relaying now.")
	descConnectionsOpen  = desc("connections_open", "Browser connections open now, in any state (each holds one descriptor, two once its console is dialed).")
	descPendingOpen      = desc("handshakes_pending", "Connections not relaying yet: reading the request, looking up the token, dialing, console handshake.")
	descConnectionsMax   = desc("connections_max", "The cap on browser connections (--max-connections, or what the descriptor limit allows): the descriptor budget.")
	descPendingMax       = desc("handshakes_pending_max", "The cap on pending handshakes (--max-pending).")
	descAccepted         = desc("connections_accepted_total", "Browser connections accepted.")
	descAcceptErrors     = desc("accept_errors_total", "Accept errors (such as EMFILE) the relay backed off from.")
	descOpened           = desc("consoles_opened_total", "Consoles that reached relaying (the 101 was sent).")
	descClosed           = desc("consoles_closed_total", "Browser connections ended, by reason (refused, web and handshake_timeout are connections that never became consoles).", "reason")
	descRefusals         = desc("refusals_total", "Requests refused with an HTTP status before the upgrade, by status (503 includes the refusals at accept over the connection limits; other: a status not listed).", "status")
	descLookupErrors     = desc("token_lookup_errors_total", "Token lookups that failed for another reason than an unknown token (store down, timeout); each was answered 503.")
	descRevokeChecks     = desc("revoke_checks_total", "Tokens of live consoles asked of the store again by --revoke-check (once per distinct token and round).")
	descRevokeErrors     = desc("revoke_check_errors_total", "Of those, lookups the store did not answer: the consoles were kept (fail-static).")
	descDials            = desc("dials_total", "Console dials started.")
	descDialFailures     = desc("dial_failures_total", "Console dials that failed.")
	descTLSHandshakes    = desc("tls_handshakes_total", "TLS handshakes, browsers' and consoles' (--ssl-target), by result: ok, or failed (refused, timed out, or no handshake slot free).", "result")
	descTLSRecordLayer   = desc("tls_record_layer_total", "Browser TLS connections whose records the relay's own TLS 1.3 record layer took over from crypto/tls after the handshake (AES-GCM suites; the others stay with crypto/tls).")
	descBytes            = desc("bytes_total", "Payload bytes relayed, by direction: in is browser to console, out is console to browser. Includes open consoles.", "direction")
	descPauses           = desc("backpressure_pauses_total", "Times reads were paused for a slow receiver (--high-water), by the side paused: console (its browser was slow) or browser (its console was slow).", "paused")
	descConsolesPaused   = desc("consoles_paused", "Consoles with a direction paused for backpressure now.")
	descLoopConnections  = desc("loop_connections", "Browser connections on each event loop now.", "loop")
	descLoopConsoles     = desc("loop_consoles", "Consoles relaying on each event loop now.", "loop")
	descWorkersBusy      = desc("workers_busy", "Worker slots in use: token lookups with dials, web file reads.")
	descWorkersMax       = desc("workers_max", "Worker slots (--workers); a request that finds none free is refused 503.")
	descHandshakeSeconds = desc("handshake_duration_seconds", "Time from accept to the 101 response, for consoles that opened.")
	descLookupSeconds    = desc("token_lookup_duration_seconds", "Time the token store took to answer a lookup, whatever the answer.")
	descDialSeconds      = desc("dial_duration_seconds", "Time to connect to a console, successful or not.")
	descSetupSeconds     = desc("console_handshake_duration_seconds", "Time of the console handshake before the 101 (CONNECT tunnel, RFB security proxy), for consoles that needed one and got through it.")
)

// latencyBuckets are engine.LatencyBounds in seconds.
var latencyBuckets = func() []float64 {
	b := make([]float64, len(engine.LatencyBounds))
	for i, d := range engine.LatencyBounds {
		b[i] = d.Seconds()
	}
	return b
}()

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descConsolesOpen, descConnectionsOpen, descPendingOpen, descConnectionsMax, descPendingMax,
		descAccepted, descAcceptErrors, descOpened, descClosed, descRefusals, descLookupErrors, descDials, descDialFailures,
		descRevokeChecks, descRevokeErrors,
		descTLSHandshakes, descTLSRecordLayer,
		descBytes, descPauses, descConsolesPaused, descLoopConnections, descLoopConsoles,
		descWorkersBusy, descWorkersMax, descHandshakeSeconds, descLookupSeconds, descDialSeconds, descSetupSeconds,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one read of the engine's
// counters per scrape. The per-loop figures and the byte counters come from
// the loops themselves (engine.Server.Loops); when a loop does not answer in
// time they are left out of this scrape rather than reported short.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	cfg := c.srv.Config()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConsolesOpen, float64(st.Consoles))
	gauge(descConnectionsOpen, float64(st.Connections))
	gauge(descPendingOpen, float64(st.Pending))
	gauge(descConnectionsMax, float64(cfg.MaxConnections))
	gauge(descPendingMax, float64(cfg.MaxPendingHandshakes))
	counter(descAccepted, st.Accepted)
	counter(descAcceptErrors, st.AcceptErrors)
	counter(descOpened, st.Opened)
	counter(descDials, st.Dials)
	counter(descLookupErrors, st.LookupErrors)
	counter(descDialFailures, st.DialFailures)
	counter(descRevokeChecks, st.RevokeChecks)
	counter(descRevokeErrors, st.RevokeErrors)
	counter(descTLSHandshakes, st.TLS.Handshakes, "ok")
	counter(descTLSHandshakes, st.TLS.HandshakeFailures, "failed")
	counter(descTLSRecordLayer, st.TLS.RecordLayer)
	for r, n := range st.Closed {
		if reason := engine.Reason(r); reason != engine.ReasonNone {
			counter(descClosed, n, reason.String())
		}
	}
	for i, n := range st.Refusals {
		status := engine.RefusalStatuses[i]
		label := "other"
		if status != 0 {
			label = strconv.Itoa(status)
		}
		if status == 503 {
			n += st.BusyRefused
		}
		counter(descRefusals, n, label)
	}
	counter(descPauses, st.PausesConsole, "console")
	counter(descPauses, st.PausesBrowser, "browser")
	busy, slots := c.srv.WorkersBusy()
	gauge(descWorkersBusy, float64(busy))
	gauge(descWorkersMax, float64(slots))

	lat := c.srv.Latencies()
	histogram(ch, descHandshakeSeconds, lat.Handshake)
	histogram(ch, descLookupSeconds, lat.TokenLookup)
	histogram(ch, descDialSeconds, lat.Dial)
	histogram(ch, descSetupSeconds, lat.ConsoleSetup)

	ctx, cancel := context.WithTimeout(context.Background(), scrapeLoopTimeout)
	defer cancel()
	loops, err := c.srv.Loops(ctx)
	if err != nil {
		c.log.Warn("metrics: event loops did not answer; per-loop figures and bytes left out of this scrape", "err", err)
		return
	}
	var in, out uint64
	paused := 0
	for _, l := range loops {
		idx := strconv.Itoa(l.Index)
		gauge(descLoopConnections, float64(l.Connections), idx)
		gauge(descLoopConsoles, float64(l.Consoles), idx)
		in, out, paused = in+l.BytesIn, out+l.BytesOut, paused+l.Paused
	}
	counter(descBytes, in, "in")
	counter(descBytes, out, "out")
	gauge(descConsolesPaused, float64(paused))
}

// histogram sends h as a Prometheus histogram: cumulative buckets in
// seconds.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h engine.Histogram) {
	buckets := make(map[float64]uint64, len(latencyBuckets))
	var cum uint64
	for i, ub := range latencyBuckets {
		cum += h.Counts[i]
		buckets[ub] = cum
	}
	ch <- prometheus.MustNewConstHistogram(d, h.Count(), h.Sum.Seconds(), buckets)
}
