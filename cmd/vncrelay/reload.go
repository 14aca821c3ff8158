package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/nova"
	"github.com/vncrelay/vncrelay/tlsconf"
)

// built is a complete, validated configuration from the process's
// configuration sources (its command line, and for Nova's proxies their
// config files): the token source loaded, the web root present, the plugins
// parsed, the certificates loaded. cleanup releases what building it opened
// (store clients, database pools); never nil.
type built struct {
	cfg     engine.Config
	certs   *tlsconf.Server // nil without TLS
	cleanup func()
	// fixed holds what only a restart changes among the options the engine
	// does not see (admin listener, logging, recording, TLS files); a
	// reload compares it with the configuration in force.
	fixed []string
}

// errTLSLoad marks a configuration refused for its TLS settings: the
// certificate, key or CA files do not load.
var errTLSLoad = errors.New("TLS")

// quietLog discards the lines building a configuration logs ("TLS on"): a
// check or a reload says its own outcome.
var quietLog = slog.New(slog.DiscardHandler)

// buildWebsockify builds the configuration of a websockify command line.
func buildWebsockify(args []string, log *slog.Logger) (*built, error) {
	o, err := parseOptions(args, io.Discard)
	if err != nil {
		return nil, err
	}
	if o.demo {
		return nil, errors.New("--demo: its configuration is made at start; reload and --check-config do not apply")
	}
	if _, err := adminFlags(o.admin, o.pprof); err != nil {
		return nil, err
	}
	cfg, tokens, err := o.config(log)
	if err != nil {
		return nil, err
	}
	if tokens != nil {
		if err := tokens.Load(); err != nil {
			return nil, err // names the token source
		}
	}
	certs, err := o.tls.apply(&cfg, quietLog)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTLSLoad, err)
	}
	return &built{cfg: cfg, certs: certs, cleanup: resolverCleanup(cfg.Resolver), fixed: fixedOptions(o)}, nil
}

// fixedOptions lists the websockify options only a restart changes and
// the engine does not see, with their values.
func fixedOptions(o *options) []string {
	return []string{
		"--admin " + o.admin, "--pprof " + o.pprof, "--record " + o.record,
		fmt.Sprintf("--traffic %t", o.traffic), "--log-file " + o.logFile, "--log-format " + o.logFormat,
		fmt.Sprintf("--verbose %t", o.verbose), "--syslog " + o.syslog, fmt.Sprintf("--legacy-syslog %t", o.legacySys),
		fmt.Sprintf("--daemon %t", o.daemon), fmt.Sprintf("--run-once %t", o.runOnce), fmt.Sprintf("--timeout %s", o.timeout),
		fmt.Sprintf("--handover-timeout %s", o.handoverTO), fmt.Sprintf("TLS options %+v", o.tls),
	}
}

// novaFixed is fixedOptions for Nova's proxies.
func novaFixed(adminArg, pprofArg string, nc *nova.Config) []string {
	return []string{
		"--admin " + adminArg, "--pprof " + pprofArg, "[DEFAULT] record " + nc.Default.Record,
		fmt.Sprintf("[DEFAULT] daemon %t", nc.Default.Daemon), fmt.Sprintf("TLS settings %+v", *novaTLS(nc)),
		fmt.Sprintf("logging %+v", nc.Log),
	}
}

// buildNova builds the configuration of one of Nova's proxies from its
// command line and the config files it names.
func buildNova(p nova.Proxy, args []string, log *slog.Logger) (*built, error) {
	adminArg, pprofArg, args, err := splitAdminArgs(args)
	if err != nil {
		return nil, err
	}
	if _, err := adminFlags(adminArg, pprofArg); err != nil {
		return nil, err
	}
	novaArgs, limits, err := splitLimitArgs(args)
	if err != nil {
		return nil, err
	}
	nc, err := nova.Load(nova.LoadOptions{Proxy: p, Args: novaArgs})
	if err != nil {
		return nil, err
	}
	cfg, cleanup, err := novaEngineConfig(nc, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*built, error) {
		cleanup()
		return nil, err
	}
	if err := limits.apply(&cfg, log); err != nil {
		return fail(err)
	}
	certs, err := novaTLS(nc).apply(&cfg, quietLog)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", errTLSLoad, err))
	}
	return &built{cfg: cfg, certs: certs, cleanup: cleanup, fixed: novaFixed(adminArg, pprofArg, nc)}, nil
}

// resolverCleanup returns what closes a resolver's clients: the Redis
// client of TokenRedis, behind its cache. Resolvers holding nothing get a
// function that does nothing.
func resolverCleanup(r auth.Resolver) func() {
	if c, ok := r.(*auth.Cache); ok {
		r = c.Store
	}
	if c, ok := r.(io.Closer); ok {
		return func() { _ = c.Close() }
	}
	return func() {}
}

// checkConfig is --check-config: it builds the configuration as a start
// would, without listening, and says whether it is good. The error is the
// reason it is not. Warnings go to stderr.
func checkConfig(build func(*slog.Logger) (*built, error), stderr io.Writer) error {
	// Warnings a start would log (a database not answering yet) are shown.
	b, err := build(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return fmt.Errorf("configuration refused: %w", err)
	}
	defer b.cleanup()
	if b.cfg.Resolver == nil {
		return errors.New("configuration refused: no token source or target")
	}
	fmt.Fprintf(stderr, "configuration OK: listen %s\n", b.cfg.Listen)
	return nil
}

