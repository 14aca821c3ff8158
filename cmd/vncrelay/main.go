// Command vncrelay relays browser consoles (noVNC over WebSocket) to VNC and
// other TCP consoles. Its command line is websockify's; see --help and the
// README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/nova"
)

func main() {
	run := run
	args := os.Args[1:]
	if rest, ok := cutCheckConfig(args); ok { // reload.go
		if err := checkCommand(filepath.Base(os.Args[0]), rest, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "vncrelay:", err)
			os.Exit(1)
		}
		return
	}
	// Packagers install vncrelay as nova-novncproxy and its siblings; the
	// same proxies are also reached as "vncrelay nova novnc ...".
	if p, ok := nova.ProxyFromProgram(filepath.Base(os.Args[0])); ok {
		run = func(args []string, stderr io.Writer) error { return runNova(p, args, stderr) }
	} else if len(args) > 0 && args[0] == "nova" {
		run, args = runNovaCommand, args[1:]
	} else if len(args) == 1 && (args[0] == "version" || args[0] == "--version") {
		fmt.Println(versionString()) // version.go: module version, VCS revision, Go version
		return
	}
	if err := run(args, os.Stderr); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "vncrelay:", err)
			os.Exit(2)
		}
	}
}

func run(args []string, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if o.daemon && !isDaemonChild() {
		if o.logFile == "" && o.syslog == "" {
			fmt.Fprintln(stderr, "vncrelay: warning: -D without --log-file or --syslog: the daemon's log goes nowhere")
		}
		return daemonize(stderr)
	}
	log, closeLog, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	cfg, tokens, err := o.config(log)
	if err != nil {
		return err
	}
	certs, err := o.tls.apply(&cfg, log) // tls.go
	if err != nil {
		return err
	}
	if o.demo {
		stop, err := startDemo(&cfg, log)
		if err != nil {
			return err
		}
		defer stop()
		tokens = cfg.Resolver.(*auth.TokenFile)
	}
	if tokens != nil {
		if err := loadTokenSource(tokens); err != nil { // tokensource.go
			return err
		}
	}
	checkLimits(&cfg, log)
	adminAddr, err := adminFlags(o.admin, o.pprof)
	if err != nil {
		return err
	}
	adm, err := listenAdmin(adminAddr, o.reusePort, log) // admin.go; nil when off
	if err != nil {
		return err
	}
	defer adm.close()

	if o.record != "" {
		stop, err := startRecording(&cfg, o.record, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.traffic {
		out := newAsyncLog(os.Stdout)
		defer out.Close()
		withTraffic(&cfg, out)
	}
	srv, err := startServer(cfg, adm)
	if err != nil {
		return err
	}
	var reload func()
	if o.demo {
		reload = withCertReload(func() { _ = tokens.Reload(true) }, certs, log) // tls.go; logs its own outcome
	} else {
		// SIGHUP builds the whole configuration again from the same command
		// line (reload.go).
		rl := newReloader(srv, log, func(l *slog.Logger) (*built, error) { return buildWebsockify(args, l) },
			certs, fixedOptions(o), resolverCleanup(cfg.Resolver))
		defer rl.close()
		reload = rl.reload
	}
	return serve(srv, log, reload, o.handover(), adm.closeForHandover, retireWhen(srv, o.timeout, o.runOnce))
}

// serve runs srv until it stops by itself (websockify's --idle-timeout) or
// a signal stops it: SIGTERM and SIGINT drain, SIGHUP calls reload (when
// not nil) on a goroutine of its own, SIGUSR2 hands over (engine
// Server.Handover, keeping consoles up to handover; a later SIGTERM or
// SIGINT ends the wait). onHandover, when not nil, runs as the handover
// starts (the admin listener closes, so that health checks reach the new
// process).
func serve(srv *engine.Server, log *slog.Logger, reload func(), handover time.Duration, onHandover func(), retire <-chan string) error {
	ec := srv.Config()
	log.Info("vncrelay listening", "addr", srv.Addr().String(), "loops", ec.Loops,
		"max_connections", ec.MaxConnections, "web", ec.WebDir)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	var handedOver chan error // set once SIGUSR2 started a handover
	var endHandover context.CancelFunc
	stopWatchdog := sdReady(srv, log) // systemd.go: READY=1, watchdog
	defer stopWatchdog()
	for {
		select {
		case err := <-served:
			if errors.Is(err, engine.ErrServerIdle) {
				log.Info("exiting: idle timeout")
				return nil
			}
			return err
		case err := <-handedOver:
			return err
		case why := <-retire:
			if handedOver != nil {
				continue
			}
			// websockify's --run-once and --timeout: no new connection, and
			// exit once the consoles open now have ended, however long.
			log.Info("exiting once the open consoles end; no new connections", "because", why)
			handedOver, endHandover = startHandover(srv, log, foreverKeep, onHandover)
			defer endHandover()
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGHUP:
				if reload != nil {
					go reload()
				}
				continue
			case handedOver != nil:
				log.Info("signal received; ending the handover", "signal", sig.String())
				endHandover()
				continue
			case sig == syscall.SIGUSR2:
				log.Info("signal received; handing over", "signal", sig.String(), "keep", handover)
				handedOver, endHandover = startHandover(srv, log, handover, onHandover)
				defer endHandover()
				continue
			}
			log.Info("signal received; draining", "signal", sig.String())
			sdStopping(log)
			cut, err := srv.Shutdown(context.Background())
			if cut > 0 {
				log.Warn("connections cut at drain timeout", "count", cut)
			}
			return err
		}
	}
}

// foreverKeep is the handover's keep for --run-once and --timeout: consoles
// end when their users end them.
const foreverKeep = time.Duration(math.MaxInt64)

// startHandover stops accepting and keeps the open consoles for keep (see
// engine.Server.Handover); the channel gets its result, the cancel function
// ends the wait early.
func startHandover(srv *engine.Server, log *slog.Logger, keep time.Duration, onHandover func()) (chan error, context.CancelFunc) {
	sdStopping(log)
	if onHandover != nil {
		onHandover()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cut, err := srv.Handover(ctx, keep)
		if cut > 0 {
			log.Warn("connections cut at drain timeout", "count", cut)
		}
		done <- err
	}()
	return done, cancel
}

// retireWhen returns the channel serve retires on: after timeout
// (websockify's --timeout: stop accepting that long after start), or once a
// first console has opened (--run-once: one console, then exit when it
// ends). nil when neither is asked for. The run-once check looks every
// 50 ms: a console opened in the same 50 ms as the first is served too.
func retireWhen(srv *engine.Server, timeout time.Duration, runOnce bool) <-chan string {
	if timeout <= 0 && !runOnce {
		return nil
	}
	out := make(chan string, 1)
	go func() {
		var deadline <-chan time.Time
		if timeout > 0 {
			deadline = time.After(timeout)
		}
		var tick <-chan time.Time
		if runOnce {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-deadline:
				out <- "--timeout"
				return
			case <-tick:
				if srv.Stats().Opened > 0 {
					out <- "--run-once"
					return
				}
			}
		}
	}()
	return out
}

