package nova

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Proxy names one of Nova's three console proxies. It decides the defaults
// and command-line options Load accepts, the console type of the tokens the
// proxy takes and the address it listens on.
type Proxy uint8

// Nova's console proxies.
const (
	// ProxyNoVNC is nova-novncproxy: noVNC consoles, [vnc] options.
	ProxyNoVNC Proxy = iota
	// ProxySerial is nova-serialproxy: serial consoles, [serial_console].
	ProxySerial
	// ProxySpiceHTML5 is nova-spicehtml5proxy: SPICE HTML5 consoles, [spice].
	ProxySpiceHTML5
)

// Program returns the proxy's program name, which oslo.config uses to look
// for <program>.conf and <program>.conf.d beside nova.conf.
func (p Proxy) Program() string {
	switch p {
	case ProxyNoVNC:
		return "nova-novncproxy"
	case ProxySerial:
		return "nova-serialproxy"
	case ProxySpiceHTML5:
		return "nova-spicehtml5proxy"
	}
	return "nova-proxy(" + strconv.Itoa(int(p)) + ")"
}

// String returns the program name.
func (p Proxy) String() string { return p.Program() }

// ConsoleType returns the console_type of the tokens this proxy serves, as
// Nova's compute API writes it into console_auth_tokens.
func (p Proxy) ConsoleType() ConsoleType {
	switch p {
	case ProxyNoVNC:
		return ConsoleNoVNC
	case ProxySerial:
		return ConsoleSerial
	case ProxySpiceHTML5:
		return ConsoleSpiceHTML5
	}
	return ""
}

// ProxyFromProgram maps a program name (argv[0]'s base name, such as
// "nova-novncproxy") to its Proxy.
func ProxyFromProgram(name string) (Proxy, bool) {
	for _, p := range []Proxy{ProxyNoVNC, ProxySerial, ProxySpiceHTML5} {
		if p.Program() == name {
			return p, true
		}
	}
	return 0, false
}

// ConsoleType is the console_type column of console_auth_tokens.
type ConsoleType string

// Console types of the tokens Nova's proxies serve (nova/compute/api.py
// get_*_console; the compute manager's validate_console_port switches on the
// same strings).
const (
	ConsoleNoVNC      ConsoleType = "novnc"
	ConsoleSerial     ConsoleType = "serial"
	ConsoleSpiceHTML5 ConsoleType = "spice-html5"
)

// Config holds the nova.conf options and command-line options of Nova's
// console proxies that vncrelay reads, with Nova 26's defaults (nova/conf/
// novnc.py, vnc.py, serial_console.py, spice.py, console.py, consoleauth.py,
// oslo.log, oslo.db, oslo.messaging). Sections are nested as in nova.conf.
// Load fills it; the zero Config is not meaningful.
type Config struct {
	// Proxy is the proxy the options were loaded for.
	Proxy Proxy

	Default       DefaultOptions
	Log           LogOptions
	VNC           VNCOptions
	SerialConsole SerialConsoleOptions
	Spice         SpiceOptions
	Console       ConsoleOptions
	ConsoleAuth   ConsoleAuthOptions
	Database      DatabaseOptions
	// UpgradeLevelsCompute is [upgrade_levels] compute: the RPC version cap
	// for compute calls ("" = none; Nova also takes a release name or "auto").
	UpgradeLevelsCompute string
	// RemoteDebugHost and RemoteDebugPort are [remote_debug] host and port
	// (--remote_debug-host, --remote_debug-port); Load refuses them set.
	RemoteDebugHost string
	RemoteDebugPort int

	// ConfigFiles are the files read, in the order read.
	ConfigFiles []string
	// ShowVersion is set by --version: the caller prints its version and exits.
	ShowVersion bool

	sources []source
	lookup  map[optName]*optDef
}

