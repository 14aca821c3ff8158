package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/pflag"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/engine"
	"github.com/vncrelay/vncrelay/nova"
)

// novaCommands maps "vncrelay nova NAME" to Nova's proxies.
var novaCommands = map[string]nova.Proxy{
	"novnc":      nova.ProxyNoVNC,
	"serial":     nova.ProxySerial,
	"spicehtml5": nova.ProxySpiceHTML5,
}

// runNovaCommand runs "vncrelay nova novnc|serial|spicehtml5 [Nova's options]".
func runNovaCommand(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: vncrelay nova novnc|serial|spicehtml5 --config-file FILE [Nova options]")
	}
	p, ok := novaCommands[args[0]]
	if !ok {
		return fmt.Errorf("vncrelay nova %s: want novnc, serial or spicehtml5", args[0])
	}
	return runNova(p, args[1:], stderr)
}

// runNova runs one of Nova's console proxies from Nova's command line and
// nova.conf: tokens from Nova's database, each port confirmed with the
// compute node over RabbitMQ, Nova's Origin rule, and for noVNC the RFB
// security proxy (docs/NOVA.md).
func runNova(p nova.Proxy, args []string, stderr io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			fmt.Fprint(stderr, nova.Usage(p))
			fmt.Fprint(stderr, "\nvncrelay's own options:\n  --admin ADDR  serve /metrics, /healthz, /readyz, /status and (on loopback) pprof on ADDR (docs/OPERATIONS.md)\n  --check-config  validate nova.conf and this command line without listening; exit 0, or 1 with the reason\n")
			fs := pflag.NewFlagSet("vncrelay nova", pflag.ContinueOnError)
			(&limitOptions{}).addFlags(fs)
			fmt.Fprint(stderr, fs.FlagUsages()) // client address and limits (docs/LIMITS.md)
			return nil
		}
	}
	origArgs := args                                      // SIGHUP reads the same command line again
	adminArg, pprofArg, args, err := splitAdminArgs(args) // vncrelay's own options (admin.go)
	if err != nil {
		return err
	}
	adminAddr, err := adminFlags(adminArg, pprofArg)
	if err != nil {
		return err
	}
	novaArgs, limits, err := splitLimitArgs(args) // vncrelay's own options: limits.go
	if err != nil {
		return err
	}
	nc, err := nova.Load(nova.LoadOptions{Proxy: p, Args: novaArgs})
	if err != nil {
		return err
	}
	if nc.ShowVersion {
		fmt.Fprintln(stderr, versionString())
		return nil
	}
	if nc.Default.Daemon && !isDaemonChild() {
		return daemonize(stderr)
	}
	log, closeLog, err := novaLogger(nc, stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	cfg, cleanup, err := novaEngineConfig(nc, log)
	if err != nil {
		return err
	}
	var rl *reloader // SIGHUP (reload.go); it releases the token store in force
	defer func() {
		if rl == nil {
			cleanup()
		} else {
			rl.close()
		}
	}()
	if err := limits.apply(&cfg, log); err != nil {
		return err
	}
	checkLimits(&cfg, log)
	certs, err := novaTLS(nc).apply(&cfg, log) // tls.go
	if err != nil {
		return err
	}
	adm, err := listenAdmin(adminAddr, false, log)
	if err != nil {
		return err
	}
	defer adm.close()
	if nc.Default.Record != "" {
		stop, err := startRecording(&cfg, nc.Default.Record, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv, err := startServer(cfg, adm)
	if err != nil {
		return err
	}
	log.Info("nova console proxy", "proxy", p.Program(), "console_type", string(p.ConsoleType()),
		"config_files", nc.ConfigFiles)
	rl = newReloader(srv, log, func(l *slog.Logger) (*built, error) { return buildNova(p, origArgs, l) },
		certs, novaFixed(adminArg, pprofArg, nc), cleanup)
	return serve(srv, log, rl.reload, time.Hour, adm.closeForHandover, nil) // SIGUSR2 hands over as with websockify options
}

// novaTLS maps Nova's TLS options to websockify's, which Nova hands them to
// (nova/cmd/baseproxy.py): TLS is served when [DEFAULT] cert exists, with
// [DEFAULT] key, ssl_only, and [console] ssl_ciphers and
// ssl_minimum_version. SIGHUP reloads the certificate (reload.go).
func novaTLS(nc *nova.Config) *tlsOptions {
	if !nc.TLSServe() {
		return &tlsOptions{noDefaultCert: true}
	}
	return &tlsOptions{cert: nc.Default.Cert, key: nc.Default.Key, sslOnly: nc.Default.SSLOnly,
		version: nc.Console.SSLMinimumVersion, ciphers: nc.Console.SSLCiphers, noDefaultCert: true}
}

// novaEngineConfig turns a loaded nova.conf into the engine's configuration,
// with the token store and compute check it needs; cleanup releases them.
func novaEngineConfig(nc *nova.Config, log *slog.Logger) (engine.Config, func(), error) {
	cfg := engine.Config{
		Listen:     nc.ListenAddress(),
		PreferIPv6: nc.Default.SourceIsIPv6,
		// Nova checks every browser's Origin against the request's Host and
		// [console] allowed_origins; a copy, so that no request can add to it.
		Origins:            &auth.OriginPolicy{Allowed: append([]string(nil), nc.Console.AllowedOrigins...)},
		EnforceTokenExpiry: nc.ConsoleAuth.EnforceSessionTimeout,
		Logger:             log,
	}
	useActivatedListener(&cfg, log) // systemd.go
	if web := nc.Default.Web; web != "" {
		// Nova's proxies refuse to start without their pages.
		if st, err := os.Stat(web); err != nil || !st.IsDir() {
			return cfg, nil, fmt.Errorf("can not find html/js files at %s ([DEFAULT] web)", web)
		}
		cfg.WebDir = web
	}
	// The MySQL driver logs broken connections through a logger of its own;
	// they belong in the relay's log, at warning level.
	_ = mysql.SetLogger(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	var ports nova.PortChecker
	var compute *nova.ComputeAPI
	if nc.Default.TransportURL != "" {
		u, err := nova.ParseTransportURL(nc.Default.TransportURL)
		if err != nil {
			return cfg, nil, fmt.Errorf("[DEFAULT] transport_url: %w", err)
		}
		compute, err = nova.NewComputeAPI(nova.ComputeAPIConfig{URL: u, VersionCap: nc.UpgradeLevelsCompute, Logger: log})
		if err != nil {
			return cfg, nil, err
		}
		ports = compute
	} else {
		// Nova cannot run without a message bus; vncrelay can, but then the
		// check that closes CVE-2013-0335 is not made. Say so loudly.
		log.Warn("no [DEFAULT] transport_url: console ports are not confirmed with the compute nodes")
	}
	storeCfg := nova.TokenStoreConfigFrom(nc, ports)
	storeCfg.Logger = log
	security, vencrypt, err := nc.ConsoleSecurity()
	if err != nil {
		if compute != nil {
			_ = compute.Close()
		}
		return cfg, nil, err
	}
	storeCfg.Security, storeCfg.VeNCrypt = security, vencrypt
	if storeCfg.VeNCrypt != nil && len(storeCfg.VeNCrypt.Certificates) == 0 {
		log.Warn("VeNCrypt without a client certificate ([vnc] vencrypt_client_cert, vencrypt_client_key): " +
			"consoles that verify their clients (QEMU's verify-peer=yes) will refuse the relay")
	}
	store, err := nova.NewTokenStore(storeCfg)
	if err != nil {
		if compute != nil {
			_ = compute.Close()
		}
		return cfg, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.Ping(ctx); err != nil {
		// Not fatal: lookups answer 503 until the database is back.
		log.Warn("nova database not reachable at start; consoles get 503 until it is", "err", err)
	}
	cfg.Resolver = store
	cleanup := func() {
		_ = store.Close()
		if compute != nil {
			_ = compute.Close()
		}
	}
	return cfg, cleanup, nil
}

// novaLogger builds the logger Nova's logging options ask for: --debug,
// log_file (under log_dir), use_json. Python logging configuration files,
// syslog and the journal are refused by nova.Load.
func novaLogger(nc *nova.Config, stderr io.Writer) (*slog.Logger, func(), error) {
	o := &options{logFormat: "text", verbose: nc.Log.Debug}
	if nc.Log.UseJSON {
		o.logFormat = "json"
	}
	if f := nc.Log.LogFile; f != "" {
		if nc.Log.LogDir != "" && !filepath.IsAbs(f) {
			f = filepath.Join(nc.Log.LogDir, f)
		}
		o.logFile = f
	}
	return newLogger(o, stderr)
}
