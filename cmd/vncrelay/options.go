package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// options is the parsed command line.
type options struct {
	listen     string // host:port
	target     string // fixed host:port, or ""
	unixTarget string
	plugin     string
	source     string
	targetCfg  string
	hostToken  bool
	web        string
	heartbeat  time.Duration
	idle       time.Duration
	preferIPv6 bool
	verbose    bool
	logFile    string
	logFormat  string
	demo       bool
	pprof      string
	admin      string // admin listener (admin.go)
	origins    []string
	checkOrig  bool
	authPlugin string
	record     string
	syslog     string
	daemon     bool
	runOnce    bool
	timeout    time.Duration
	traffic    bool
	legacySys  bool
	authSource string
	webAuth    bool

	maxConns       int
	maxPending     int
	handshakeTO    time.Duration
	connectTO      time.Duration
	closeTO        time.Duration
	drainTO        time.Duration
	consoleIdleTO  time.Duration
	pongTO         time.Duration
	maxMessage     int64
	maxFragments   int
	highWater      int
	loops, workers int
	readBuffer     int

	revokeCheck time.Duration // 0 off
	reusePort   bool          // SO_REUSEPORT on the listening socket
	handoverTO  time.Duration // SIGUSR2: how long old consoles are kept
	cacheTTL    time.Duration // found tokens of network stores; 0 default, <0 none
	negativeTTL time.Duration // unknown tokens likewise
	tls         tlsOptions    // tls.go
	limits      limitOptions  // limits.go
}

// notBuilt lists websockify options vncrelay does not have yet, with what they
// are for. Giving one is an error at start: silently ignoring a security
// option (TLS, auth) would leave a user believing it is in force.
var notBuilt = []struct{ name, short, what string }{
	{"unix-listen", "", "listening on a unix socket; not built yet: put a unix-socket front (HAProxy, nginx) before the TCP port"},
	{"unix-listen-mode", "", "listening on a unix socket; not built yet"},
	{"inetd", "", "inetd mode; not planned: one process per connection is what vncrelay replaces (use socket activation)"},
	{"wrap-mode", "", "wrapping a program; not planned: vncrelay relays to consoles and does not start them (run the program under your service manager)"},
	{"libserver", "", "the Python library server; not planned: vncrelay is not a Python library"},
}