// config turns the options into an engine configuration and, with a token
// plugin, the token file to load and reload.
func (o *options) config(log *slog.Logger) (engine.Config, *auth.TokenFile, error) {
	cfg := engine.Config{
		Listen: o.listen, PreferIPv6: o.preferIPv6, HostToken: o.hostToken, WebDir: o.web,
		Heartbeat:          o.heartbeat,
		ServerIdleTimeout:  o.idle,
		PongTimeout:        o.pongTO,
		ConsoleIdleTimeout: o.consoleIdleTO,
		HandshakeTimeout:   o.handshakeTO, ConnectTimeout: o.connectTO, CloseTimeout: o.closeTO,
		DrainTimeout:   o.drainTO,
		MaxConnections: o.maxConns, MaxPendingHandshakes: o.maxPending,
		MaxMessageSize: o.maxMessage, MaxFragments: o.maxFragments, HighWater: o.highWater, Loops: o.loops, Workers: o.workers, ReadBufferSize: o.readBuffer,
		Logger:      log,
		RevokeCheck: o.revokeCheck,
		ReusePort:   o.reusePort,
	}
	useActivatedListener(&cfg, log) // systemd.go
	if err := o.limits.apply(&cfg, log); err != nil {
		return cfg, nil, err
	}
	if o.checkOrig || len(o.origins) > 0 {
		cfg.Origins = &auth.OriginPolicy{Allowed: o.origins}
	}
	if o.authPlugin != "" {
		a, err := auth.ParseRequestAuth(o.authPlugin, o.authSource)
		if err != nil {
			return cfg, nil, err
		}
		if _, ok := a.(auth.ClientCertCNAuth); ok && !o.tls.verifyClient {
			return cfg, nil, errors.New("--auth-plugin ClientCertCNAuth needs TLS with client certificates: give --cert and --verify-client")
		}
		cfg.RequestAuth, cfg.WebAuth = a, o.webAuth
	}
	if o.web != "" {
		if st, err := os.Stat(o.web); err != nil || !st.IsDir() {
			return cfg, nil, fmt.Errorf("--web %s: not a directory", o.web)
		}
	}
	switch {
	case o.demo:
		return cfg, nil, nil
	case o.target != "":
		t, err := auth.ParseHostPort(o.target)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Resolver = auth.Static{Target: t}
	case o.unixTarget != "":
		cfg.Resolver = auth.Static{Target: auth.Target{Network: "unix", Address: o.unixTarget}}
	default:
		r, tf, err := tokenPlugin(o.plugin, o.source, cacheTTL{o.cacheTTL, o.negativeTTL}, log) // plugins.go
		if err != nil {
			return cfg, nil, err
		}
		cfg.Resolver = r
		if tf != nil {
			tf.HostTokens = o.hostToken // warns about tokens a browser's Host cannot match
		}
		return cfg, tf, nil
	}
	return cfg, nil, nil
}

