package nova

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// optKind is an oslo.config option type.
type optKind uint8

const (
	kindStr  optKind = iota // StrOpt: the text as written
	kindBool                // BoolOpt: true/false/yes/no/on/off/1/0, any case
	kindInt                 // IntOpt
	kindPort                // PortOpt: 0-65535
	kindList                // ListOpt: comma-separated, items trimmed
)

// optDef is one option vncrelay reads: where files spell it, how the command
// line spells it, its type and default, and the Config field it fills.
type optDef struct {
	group string // "DEFAULT" or a lower-case group
	name  string // the name in files (oslo's dest)
	// deprecated are other spellings in files, tried after group/name within
	// one file.
	deprecated []optName
	kind       optKind
	// defaultValue is the default as text, "" for None; defaults, when set,
	// override it per proxy.
	defaultValue string
	defaults     map[Proxy]string
	// cli are the command-line spellings without "--" ("" = file only); the
	// first is the main one. Boolean options also take --no<name>.
	cli   []string
	short string
	// cliFor limits the command-line spellings to one proxy, as each proxy
	// registers only its own section's options (nil: all proxies).
	cliFor *Proxy
	// secret options' values never appear in errors.
	secret bool
	bind   func(*Config) any // pointer to the field: *string, *bool, *int, *[]string
	help   string
}

func (o *optDef) names() []optName {
	return append([]optName{{o.group, o.name}}, o.deprecated...)
}

func (o *optDef) def(p Proxy) string {
	if v, ok := o.defaults[p]; ok {
		return v
	}
	return o.defaultValue
}

// display is how errors name the option.
func (o *optDef) display() string { return "[" + o.group + "] " + o.name }

// convert parses v as the option's type into dst.
func (o *optDef) convert(v string, dst any) error {
	bad := func(want string) error {
		if o.secret {
			return fmt.Errorf("value is not %s", want)
		}
		return fmt.Errorf("%q is not %s", v, want)
	}
	switch o.kind {
	case kindStr:
		*dst.(*string) = v
	case kindBool:
		b, ok := parseOsloBool(v)
		if !ok {
			return bad("a boolean (true/false, yes/no, on/off, 1/0)")
		}
		*dst.(*bool) = b
	case kindInt, kindPort:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return bad("an integer")
		}
		if o.kind == kindPort && (n < 0 || n > 65535) {
			return bad("a port (0-65535)")
		}
		*dst.(*int) = n
	case kindList:
		*dst.(*[]string) = parseOsloList(v)
	}
	return nil
}

// parseOsloBool is oslo's types.Boolean: the words compared without case,
// no surrounding spaces allowed.
func parseOsloBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "1", "on", "yes":
		return true, true
	case "false", "0", "off", "no":
		return false, true
	}
	return false, false
}

