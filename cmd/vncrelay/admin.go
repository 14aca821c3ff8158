package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/engine"
)

// The admin listener's bounds.
const (
	adminReadHeaderTimeout = 5 * time.Second
	adminWriteTimeout      = 70 * time.Second // a 60 s CPU profile (/debug/pprof/profile?seconds=60) fits
	adminIdleTimeout       = 60 * time.Second
	adminMaxHeaderBytes    = 16 << 10
	readyCheckTimeout      = 2 * time.Second // /readyz: the token store's check
	scrapeLoopTimeout      = 2 * time.Second // /metrics and /status: the event loops' snapshots
	adminShutdownTimeout   = 2 * time.Second
)

// admin is the operators' HTTP listener (--admin): metrics, health,
// readiness, the status page and pprof, apart from the relay's port. It
// reads the engine through its snapshot APIs and never touches a session.
type admin struct {
	log      *slog.Logger
	ln       net.Listener
	pprof    bool // serve /debug/pprof/: only on a loopback address
	started  time.Time
	srv      *engine.Server
	resolver auth.Resolver
	http     *http.Server
}

// listenAdmin opens the admin listener on addr, before the engine starts, so
// that a wrong address fails at start. It returns nil for addr "". With
// reusePort (--reuse-port) the socket has SO_REUSEPORT: the new process of a
// handover listens beside the old one, which closes its listener on SIGUSR2.
func listenAdmin(addr string, reusePort bool, log *slog.Logger) (*admin, error) {
	if addr == "" {
		return nil, nil
	}
	var lc net.ListenConfig
	if reusePort {
		lc.Control = reusePortControl // reuseport.go
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin: %w", err)
	}
	a := &admin{log: log, ln: ln, pprof: isLoopback(addr), started: time.Now()}
	log.Info("admin listening", "addr", ln.Addr().String(), "pprof", a.pprof)
	if !a.pprof {
		log.Warn("admin listener is not on a loopback address: pprof is off, and /status shows client and console addresses to whoever reaches it")
	}
	return a, nil
}

// isLoopback reports whether addr's host is a loopback address or
// "localhost".
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// start serves the admin endpoints for srv, whose token store is resolver.
// A nil admin does nothing.
func (a *admin) start(srv *engine.Server, resolver auth.Resolver) {
	if a == nil {
		return
	}
	a.srv, a.resolver = srv, resolver
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(srv, a.log),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
		EnableOpenMetrics:   true, // when the scraper asks for it (Accept), as docs/OPERATIONS.md says
	}))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /status", a.status)
	mux.HandleFunc("GET /{$}", a.index)
	if a.pprof {
		addPprof(mux)
	}
	a.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		WriteTimeout:      adminWriteTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := a.http.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin listener stopped", "err", err)
		}
	}()
}

// close stops the listener, letting requests in progress finish for a
// moment. A nil admin does nothing.
func (a *admin) close() {
	if a == nil {
		return
	}
	if a.http == nil {
		_ = a.ln.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminShutdownTimeout)
	defer cancel()
	if err := a.http.Shutdown(ctx); err != nil {
		_ = a.http.Close()
	}
}

// healthz answers 200 while the process runs: a liveness probe.
func (a *admin) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when the relay takes consoles: it is accepting, not
// draining, and its token store answers (auth.HealthChecker); otherwise 503
// with the failing check's reason. No check involves a token.
func (a *admin) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := a.ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// ready runs the readiness checks in order and returns the first failure.
func (a *admin) ready(ctx context.Context) error {
	if err := a.srv.Ready(); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
	defer cancel()
	// The token source in force: SIGHUP may replace it.
	if err := auth.CheckHealth(ctx, a.srv.Config().Resolver); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	return nil
}

// index lists the endpoints.
func (a *admin) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pprof := ""
	if a.pprof {
		pprof = `<li><a href="/debug/pprof/">/debug/pprof/</a> Go profiles</li>`
	}
	_, _ = fmt.Fprintf(w, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>vncrelay admin</title></head><body>
<h1>vncrelay admin</h1><ul>
<li><a href="/status">/status</a> live consoles</li>
<li><a href="/metrics">/metrics</a> Prometheus metrics</li>
<li><a href="/healthz">/healthz</a> liveness</li>
<li><a href="/readyz">/readyz</a> readiness</li>
%s</ul></body></html>
`, pprof)
}

// adminFlags resolves --admin and its older alias --pprof into the admin
// listener's address ("" when off). --pprof kept its rule: a loopback
// address.
func adminFlags(adminAddr, pprofAddr string) (string, error) {
	if pprofAddr != "" && !isLoopback(pprofAddr) {
		return "", fmt.Errorf("--pprof %q: want a loopback address such as 127.0.0.1:6060", pprofAddr)
	}
	switch {
	case pprofAddr == "":
		return adminAddr, nil
	case adminAddr == "" || adminAddr == pprofAddr:
		return pprofAddr, nil
	}
	return "", errors.New("--pprof is an older name of --admin: give one of them")
}

// splitAdminArgs takes vncrelay's own --admin and --pprof options out of a
// Nova command line (nova.conf has no such option), in either form
// ("--admin ADDR", "--admin=ADDR"), and returns the rest.
func splitAdminArgs(args []string) (adminAddr, pprofAddr string, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		var dst *string
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "--admin":
			dst = &adminAddr
		case "--pprof":
			dst = &pprofAddr
		default:
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return "", "", nil, fmt.Errorf("%s needs an address", name)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	return adminAddr, pprofAddr, rest, nil
}