// DefaultOptions are the [DEFAULT] options of the proxies (nova/conf/novnc.py,
// all also command-line options) and oslo.messaging's transport_url.
type DefaultOptions struct {
	// Web is the directory of static pages served (noVNC, spice-html5):
	// "/usr/share/novnc" for the novnc proxy, "/usr/share/spice-html5" for
	// the spice proxy, "" (none) for the serial proxy.
	Web string
	// Record is a file to record WebSocket frames into; "" records nothing.
	// Not supported: Load refuses it set.
	Record string
	// Daemon makes the proxy run in the background (websockify's -D).
	Daemon bool
	// SSLOnly refuses plain connections; Cert must exist.
	SSLOnly bool
	// SourceIsIPv6 prefers IPv6 when resolving the listen host.
	SourceIsIPv6 bool
	// Cert is the TLS certificate file, "self.pem" (in the working
	// directory) by default; the proxy serves TLS beside plain HTTP when it
	// exists, as Nova does (TLSServe).
	Cert string
	// Key is the TLS key file when not in Cert; "" by default.
	Key string
	// TransportURL is oslo.messaging's broker URL, "rabbit://" by default.
	TransportURL string
}

// LogOptions are oslo.log's options that Nova's proxies take on the command
// line (Debian's init script passes --log-file). vncrelay's main decides
// which it honours.
type LogOptions struct {
	Debug             bool   // --debug, -d
	LogConfigAppend   string // a Python logging config file
	LogDateFormat     string // "%Y-%m-%d %H:%M:%S" by default
	LogFile           string // "" logs to stderr
	LogDir            string // base of a relative LogFile
	WatchLogFile      bool
	UseSyslog         bool
	UseJournal        bool
	SyslogLogFacility string // "LOG_USER" by default
	UseJSON           bool
	UseStderr         bool // file only; false by default
}

// VNCOptions are the [vnc] options of nova-novncproxy.
type VNCOptions struct {
	// NoVNCProxyHost and NoVNCProxyPort are where the novnc proxy listens:
	// 0.0.0.0 and 6080 by default ([DEFAULT] spellings are deprecated).
	NoVNCProxyHost string
	NoVNCProxyPort int
	// AuthSchemes are the RFB security schemes towards the compute node,
	// ["none"] by default; each is "none" or "vencrypt", the first the
	// relay's preference (ConsoleSecurity).
	AuthSchemes []string
	// VeNCrypt client certificate, key and CA files ("" by default); see
	// VeNCryptTLS.
	VeNCryptClientKey  string
	VeNCryptClientCert string
	VeNCryptCACerts    string
}

// SerialConsoleOptions are the [serial_console] options of nova-serialproxy.
type SerialConsoleOptions struct {
	SerialProxyHost string // "0.0.0.0" by default
	SerialProxyPort int    // 6083 by default
}

// SpiceOptions are the [spice] options of nova-spicehtml5proxy.
type SpiceOptions struct {
	HTML5ProxyHost    string // "0.0.0.0" by default
	HTML5ProxyPort    int    // 6082 by default
	HTML5ProxyBaseURL string // "http://127.0.0.1:6082/spice_auto.html" by default
}

// ConsoleOptions are the [console] options.
type ConsoleOptions struct {
	// AllowedOrigins are host names allowed in Origin besides the request's
	// Host; none by default ([DEFAULT] console_allowed_origins is the
	// deprecated spelling).
	AllowedOrigins []string
	// SSLCiphers is an OpenSSL cipher list for TLS; "" means the defaults.
	SSLCiphers string
	// SSLMinimumVersion is "default", "tlsv1_1", "tlsv1_2" or "tlsv1_3".
	SSLMinimumVersion string
}

// ConsoleAuthOptions are the [consoleauth] options.
type ConsoleAuthOptions struct {
	// TokenTTL is the lifetime of tokens in seconds (600 by default); the
	// API sets it, the proxy only reads the tokens' expiry.
	TokenTTL int
	// EnforceSessionTimeout closes a console when its token expires (newer
	// Nova; false by default).
	EnforceSessionTimeout bool
}

// DatabaseOptions are oslo.db's [database] options that vncrelay uses.
type DatabaseOptions struct {
	// Connection is the SQLAlchemy URL of the cell database holding
	// console_auth_tokens; "" by default. See ParseDatabaseURL.
	Connection string
	// ConnectionParameters are extra URL query parameters
	// ("a=1&b=2") appended to Connection.
	ConnectionParameters string
	// ConnectionRecycleTime is the longest a pooled connection lives, in
	// seconds (3600 by default).
	ConnectionRecycleTime int
}