// reloader is what SIGHUP does: build the configuration again from the same
// sources, validate it, and put it in force (engine Server.Reload, the
// certificate files re-read), or refuse it with a log line and keep the
// one in force. The resources of the replaced token source are released
// once no request can be using them.
type reloader struct {
	srv   *engine.Server
	log   *slog.Logger
	build func(*slog.Logger) (*built, error)
	certs *tlsconf.Server // the certificates in force; nil without TLS
	fixed []string        // built.fixed of the configuration in force

	mu      sync.Mutex
	cleanup func() // releases the token source in force
	retired []retired
}

// retired is a replaced token source, released by its timer.
type retired struct {
	t       *time.Timer
	cleanup func()
}

// newReloader makes the reloader of srv, whose configuration in force has
// the certificates certs, the fixed options fixed (see built) and releases
// its token source with cleanup (nil: nothing to release). Later
// configurations come from build.
func newReloader(srv *engine.Server, log *slog.Logger, build func(*slog.Logger) (*built, error), certs *tlsconf.Server, fixed []string, cleanup func()) *reloader {
	if cleanup == nil {
		cleanup = func() {}
	}
	return &reloader{srv: srv, log: log, build: build, certs: certs, fixed: fixed, cleanup: cleanup}
}

// reload runs one reload; SIGHUP calls it on a goroutine of its own, and
// reloads run one at a time.
func (r *reloader) reload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	sdNotify(r.log, fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer sdNotify(r.log, "READY=1")
	if err := r.apply(); err != nil {
		msg := "reload refused; the configuration in force is kept"
		if errors.Is(err, errTLSLoad) {
			msg = "TLS reload refused; the certificate and configuration in force are kept"
		}
		r.log.Error(msg, "err", err)
		return
	}
	cfg := r.srv.Config()
	r.log.Info("configuration reloaded", "web", cfg.WebDir, "origins_checked", cfg.Origins != nil,
		"max_consoles_per_client", cfg.MaxConsolesPerClient, "max_consoles_per_token", cfg.MaxConsolesPerToken)
}

func (r *reloader) apply() error {
	b, err := r.build(r.log)
	if err != nil {
		return err
	}
	if r.fixed != nil && !slices.Equal(r.fixed, b.fixed) {
		var changed []string
		for i := range min(len(r.fixed), len(b.fixed)) {
			if r.fixed[i] != b.fixed[i] {
				changed = append(changed, b.fixed[i])
			}
		}
		b.cleanup()
		return fmt.Errorf("%v changed, which %w", changed, engine.ErrNeedsRestart)
	}
	cur := r.srv.Config()
	// What the engine compares by being set or not, and what only a restart
	// changes, stays as it is in force.
	b.cfg.Recorder, b.cfg.Logger, b.cfg.TargetTLS = cur.Recorder, cur.Logger, cur.TargetTLS
	if b.cfg.TLS != nil {
		b.cfg.TLS = cur.TLS
	}
	if err := r.srv.Reload(b.cfg); err != nil {
		b.cleanup()
		return err
	}
	if r.certs != nil {
		// The files were just loaded by the build: re-read them into the
		// configuration in force.
		if err := r.certs.Reload(); err != nil {
			r.log.Error("TLS reload refused; the certificate in force is kept", "err", err)
		} else {
			logCert(r.log, "TLS certificate reloaded", r.certs)
		}
	}
	// Requests that read the old policy resolve within ConnectTimeout; the
	// revocation check's lookups likewise.
	old := r.cleanup
	r.cleanup = b.cleanup
	r.retired = append(r.retired, retired{time.AfterFunc(cur.ConnectTimeout+time.Second, old), old})
	return nil
}

// close releases the token source in force and any replaced one not yet
// released; at exit.
func (r *reloader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.retired {
		if o.t.Stop() {
			o.cleanup()
		}
	}
	r.retired = nil
	r.cleanup()
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1 (sd_notify(3), Type=notify-reload).
func monotonicUsec() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}

// cutCheckConfig takes --check-config out of a command line; ok says
// whether it was there.
func cutCheckConfig(args []string) (rest []string, ok bool) {
	i := slices.Index(args, "--check-config")
	if i < 0 {
		return args, false
	}
	return slices.Delete(slices.Clone(args), i, i+1), true
}

// checkCommand is "vncrelay --check-config ARGS...": prog is the name the
// program was called by (Nova's proxies are installed under theirs), args
// the command line without --check-config.
func checkCommand(prog string, args []string, stderr io.Writer) error {
	p, isNova := nova.ProxyFromProgram(prog)
	if !isNova && len(args) > 0 && args[0] == "nova" {
		if len(args) < 2 {
			return errors.New("usage: vncrelay --check-config nova novnc|serial|spicehtml5 --config-file FILE [Nova options]")
		}
		if p, isNova = novaCommands[args[1]]; !isNova {
			return fmt.Errorf("vncrelay nova %s: want novnc, serial or spicehtml5", args[1])
		}
		args = args[2:]
	}
	if isNova {
		return checkConfig(func(l *slog.Logger) (*built, error) { return buildNova(p, args, l) }, stderr)
	}
	return checkConfig(func(l *slog.Logger) (*built, error) { return buildWebsockify(args, l) }, stderr)
}