// checkLimits raises the descriptor limit and says at start when the
// configured connection cap exceeds what it allows.
func checkLimits(cfg *engine.Config, log *slog.Logger) {
	nofile, err := engine.RaiseFileLimit()
	if err != nil {
		log.Warn("could not raise the descriptor limit", "err", err)
	}
	budget := engine.ConsoleBudget(nofile)
	if cfg.MaxConnections > budget {
		log.Warn("--max-connections exceeds what the descriptor limit allows; consoles past the limit will fail",
			"max_connections", cfg.MaxConnections, "nofile", nofile, "budget", budget)
	}
}

// newLogger builds the slog logger the options ask for.
func newLogger(o *options, stderr io.Writer) (*slog.Logger, func(), error) {
	w, closeFn := stderr, func() {}
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		w, closeFn = f, func() { _ = f.Close() }
	}
	buf := newAsyncLog(w)
	w, closeFile := io.Writer(buf), closeFn
	closeFn = func() {
		_ = buf.Close()
		closeFile()
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level, ReplaceAttr: logDurations} // logformat.go
	var h slog.Handler
	switch o.logFormat {
	case "text":
		h = slog.NewTextHandler(w, hopts)
	case "json":
		h = slog.NewJSONHandler(w, hopts)
	default:
		closeFn()
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	if o.syslog != "" {
		sink, err := dialSyslog(o.syslog, o.legacySys, o.daemon)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		h = slog.NewMultiHandler(h, syslogHandler(sink, level))
		closeOthers := closeFn
		closeFn = func() {
			closeOthers()
			_ = sink.Close()
		}
	}
	return slog.New(h), closeFn, nil
}