// ListenAddress returns host:port the proxy listens on, from the options of
// its own section.
func (c *Config) ListenAddress() string {
	switch c.Proxy {
	case ProxySerial:
		return net.JoinHostPort(c.SerialConsole.SerialProxyHost, strconv.Itoa(c.SerialConsole.SerialProxyPort))
	case ProxySpiceHTML5:
		return net.JoinHostPort(c.Spice.HTML5ProxyHost, strconv.Itoa(c.Spice.HTML5ProxyPort))
	}
	return net.JoinHostPort(c.VNC.NoVNCProxyHost, strconv.Itoa(c.VNC.NoVNCProxyPort))
}

// Lookup returns the value an option that Config has no field for takes from
// the files, with oslo's precedence and substitution ("" group means
// DEFAULT): for other components' settings such as [oslo_messaging_rabbit].
// ok is false when no file sets it; the caller applies its default.
func (c *Config) Lookup(group, name string) (value string, ok bool, err error) {
	if group == "" {
		group = "DEFAULT"
	}
	return c.fileValue(optName{normalizeGroup(group), name}, 0)
}

// fileValue is the value of (group, name) from the last file setting it, or,
// for an option Config models, its resolved value.
func (c *Config) fileValue(n optName, depth int) (string, bool, error) {
	if o := c.lookup[n]; o != nil {
		raw, _, err := c.raw(o, depth)
		return raw, true, err
	}
	for i := len(c.sources) - 1; i >= 0; i-- {
		if f := c.sources[i].file; f != nil {
			if v, ok := f.sections[n.group][n.name]; ok {
				v, err := substitute(v, n.group, depth, c.fileValue3)
				return v, true, err
			}
		}
	}
	if n.group == "DEFAULT" {
		switch n.name {
		case "pybasedir":
			return "/usr/lib/python3/dist-packages", true, nil
		case "state_path":
			v, err := substitute("$pybasedir", "DEFAULT", depth, c.fileValue3)
			return v, true, err
		case "host":
			h, err := os.Hostname()
			return h, err == nil, err
		}
	}
	return "", false, nil
}

func (c *Config) fileValue3(group, name string, depth int) (string, bool, error) {
	return c.fileValue(optName{group, name}, depth)
}

// raw returns an option's value as text after substitution: from the last
// source setting it, else its default. set reports whether a source set it.
func (c *Config) raw(o *optDef, depth int) (v string, set bool, err error) {
	v = o.def(c.Proxy)
	for i := len(c.sources) - 1; i >= 0; i-- {
		s := c.sources[i]
		if s.file != nil {
			if fv, ok := s.file.lookup(o.names()); ok {
				v, set = fv, true
				break
			}
		} else if s.opt == o {
			v, set = s.val, true
			break
		}
	}
	v, err = substitute(v, o.group, depth, c.fileValue3)
	return v, set, err
}

// ErrUnsupported is wrapped by Load's errors for options vncrelay reads but
// does not implement (yet); the message names the option.
var ErrUnsupported = errors.New("not supported yet")

// LoadOptions says what Load reads.
type LoadOptions struct {
	// Proxy selects the proxy's defaults and command-line options.
	Proxy Proxy
	// Args are the command-line arguments without the program name, as
	// Nova's proxies take them.
	Args []string
	// SearchDirs are where nova.conf and <program>.conf (and the .conf.d
	// directories) are looked for when Args name no --config-file (no
	// --config-dir): nil means oslo's ~/.nova, ~, /etc/nova, /etc; empty
	// means nowhere.
	SearchDirs []string
}

// Load reads the options of a Nova console proxy as Nova 26 does with
// oslo.config: default files when no --config-file is given, then the
// command line left to right (each --config-file and --config-dir read at its
// place, later values win, command-line options beside them), with Nova's
// defaults for what nothing sets. It refuses options that vncrelay reads but
// does not implement (ErrUnsupported): TLS (ssl_only, key, or an existing
// cert file, since Nova then serves TLS), record, daemon, [remote_debug].
// -h or --help returns pflag.ErrHelp (Usage gives the text). Errors name the file or option; they never quote values of
// secret options.
func Load(opts LoadOptions) (*Config, error) {
	c, err := parse(opts)
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Proxy, err)
	}
	return c, nil
}