// boolNotBuilt are the notBuilt options that take no value in websockify.
var boolNotBuilt = map[string]bool{"inetd": true, "libserver": true}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := pflag.NewFlagSet("vncrelay", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SetInterspersed(true) // options before or after the positionals, as websockify
	fs.Usage = func() { usage(fs, stderr) }

	fs.StringVar(&o.plugin, "token-plugin", "", "websockify token plugin: TokenFile, ReadOnlyTokenFile, TokenFileName, UnixDomainSocketDirectory, TokenRedis, BaseTokenAPI, JSONTokenApi or JWTTokenApi (see docs/STORES.md)")
	fs.StringVar(&o.source, "token-source", "", "the plugin's source: a file, directory, Redis host[:port[:db[:password[:namespace]]]], URL with %s, or key file")
	fs.StringVar(&o.targetCfg, "target-config", "", "websockify's older spelling of --token-plugin TokenFile --token-source `FILE_OR_DIR`")
	fs.BoolVar(&o.hostToken, "host-token", false, "take the token from the Host header, less its port (the query and cookies are then not read); compared with case, as websockify, and browsers send host names in lower case: use lower-case tokens")
	fs.StringVar(&o.web, "web", "", "serve static files (noVNC) from `DIR` on the same port")
	fs.Bool("file-only", false, "accepted for websockify compatibility: vncrelay never lists directories")
	durationVar(fs, &o.heartbeat, "heartbeat", "send a ping to each browser this often (0: never)")
	durationVar(fs, &o.idle, "idle-timeout", "exit after this long with no console open (0: never)")
	fs.StringVar(&o.unixTarget, "unix-target", "", "relay to the unix socket at `PATH` instead of a TCP target")
	fs.BoolVarP(&o.preferIPv6, "prefer-ipv6", "6", false, "prefer IPv6 when resolving source_addr")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "debug logging")
	fs.StringVar(&o.logFile, "log-file", "", "append logs to `FILE` instead of stderr")

	fs.BoolVar(&o.runOnce, "run-once", false, "serve one console, then exit when it ends (no new connections after it opens)")
	durationVar(fs, &o.timeout, "timeout", "stop accepting this long after start, and exit once the open consoles end (0: never)")
	fs.BoolVarP(&o.daemon, "daemon", "D", false, "run in the background, detached from the terminal (log with --log-file or --syslog)")
	fs.StringVar(&o.syslog, "syslog", "", "also log to the syslog server `SERVER`: host:port (UDP) or a local socket path such as /dev/log")
	fs.BoolVar(&o.legacySys, "legacy-syslog", false, "with --syslog, use the old BSD syslog header instead of RFC 5424's")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&o.checkOrig, "check-origin", false, "refuse upgrades whose Origin is not the request's host or an --allowed-origin (Nova's rule; websockify checks nothing)")
	fs.StringSliceVar(&o.origins, "allowed-origin", nil, "`HOST` allowed as Origin besides the request's own host (repeat or comma-separate; implies --check-origin)")
	fs.StringVar(&o.authPlugin, "auth-plugin", "", "websockify auth plugin checked on every upgrade before the token: BasicHTTPAuth, ExpectOrigin or ClientCertCNAuth")
	fs.StringVar(&o.authSource, "auth-source", "", "the auth plugin's source: user:password (BasicHTTPAuth), Origins or certificate names separated by spaces")
	fs.BoolVar(&o.webAuth, "web-auth", false, "apply the auth plugin to --web files too")
	fs.StringVar(&o.record, "record", "", "record each console's traffic to `FILE`.N (websockify's format, replayed by noVNC's playback page)")
	fs.BoolVar(&o.traffic, "traffic", false, "print websockify's traffic marks for every relayed read to stdout (debugging)")
	fs.StringVar(&o.admin, "admin", "", "serve /metrics, /healthz, /readyz, /status and (on loopback) pprof on `ADDR`, such as 127.0.0.1:9180 (off by default)")
	fs.StringVar(&o.pprof, "pprof", "", "older name of --admin, on a loopback `ADDR`")
	fs.BoolVar(&o.demo, "demo", false, "run the built-in demo console with an example token file (see README)")
	fs.IntVar(&o.maxConns, "max-connections", 0, "most browser connections at once (0: what the descriptor limit allows)")
	fs.IntVar(&o.maxPending, "max-pending", 0, "most connections not yet relaying (0: 1024)")
	durationVar(fs, &o.handshakeTO, "handshake-timeout", "time for a complete request head (0: 10s)")
	durationVar(fs, &o.connectTO, "connect-timeout", "time for token lookup and console dial (0: 10s)")
	durationVar(fs, &o.closeTO, "close-timeout", "time for a close frame to be flushed and answered (0: 3s)")
	durationVar(fs, &o.drainTO, "drain-timeout", "time for consoles to close at SIGTERM (0: 10s)")
	durationVar(fs, &o.consoleIdleTO, "console-idle-timeout", "close a console with no traffic for this long (0: never)")
	durationVar(fs, &o.pongTO, "pong-timeout", "close a console whose browser does not answer a heartbeat ping in this time (0: 2 × heartbeat)")
	fs.Int64Var(&o.maxMessage, "max-message-size", 0, "largest browser message in bytes (0: 4 MiB)")
	fs.IntVar(&o.maxFragments, "max-fragments", 0, "most frames in one fragmented browser message (0: 65536)")
	fs.IntVar(&o.highWater, "high-water", 0, "bytes buffered per console and direction before the sender is paused (0: 1 MiB)")
	fs.IntVar(&o.readBuffer, "read-buffer", 0, "largest read from a socket in bytes, per event loop; also the largest frame sent to a browser (0: 256 KiB)")
	fs.IntVar(&o.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&o.workers, "workers", 0, "concurrent token lookups, dials and file reads (0: 256)")
	fs.BoolVar(&o.reusePort, "reuse-port", false, "listen with SO_REUSEPORT, so that several vncrelay processes share the port (restart without a gap: see SIGUSR2 in docs/FLEET.md)")
	durationVar(fs, &o.handoverTO, "handover-timeout", "on SIGUSR2, stop accepting and keep open consoles this long before closing them with 1012 (0: 1h)")
	durationVar(fs, &o.cacheTTL, "token-cache-ttl", "how long a token found in Redis or a token API is reused without asking again (0: 2s; below 0: never); a deleted token opens consoles at most this long")
	durationVar(fs, &o.negativeTTL, "token-negative-ttl", "how long an unknown token is answered 403 without asking Redis or the token API again (0: 1s; below 0: never)")
	durationVar(fs, &o.revokeCheck, "revoke-check", "this often, ask the token store again about live consoles' tokens and close with 1008 those revoked or pointed elsewhere (0: never; see docs/FLEET.md)")
	o.limits.addFlags(fs)

	o.tls.flags(fs) // tls.go

	for _, nb := range notBuilt {
		if boolNotBuilt[nb.name] {
			fs.BoolP(nb.name, nb.short, false, "")
		} else {
			fs.StringP(nb.name, nb.short, "", "")
		}
		_ = fs.MarkHidden(nb.name)
	}

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, nb := range notBuilt {
		if fs.Changed(nb.name) {
			return nil, fmt.Errorf("--%s (%s) is a websockify option vncrelay does not support", nb.name, nb.what)
		}
	}
	switch {
	case o.authSource != "" && o.authPlugin == "":
		return nil, errors.New("--auth-source needs --auth-plugin")
	case o.webAuth && o.authPlugin == "":
		return nil, errors.New("--web-auth needs --auth-plugin")
	case o.webAuth && o.web == "":
		return nil, errors.New("--web-auth needs --web")
	case o.source != "" && o.plugin == "" && o.targetCfg == "":
		return nil, errors.New("--token-source needs --token-plugin")
	case o.legacySys && o.syslog == "":
		return nil, errors.New("--legacy-syslog needs --syslog")
	}
	if o.targetCfg != "" {
		// websockify turns --target-config into the TokenFile plugin.
		if o.plugin != "" || o.source != "" {
			return nil, errors.New("give --target-config or --token-plugin/--token-source, not both")
		}
		o.plugin, o.source = "TokenFile", o.targetCfg
	}
	if fs.ArgsLenAtDash() >= 0 {
		return nil, errors.New("wrapping a program (websockify's '-- COMMAND') is not supported")
	}
	return o, o.positionals(fs.Args())
}