// parseOsloList is oslo's types.List of strings: trailing commas dropped,
// split at commas, items trimmed (empty items inside are kept).
func parseOsloList(v string) []string {
	s := strings.TrimRight(strings.TrimSpace(v), ",")
	if s == "" {
		return []string{}
	}
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// optionDefs lists the options of proxy p: nova/conf/novnc.py's (command
// line in every proxy), oslo.log's command-line options, [remote_debug], the
// proxy's own section on the command line, and the file-only options the
// proxies read.
func optionDefs(p Proxy) []*optDef {
	novnc, serial, spice := ProxyNoVNC, ProxySerial, ProxySpiceHTML5
	defs := []*optDef{
		// nova/conf/novnc.py, registered on the command line by baseproxy.
		{group: "DEFAULT", name: "record", cli: []string{"record"}, bind: func(c *Config) any { return &c.Default.Record },
			help: "Filename to record WebSocket frames into"},
		{group: "DEFAULT", name: "daemon", kind: kindBool, defaultValue: "false", cli: []string{"daemon"}, bind: func(c *Config) any { return &c.Default.Daemon },
			help: "Run as a background process"},
		{group: "DEFAULT", name: "ssl_only", kind: kindBool, defaultValue: "false", cli: []string{"ssl_only"}, bind: func(c *Config) any { return &c.Default.SSLOnly },
			help: "Disallow non-encrypted connections"},
		{group: "DEFAULT", name: "source_is_ipv6", kind: kindBool, defaultValue: "false", cli: []string{"source_is_ipv6"}, bind: func(c *Config) any { return &c.Default.SourceIsIPv6 },
			help: "Set to True if source host is addressed with IPv6"},
		{group: "DEFAULT", name: "cert", defaultValue: "self.pem", cli: []string{"cert"}, bind: func(c *Config) any { return &c.Default.Cert },
			help: "Path to SSL certificate file"},
		{group: "DEFAULT", name: "key", cli: []string{"key"}, bind: func(c *Config) any { return &c.Default.Key },
			help: "SSL key file (if separate from cert)"},
		{group: "DEFAULT", name: "web", defaultValue: "/usr/share/spice-html5",
			defaults: map[Proxy]string{novnc: "/usr/share/novnc", serial: ""},
			cli:      []string{"web"}, bind: func(c *Config) any { return &c.Default.Web },
			help: "Path to directory with content which will be served by a web server"},
		{group: "DEFAULT", name: "transport_url", defaultValue: "rabbit://", secret: true, bind: func(c *Config) any { return &c.Default.TransportURL }},

		// oslo.log's command-line options.
		{group: "DEFAULT", name: "debug", kind: kindBool, defaultValue: "false", cli: []string{"debug"}, short: "d", bind: func(c *Config) any { return &c.Log.Debug },
			help: "Set the logging level to DEBUG instead of INFO"},
		{group: "DEFAULT", name: "log_config_append", deprecated: []optName{{"DEFAULT", "log-config"}, {"DEFAULT", "log_config"}},
			cli: []string{"log-config-append", "log-config", "log_config"}, bind: func(c *Config) any { return &c.Log.LogConfigAppend },
			help: "A Python logging configuration file"},
		{group: "DEFAULT", name: "log_date_format", defaultValue: "%Y-%m-%d %H:%M:%S", cli: []string{"log-date-format"}, bind: func(c *Config) any { return &c.Log.LogDateFormat },
			help: "Format of dates in log lines"},
		{group: "DEFAULT", name: "log_file", deprecated: []optName{{"DEFAULT", "logfile"}}, cli: []string{"log-file", "logfile"}, bind: func(c *Config) any { return &c.Log.LogFile },
			help: "Log file (default: standard error)"},
		{group: "DEFAULT", name: "log_dir", deprecated: []optName{{"DEFAULT", "logdir"}}, cli: []string{"log-dir", "logdir"}, bind: func(c *Config) any { return &c.Log.LogDir },
			help: "Base directory of a relative log file"},
		{group: "DEFAULT", name: "watch_log_file", kind: kindBool, defaultValue: "false", cli: []string{"watch-log-file"}, bind: func(c *Config) any { return &c.Log.WatchLogFile },
			help: "Reopen the log file when it is moved or removed"},
		{group: "DEFAULT", name: "use_syslog", kind: kindBool, defaultValue: "false", cli: []string{"use-syslog"}, bind: func(c *Config) any { return &c.Log.UseSyslog },
			help: "Log to syslog"},
		{group: "DEFAULT", name: "use_journal", kind: kindBool, defaultValue: "false", cli: []string{"use-journal"}, bind: func(c *Config) any { return &c.Log.UseJournal },
			help: "Log to the systemd journal"},
		{group: "DEFAULT", name: "syslog_log_facility", defaultValue: "LOG_USER", cli: []string{"syslog-log-facility"}, bind: func(c *Config) any { return &c.Log.SyslogLogFacility },
			help: "Syslog facility"},
		{group: "DEFAULT", name: "use_json", kind: kindBool, defaultValue: "false", cli: []string{"use-json"}, bind: func(c *Config) any { return &c.Log.UseJSON },
			help: "Log in JSON"},
		{group: "DEFAULT", name: "use_stderr", kind: kindBool, defaultValue: "false", bind: func(c *Config) any { return &c.Log.UseStderr }},

		// [remote_debug], on the command line of every proxy.
		{group: "remote_debug", name: "host", cli: []string{"remote_debug-host"}, bind: func(c *Config) any { return &c.RemoteDebugHost },
			help: "Debugger host (not supported)"},
		{group: "remote_debug", name: "port", kind: kindPort, defaultValue: "0", cli: []string{"remote_debug-port"}, bind: func(c *Config) any { return &c.RemoteDebugPort },
			help: "Debugger port (not supported)"},

		// [vnc] (nova/conf/vnc.py); command line only for the novnc proxy.
		{group: "vnc", name: "novncproxy_host", deprecated: []optName{{"DEFAULT", "novncproxy_host"}}, defaultValue: "0.0.0.0",
			cli: []string{"vnc-novncproxy_host"}, cliFor: &novnc, bind: func(c *Config) any { return &c.VNC.NoVNCProxyHost },
			help: "IP address that the noVNC console proxy should bind to"},
		{group: "vnc", name: "novncproxy_port", deprecated: []optName{{"DEFAULT", "novncproxy_port"}}, kind: kindPort, defaultValue: "6080",
			cli: []string{"vnc-novncproxy_port"}, cliFor: &novnc, bind: func(c *Config) any { return &c.VNC.NoVNCProxyPort },
			help: "Port that the noVNC console proxy should bind to"},
		{group: "vnc", name: "auth_schemes", kind: kindList, defaultValue: "none",
			cli: []string{"vnc-auth_schemes"}, cliFor: &novnc, bind: func(c *Config) any { return &c.VNC.AuthSchemes },
			help: "RFB authentication schemes towards the compute node, preferred first (none, vencrypt)"},
		{group: "vnc", name: "vencrypt_client_key", cli: []string{"vnc-vencrypt_client_key"}, cliFor: &novnc, bind: func(c *Config) any { return &c.VNC.VeNCryptClientKey },
			help: "VeNCrypt client key file"},
		{group: "vnc", name: "vencrypt_client_cert", cli: []string{"vnc-vencrypt_client_cert"}, cliFor: &novnc, bind: func(c *Config) any { return &c.VNC.VeNCryptClientCert },
			help: "VeNCrypt client certificate file"},
		{group: "vnc", name: "vencrypt_ca_certs", cli: []string{"vnc-vencrypt_ca_certs"}, cliFor: &novnc, bind: func(c *Config) any { return &c.VNC.VeNCryptCACerts },
			help: "VeNCrypt CA certificates file"},

		// [serial_console] (nova/conf/serial_console.py).
		{group: "serial_console", name: "serialproxy_host", defaultValue: "0.0.0.0",
			cli: []string{"serial_console-serialproxy_host"}, cliFor: &serial, bind: func(c *Config) any { return &c.SerialConsole.SerialProxyHost },
			help: "Host on which to listen for incoming requests"},
		{group: "serial_console", name: "serialproxy_port", kind: kindPort, defaultValue: "6083",
			cli: []string{"serial_console-serialproxy_port"}, cliFor: &serial, bind: func(c *Config) any { return &c.SerialConsole.SerialProxyPort },
			help: "Port on which to listen for incoming requests"},

		// [spice] (nova/conf/spice.py).
		{group: "spice", name: "html5proxy_host", defaultValue: "0.0.0.0",
			cli: []string{"spice-html5proxy_host"}, cliFor: &spice, bind: func(c *Config) any { return &c.Spice.HTML5ProxyHost },
			help: "Host on which to listen for incoming requests"},
		{group: "spice", name: "html5proxy_port", kind: kindPort, defaultValue: "6082",
			cli: []string{"spice-html5proxy_port"}, cliFor: &spice, bind: func(c *Config) any { return &c.Spice.HTML5ProxyPort },
			help: "Port on which to listen for incoming requests"},
		{group: "spice", name: "html5proxy_base_url", defaultValue: "http://127.0.0.1:6082/spice_auto.html", bind: func(c *Config) any { return &c.Spice.HTML5ProxyBaseURL }},

		// [console] (nova/conf/console.py).
		{group: "console", name: "allowed_origins", kind: kindList, deprecated: []optName{{"DEFAULT", "console_allowed_origins"}},
			bind: func(c *Config) any { return &c.Console.AllowedOrigins }},
		{group: "console", name: "ssl_ciphers", bind: func(c *Config) any { return &c.Console.SSLCiphers }},
		{group: "console", name: "ssl_minimum_version", defaultValue: "default", bind: func(c *Config) any { return &c.Console.SSLMinimumVersion }},

		// [consoleauth] (nova/conf/consoleauth.py).
		{group: "consoleauth", name: "token_ttl", kind: kindInt, defaultValue: "600", deprecated: []optName{{"DEFAULT", "console_token_ttl"}},
			bind: func(c *Config) any { return &c.ConsoleAuth.TokenTTL }},
		{group: "consoleauth", name: "enforce_session_timeout", kind: kindBool, defaultValue: "false",
			bind: func(c *Config) any { return &c.ConsoleAuth.EnforceSessionTimeout }},

		// [database] (oslo_db/options.py).
		{group: "database", name: "connection", secret: true,
			deprecated: []optName{{"DEFAULT", "sql_connection"}, {"database", "sql_connection"}, {"sql", "connection"}},
			bind:       func(c *Config) any { return &c.Database.Connection }},
		{group: "database", name: "connection_parameters", secret: true, bind: func(c *Config) any { return &c.Database.ConnectionParameters }},
		{group: "database", name: "connection_recycle_time", kind: kindInt, defaultValue: "3600",
			bind: func(c *Config) any { return &c.Database.ConnectionRecycleTime }},

		// [upgrade_levels] (nova/conf/upgrade_levels.py).
		{group: "upgrade_levels", name: "compute", bind: func(c *Config) any { return &c.UpgradeLevelsCompute }},
	}
	for _, o := range defs {
		if o.cliFor != nil && *o.cliFor != p {
			o.cli = nil
		}
	}
	return defs
}

// cliEventKind says what one command-line option did.
type cliEventKind uint8

const (
	cliOption     cliEventKind = iota // an option's value
	cliConfigFile                     // --config-file PATH
	cliConfigDir                      // --config-dir DIR
)

// cliEvent is one command-line option in the order given.
type cliEvent struct {
	kind cliEventKind
	opt  *optDef
	val  string
}

// cliRecorder collects the command line's options in order: pflag calls
// Set in argument order, which is what oslo's precedence needs.
type cliRecorder struct{ events []cliEvent }

// flagValue is a pflag.Value that records each use.
type flagValue struct {
	rec     *cliRecorder
	kind    cliEventKind
	opt     *optDef
	inverse bool // --no<name>
	version *bool
}

func (v *flagValue) String() string { return "" }

func (v *flagValue) Type() string {
	switch {
	case v.opt != nil && v.opt.kind == kindBool, v.version != nil:
		return "bool"
	case v.kind != cliOption:
		return "path"
	}
	return "string"
}

// IsBoolFlag lets pflag take boolean options without a value.
func (v *flagValue) IsBoolFlag() bool { return v.Type() == "bool" }

func (v *flagValue) Set(s string) error {
	if v.version != nil {
		*v.version = true
		return nil
	}
	if v.Type() == "bool" {
		// argparse's store_true/store_false take no value.
		if s != "true" {
			return errors.New("takes no value")
		}
		s = strconv.FormatBool(!v.inverse)
	} else if v.opt != nil {
		if err := v.opt.convert(s, v.opt.bind(&Config{})); err != nil {
			return err
		}
	}
	v.rec.events = append(v.rec.events, cliEvent{kind: v.kind, opt: v.opt, val: s})
	return nil
}

// newFlagSet builds the command line of proxy p as oslo registers it.
func newFlagSet(p Proxy, defs []*optDef, c *Config) (*pflag.FlagSet, *cliRecorder) {
	rec := &cliRecorder{}
	fs := pflag.NewFlagSet(p.Program(), pflag.ContinueOnError)
	fs.SortFlags = true
	fs.Usage = func() {}
	fs.SetOutput(discard{})
	fs.VarPF(&flagValue{rec: rec, kind: cliConfigFile}, "config-file", "",
		"Path to a config file to use; later files take precedence (default: nova.conf and "+p.Program()+".conf in ~/.nova, ~, /etc/nova, /etc)")
	fs.VarPF(&flagValue{rec: rec, kind: cliConfigDir}, "config-dir", "",
		"Path to a directory whose *.conf files are read in name order at this point")
	fs.VarPF(&flagValue{version: &c.ShowVersion}, "version", "", "Show the version and exit").NoOptDefVal = "true"
	for _, o := range defs {
		for i, name := range o.cli {
			short := ""
			if i == 0 {
				short = o.short
			}
			f := fs.VarPF(&flagValue{rec: rec, opt: o}, name, short, o.help)
			if o.kind == kindBool {
				f.NoOptDefVal = "true"
				inv := fs.VarPF(&flagValue{rec: rec, opt: o, inverse: true}, "no"+name, "", "The inverse of --"+name)
				inv.NoOptDefVal = "true"
			}
		}
	}
	return fs, rec
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Usage returns the command-line help of proxy p.
func Usage(p Proxy) string {
	fs, _ := newFlagSet(p, optionDefs(p), &Config{})
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s [options]\n\noptions:\n", p.Program())
	var lines []string
	fs.VisitAll(func(f *pflag.Flag) {
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		if f.Value.Type() != "bool" {
			name += " " + strings.ToUpper(f.Value.Type())
		}
		lines = append(lines, fmt.Sprintf("  %-36s %s\n", name, f.Usage))
	})
	sort.Strings(lines)
	for _, l := range lines {
		b.WriteString(l)
	}
	return b.String()
}