// parse is Load without the checks for unsupported options.
func parse(opts LoadOptions) (*Config, error) {
	c := &Config{Proxy: opts.Proxy, lookup: map[optName]*optDef{}}
	defs := optionDefs(opts.Proxy)
	for _, o := range defs {
		for _, n := range o.names() {
			c.lookup[n] = o
		}
	}
	fs, cli := newFlagSet(opts.Proxy, defs, c)
	if err := fs.Parse(opts.Args); err != nil {
		return nil, fmt.Errorf("%s: command line: %w", opts.Proxy, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: command line: unrecognized arguments: %s", opts.Proxy, strings.Join(fs.Args(), " "))
	}
	search := opts.SearchDirs
	if search == nil {
		search = defaultSearchDirs()
	}
	if err := c.readSources(opts.Proxy, search, cli.events); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Proxy, err)
	}
	for _, o := range defs {
		if o.bind == nil {
			continue
		}
		v, _, err := c.raw(o, 0)
		if err == nil {
			err = o.convert(v, o.bind(c))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: option %s: %w", opts.Proxy, o.display(), err)
		}
	}
	return c, nil
}

// readSources builds the ordered source list: oslo reads the default files
// (unless a --config-file is given) and directories (unless a --config-dir
// is given) first, then the command line in order.
func (c *Config) readSources(p Proxy, search []string, events []cliEvent) error {
	var haveFile, haveDir bool
	for _, e := range events {
		haveFile = haveFile || e.kind == cliConfigFile
		haveDir = haveDir || e.kind == cliConfigDir
	}
	add := func(f *confFile) {
		c.sources = append(c.sources, source{file: f})
		c.ConfigFiles = append(c.ConfigFiles, f.path)
	}
	if !haveFile {
		for _, base := range []string{"nova.conf", p.Program() + ".conf"} {
			if path := firstExisting(search, base); path != "" {
				f, err := readConfFile(path)
				if err != nil {
					return err
				}
				add(f)
			}
		}
	}
	if !haveDir {
		for _, base := range []string{"nova.conf.d", p.Program() + ".conf.d"} {
			if path := firstExisting(search, base); path != "" {
				files, err := readConfDir(path)
				if err != nil {
					return err
				}
				for _, f := range files {
					add(f)
				}
			}
		}
	}
	for _, e := range events {
		switch e.kind {
		case cliConfigFile:
			f, err := readConfFile(e.val)
			if err != nil {
				return err
			}
			add(f)
		case cliConfigDir:
			files, err := readConfDir(e.val)
			if err != nil {
				return err
			}
			for _, f := range files {
				add(f)
			}
		case cliOption:
			c.sources = append(c.sources, source{opt: e.opt, val: e.val})
		}
	}
	return nil
}

// firstExisting returns the first dir/base that exists, as oslo's
// _search_dirs.
func firstExisting(dirs []string, base string) string {
	for _, d := range dirs {
		p := d + "/" + base
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// validate refuses what vncrelay reads but does not implement, and values
// oslo would refuse (choices, ranges).
func (c *Config) validate() error {
	d := &c.Default
	switch {
	case d.SSLOnly && !fileExists(d.Cert):
		// Nova's own words for it: baseproxy refuses to start.
		return fmt.Errorf("[DEFAULT] ssl_only: SSL only and %s not found", d.Cert)
	case c.RemoteDebugHost != "" || c.RemoteDebugPort != 0:
		return fmt.Errorf("[remote_debug]: the Python debugger is %w", ErrUnsupported)
	}
	if !slices.Contains([]string{"default", "tlsv1_1", "tlsv1_2", "tlsv1_3"}, c.Console.SSLMinimumVersion) {
		return fmt.Errorf("[console] ssl_minimum_version: %q is not one of default, tlsv1_1, tlsv1_2, tlsv1_3", c.Console.SSLMinimumVersion)
	}
	for _, s := range c.VNC.AuthSchemes {
		if s != "none" && s != "vencrypt" {
			return fmt.Errorf("[vnc] auth_schemes: %q is not one of none, vencrypt", s)
		}
	}
	if c.Proxy == ProxyNoVNC && len(c.VNC.AuthSchemes) == 0 {
		return errors.New("[vnc] auth_schemes: no scheme given (want none, vencrypt or both)")
	}
	if c.ConsoleAuth.TokenTTL < 0 {
		return errors.New("[consoleauth] token_ttl: must be 0 or more")
	}
	return nil
}

// TLSServe reports whether the proxy serves TLS: [DEFAULT] cert names a
// file that exists, which is how Nova (websockify) decides.
func (c *Config) TLSServe() bool { return c.Default.Cert != "" && fileExists(c.Default.Cert) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