// handover is how long SIGUSR2 keeps open consoles: --handover-timeout, 1 h
// when not set.
func (o *options) handover() time.Duration {
	if o.handoverTO <= 0 {
		return time.Hour
	}
	return o.handoverTO
}

// positionals reads "[source_addr:]source_port [target_addr:target_port]".
func (o *options) positionals(args []string) error {
	switch {
	case len(args) == 0 && o.demo:
		o.listen = "127.0.0.1:6080"
		return nil
	case len(args) == 0:
		return errors.New("missing [source_addr:]source_port (try --help, or --demo)")
	case len(args) > 2:
		return fmt.Errorf("too many arguments: %q", args[2:])
	}
	listen, err := sourceAddr(args[0])
	if err != nil {
		return err
	}
	o.listen = listen
	if len(args) == 2 {
		o.target = args[1]
	}
	modes := 0
	for _, set := range []bool{o.target != "", o.unixTarget != "", o.plugin != "", o.demo} {
		if set {
			modes++
		}
	}
	switch {
	case modes == 0:
		return errors.New("no target: give target_addr:target_port, --unix-target or --token-plugin")
	case modes > 1:
		return errors.New("give only one of target_addr:target_port, --unix-target, --token-plugin and --demo")
	case o.plugin != "" && o.source == "":
		return errors.New("--token-plugin needs --token-source")
	}
	return nil
}

// sourceAddr turns websockify's "[source_addr:]source_port" into host:port.
func sourceAddr(arg string) (string, error) {
	host, port := "", arg
	if i := strings.LastIndexByte(arg, ':'); i >= 0 {
		host, port = strings.Trim(arg[:i], "[]"), arg[i+1:]
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("bad source port in %q", arg)
	}
	return net.JoinHostPort(host, port), nil
}

func usage(fs *pflag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `Usage:
  vncrelay [options] [source_addr:]source_port [target_addr:target_port]
  vncrelay [options] --token-plugin TokenFile --token-source FILE_OR_DIR [source_addr:]source_port
  vncrelay --demo
  vncrelay nova novnc|serial|spicehtml5 --config-file nova.conf [Nova's options]
  (or run as nova-novncproxy, nova-serialproxy, nova-spicehtml5proxy)
  vncrelay --check-config ARGS...   validate ARGS as a start would, without
      listening; exit 0, or 1 with the reason (docs/OPERATIONS.md, Reload)

A WebSocket-to-TCP relay for browser consoles (noVNC), compatible with
websockify's command line. Options:
`)
	fmt.Fprint(w, fs.FlagUsages())
	fmt.Fprint(w, `
Not supported (refused at start, saying why): --inetd, --libserver and
wrapping a program (not planned); plugins of Python modules other than
websockify's own.

`+durationHelp)
}
