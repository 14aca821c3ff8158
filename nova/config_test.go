package nova

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestLoadDeploymentConfig(t *testing.T) {
	c, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--config-file", "testdata/nova.conf"}, SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen address", c.ListenAddress(), "10.0.0.11:6080"},
		{"web default of the novnc proxy", c.Default.Web, "/usr/share/novnc"},
		{"auth_schemes", c.VNC.AuthSchemes, []string{"none"}},
		{"allowed_origins", c.Console.AllowedOrigins, []string{"cloud.example.org", "horizon.example.org"}},
		{"ssl_minimum_version", c.Console.SSLMinimumVersion, "tlsv1_2"},
		{"token_ttl", c.ConsoleAuth.TokenTTL, 900},
		{"enforce_session_timeout default", c.ConsoleAuth.EnforceSessionTimeout, false},
		{"database connection", c.Database.Connection, "mysql+pymysql://nova:Nova_db%40pw3@10.0.0.10:3306/nova"},
		{"connection_recycle_time", c.Database.ConnectionRecycleTime, 10},
		{"upgrade_levels compute", c.UpgradeLevelsCompute, "auto"},
		{"log_dir", c.Log.LogDir, "/var/log/kolla/nova"},
		{"files read", c.ConfigFiles, []string{"testdata/nova.conf"}},
		{"cert default", c.Default.Cert, "self.pem"},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if v, ok, err := c.Lookup("oslo_messaging_rabbit", "rabbit_quorum_queue"); err != nil || !ok || v != "true" {
		t.Errorf("Lookup rabbit_quorum_queue = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := c.Lookup("oslo_messaging_rabbit", "ssl"); ok {
		t.Error("Lookup of an option no file sets reported it set")
	}
	for _, p := range []struct {
		proxy Proxy
		addr  string
	}{{ProxySerial, "10.0.0.11:6083"}, {ProxySpiceHTML5, "10.0.0.11:6082"}} {
		c, err := Load(LoadOptions{Proxy: p.proxy, Args: []string{"--config-file", "testdata/nova.conf"}, SearchDirs: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if c.ListenAddress() != p.addr {
			t.Errorf("%s listens on %s, want %s", p.proxy, c.ListenAddress(), p.addr)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	tests := []struct {
		proxy     Proxy
		web, addr string
	}{
		{ProxyNoVNC, "/usr/share/novnc", "0.0.0.0:6080"},
		{ProxySerial, "", "0.0.0.0:6083"},
		{ProxySpiceHTML5, "/usr/share/spice-html5", "0.0.0.0:6082"},
	}
	for _, tt := range tests {
		t.Run(tt.proxy.String(), func(t *testing.T) {
			t.Chdir(t.TempDir()) // no self.pem here
			c, err := Load(LoadOptions{Proxy: tt.proxy, SearchDirs: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			if c.Default.Web != tt.web || c.ListenAddress() != tt.addr {
				t.Errorf("web %q addr %q, want %q %q", c.Default.Web, c.ListenAddress(), tt.web, tt.addr)
			}
			if c.Default.TransportURL != "rabbit://" || c.ConsoleAuth.TokenTTL != 600 || c.Console.SSLMinimumVersion != "default" ||
				len(c.Console.AllowedOrigins) != 0 || c.Log.SyslogLogFacility != "LOG_USER" || len(c.ConfigFiles) != 0 {
				t.Errorf("defaults wrong: %+v", c)
			}
		})
	}
}

// writeTree writes files (name → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// configCases are command lines and files that Load and Nova itself must
// read the same. "{d}" in args is the directory holding the files.
var configCases = []struct {
	name  string
	proxy Proxy
	files map[string]string
	args  []string
}{
	{"deployment file", ProxyNoVNC, nil, []string{"--config-file", "testdata/nova.conf"}},
	{"deployment file, serial proxy", ProxySerial, nil, []string{"--config-file", "testdata/nova.conf"}},
	{"deployment file, spice proxy", ProxySpiceHTML5, nil, []string{"--config-file", "testdata/nova.conf"}},
	{"Debian's packaged /etc/nova/nova.conf (nova-common)", ProxyNoVNC, nil, []string{"--config-file", "/etc/nova/nova.conf"}},
	{"later file wins", ProxyNoVNC, map[string]string{
		"a.conf": "[vnc]\nnovncproxy_port = 6001\nnovncproxy_host = ::\n[DEFAULT]\nweb = /a\n",
		"b.conf": "[vnc]\nnovncproxy_port = 6002\n",
	}, []string{"--config-file", "{d}/a.conf", "--config-file", "{d}/b.conf"}},
	{"config dir in name order, then a later file", ProxyNoVNC, map[string]string{
		"d/20-b.conf":  "[vnc]\nnovncproxy_port = 6020\n[consoleauth]\ntoken_ttl = 20\n",
		"d/10-a.conf":  "[vnc]\nnovncproxy_port = 6010\n[console]\nssl_ciphers = HIGH\n",
		"d/30-c.txt":   "[vnc]\nnovncproxy_port = 6030\n",
		"d/05-z.conf":  "[consoleauth]\ntoken_ttl = 5\n",
		"after.conf":   "[consoleauth]\ntoken_ttl = 99\n",
		"before.conf":  "[vnc]\nnovncproxy_port = 6000\n[console]\nssl_ciphers = LOW\n",
		"d/sub/x.conf": "[vnc]\nnovncproxy_port = 7000\n",
	}, []string{"--config-file", "{d}/before.conf", "--config-dir", "{d}/d", "--config-file", "{d}/after.conf"}},
	{"file after a dir", ProxyNoVNC, map[string]string{
		"d/a.conf": "[vnc]\nnovncproxy_port = 6010\n",
		"f.conf":   "[vnc]\nnovncproxy_port = 6011\n",
	}, []string{"--config-dir", "{d}/d", "--config-file", "{d}/f.conf"}},
	{"command line beats an earlier file", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nweb = /file\nsource_is_ipv6 = true\n[vnc]\nnovncproxy_port = 6001\n",
	}, []string{"--config-file", "{d}/a.conf", "--web", "/cli", "--nosource_is_ipv6", "--vnc-novncproxy_port=6100"}},
	{"a later file beats the command line", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nweb = /file\nsource_is_ipv6 = false\n",
	}, []string{"--web", "/cli", "--source_is_ipv6", "--config-file", "{d}/a.conf"}},
	{"--nofoo and --foo, last wins", ProxyNoVNC, nil, []string{"--source_is_ipv6", "--nosource_is_ipv6", "--debug", "--nodebug", "-d", "--use-syslog"}},
	{"log options as Debian's init script passes them", ProxyNoVNC, nil, []string{"--log-file=/var/log/nova/nova-novncproxy.log", "--use-journal", "--logdir", "/var/log/nova", "--log-config", "/etc/nova/logging.conf"}},
	{"booleans as oslo spells them", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nsource_is_ipv6 = YES\ndebug = On\nuse_json = 1\nwatch_log_file = tRuE\n[consoleauth]\nenforce_session_timeout = off\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"deprecated spellings", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nnovncproxy_host = 10.1.1.1\nnovncproxy_port = 6090\nconsole_allowed_origins = x.example\nconsole_token_ttl = 30\nsql_connection = mysql://a@b/c\nlogfile = /tmp/old.log\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"current name beats deprecated in one file, later file's deprecated beats earlier current", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nnovncproxy_port = 6091\n[vnc]\nnovncproxy_port = 6092\n[database]\nconnection = mysql://new@h/n\n[DATABASE]\nsql_connection = mysql://old@h/n\n",
		"b.conf": "[DEFAULT]\nconsole_token_ttl = 31\n",
		"c.conf": "[consoleauth]\ntoken_ttl = 32\n[sql]\nconnection = mysql://sql@h/n\n",
	}, []string{"--config-file", "{d}/a.conf", "--config-file", "{d}/c.conf", "--config-file", "{d}/b.conf"}},
	{"lists", ProxyNoVNC, map[string]string{
		"a.conf": "[console]\nallowed_origins = a.example, b.example,,c.example,\n[vnc]\nauth_schemes = none,\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"empty list", ProxyNoVNC, map[string]string{
		"a.conf": "[console]\nallowed_origins = ,\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"oslo's ini syntax", ProxyNoVNC, map[string]string{
		"a.conf": "# comment\n; other comment\n[DEFAULT]\nweb = /usr/share/novnc # not a comment\nlog_date_format: %H:%M\n" +
			"transport_url = \"rabbit://u:p@h//\"\nlog_dir = 'quoted'\nlog_file = 'a'b'\n" +
			"syslog_log_facility = first\n  second\n\tthird\n\n[vnc]\nnovncproxy_host=1.2.3.4\nnovncproxy_host = 5.6.7.8\n" +
			"[VNC]\nvencrypt_ca_certs = /ca\n[default]\nweb = /ignored\n[Console]\nssl_ciphers = A:B\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"empty values", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nweb =\ncert =\nlog_dir = '\nlog_file = \"\n[console]\nssl_ciphers =\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"substitution", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nstate_path = /var/lib/nova\nlog_dir = $state_path/log\nlog_file = ${log_dir}/x.log\nmy_ip = 10.9.9.9\n" +
			"transport_url = rabbit://u:pa$$w\\$rd@$my_ip//\nweb = ${vnc.novncproxy_host}:$1$\n" +
			"[vnc]\nnovncproxy_host = $my_ip\n[database]\nconnection = mysql+pymysql://nova:x$$y@${my_ip}/nova\n" +
			"[console]\nallowed_origins = $my_ip, ${vnc.novncproxy_host}\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"substitution of the default state_path", ProxyNoVNC, map[string]string{
		"a.conf": "[DEFAULT]\nlog_dir = $state_path/log\n",
	}, []string{"--config-file", "{d}/a.conf"}},
	{"serial proxy options", ProxySerial, map[string]string{
		"a.conf": "[serial_console]\nserialproxy_host = 127.0.0.2\nserialproxy_port = 7083\n",
	}, []string{"--config-file", "{d}/a.conf", "--serial_console-serialproxy_port", "7084"}},
	{"spice proxy options", ProxySpiceHTML5, map[string]string{
		"a.conf": "[spice]\nhtml5proxy_host = 127.0.0.3\n",
	}, []string{"--config-file", "{d}/a.conf", "--spice-html5proxy_port=7082", "--spice-html5proxy_host", "::1"}},

	// Cases both must refuse.
	{"unknown option", ProxyNoVNC, nil, []string{"--bogus"}},
	{"another proxy's option", ProxySerial, nil, []string{"--vnc-novncproxy_port", "1"}},
	{"positional argument", ProxyNoVNC, nil, []string{"extra"}},
	{"value after --", ProxyNoVNC, nil, []string{"--", "x"}},
	{"missing config file", ProxyNoVNC, nil, []string{"--config-file", "/nonexistent/nova.conf"}},
	{"missing config dir", ProxyNoVNC, nil, []string{"--config-dir", "/nonexistent/nova.conf.d"}},
	{"bad port on the command line", ProxyNoVNC, nil, []string{"--vnc-novncproxy_port", "http"}},
	{"port out of range", ProxyNoVNC, map[string]string{"a.conf": "[vnc]\nnovncproxy_port = 70000\n"}, []string{"--config-file", "{d}/a.conf"}},
	{"bad boolean in a file", ProxyNoVNC, map[string]string{"a.conf": "[DEFAULT]\nsource_is_ipv6 = maybe\n"}, []string{"--config-file", "{d}/a.conf"}},
	{"boolean with a value", ProxyNoVNC, nil, []string{"--source_is_ipv6=false"}},
	{"assignment before any section", ProxyNoVNC, map[string]string{"a.conf": "web = /x\n[DEFAULT]\n"}, []string{"--config-file", "{d}/a.conf"}},
	{"${DEFAULT.name}", ProxyNoVNC, map[string]string{"a.conf": "[DEFAULT]\nweb = ${DEFAULT.debug}\n"}, []string{"--config-file", "{d}/a.conf"}},
	{"unknown substitution", ProxyNoVNC, map[string]string{"a.conf": "[DEFAULT]\nweb = $nosuchoption_anywhere\n"}, []string{"--config-file", "{d}/a.conf"}},
}

// configValues returns Config's values keyed "group.name", as oslo_dump.py
// prints them (None becomes the zero value).
func configValues(c *Config) map[string]any {
	out := map[string]any{}
	for _, o := range optionDefs(c.Proxy) {
		switch v := o.bind(c).(type) {
		case *string:
			out[o.group+"."+o.name] = *v
		case *bool:
			out[o.group+"."+o.name] = *v
		case *int:
			out[o.group+"."+o.name] = *v
		case *[]string:
			out[o.group+"."+o.name] = slices.Clone(*v)
		}
	}
	return out
}

// normalizeOslo turns oslo_dump.py's JSON values into configValues' form.
func normalizeOslo(t *testing.T, c map[string]any, in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		switch want := c[k].(type) {
		case string:
			if v == nil {
				v = ""
			}
		case int:
			if v == nil {
				v = 0
			} else {
				v = int(v.(float64))
			}
		case []string:
			items := []string{}
			if v != nil {
				for _, it := range v.([]any) {
					items = append(items, it.(string))
				}
			}
			v = items
		case bool:
		default:
			t.Fatalf("option %s: no Go value (%T)", k, want)
		}
		out[k] = v
	}
	return out
}

// novaPython is Debian's Python with Nova, or "" (and the test skipped or
// failed) when it is missing.
func novaPython(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/lib/python3/dist-packages/nova/conf/novnc.py"); err == nil {
		return "/usr/bin/python3"
	}
	if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
		t.Skip("python3-nova not installed")
	}
	t.Fatal("python3-nova not installed: run `make e2e-deps` (or set VNCRELAY_E2E_OPTIONAL=1 to skip)")
	return ""
}

// TestLoadMatchesNova reads each case with Load and with Nova's own
// oslo.config registration (testdata/oslo_dump.py) and compares every option.
func TestLoadMatchesNova(t *testing.T) {
	py := novaPython(t)
	dir := t.TempDir()
	type pyCase struct {
		Proxy string   `json:"proxy"`
		Args  []string `json:"args"`
	}
	var pyCases []pyCase
	argsOf := make([][]string, len(configCases))
	for i, tc := range configCases {
		d := filepath.Join(dir, "case"+string(rune('a'+i%26))+strings.Repeat("z", i/26))
		writeTree(t, d, tc.files)
		for _, a := range tc.args {
			argsOf[i] = append(argsOf[i], strings.ReplaceAll(a, "{d}", d))
		}
		pyCases = append(pyCases, pyCase{Proxy: map[Proxy]string{ProxyNoVNC: "novnc", ProxySerial: "serial", ProxySpiceHTML5: "spice"}[tc.proxy], Args: argsOf[i]})
	}
	in, _ := json.Marshal(pyCases)
	cmd := exec.Command(py, "testdata/oslo_dump.py")
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Dir = "."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo_dump.py: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(configCases) {
		t.Fatalf("oslo_dump.py printed %d lines for %d cases", len(lines), len(configCases))
	}
	for i, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			var ref struct {
				Values map[string]any `json:"values"`
				Error  string         `json:"error"`
			}
			if err := json.Unmarshal([]byte(lines[i]), &ref); err != nil {
				t.Fatal(err)
			}
			c, err := parse(LoadOptions{Proxy: tc.proxy, Args: argsOf[i], SearchDirs: []string{}})
			switch {
			case ref.Error != "" && err == nil:
				t.Fatalf("Nova refuses (%s), Load accepts", ref.Error)
			case ref.Error != "":
				t.Logf("both refuse: Nova %s; Load %v", ref.Error, err)
				return
			case err != nil:
				t.Fatalf("Nova accepts, Load refuses: %v", err)
			}
			got := configValues(c)
			want := normalizeOslo(t, got, ref.Values)
			for k, w := range want {
				if !reflect.DeepEqual(got[k], w) {
					t.Errorf("%s = %#v, Nova reads %#v", k, got[k], w)
				}
			}
		})
	}
}

func TestLoadUnsupported(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"vencrypt.conf": "[vnc]\nauth_schemes = vencrypt,none\n",
		"debug.conf":    "[remote_debug]\nhost = 10.0.0.1\n",
	})
	tests := []struct {
		name   string
		proxy  Proxy
		args   []string
		option string // the error must name it
	}{
		{"remote_debug", ProxyNoVNC, []string{"--config-file", dir + "/debug.conf"}, "remote_debug"},
		{"--remote_debug-port", ProxyNoVNC, []string{"--remote_debug-port", "5678"}, "remote_debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(LoadOptions{Proxy: tt.proxy, Args: tt.args, SearchDirs: []string{}})
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), tt.option) {
				t.Errorf("error %q does not name %s", err, tt.option)
			}
		})
	}
	t.Run("TLS options are read", func(t *testing.T) {
		writeTree(t, dir, map[string]string{
			"cert.pem": "a certificate file, read by the command",
			"tls.conf": "[DEFAULT]\nssl_only = true\ncert = " + dir + "/cert.pem\nkey = " + dir + "/key.pem\n" +
				"[console]\nssl_ciphers = ECDHE-RSA-AES128-GCM-SHA256\nssl_minimum_version = tlsv1_3\n",
		})
		c, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--config-file", dir + "/tls.conf"}, SearchDirs: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Default.SSLOnly || !c.TLSServe() || c.Default.Key != dir+"/key.pem" ||
			c.Console.SSLCiphers != "ECDHE-RSA-AES128-GCM-SHA256" || c.Console.SSLMinimumVersion != "tlsv1_3" {
			t.Fatalf("read %+v %+v", c.Default, c.Console)
		}
		// Nova refuses ssl_only without its certificate, in these words.
		_, err = Load(LoadOptions{Proxy: ProxySerial, Args: []string{"--ssl_only", "--cert", dir + "/missing.pem"}, SearchDirs: []string{}})
		if err == nil || !strings.Contains(err.Error(), "SSL only and "+dir+"/missing.pem not found") {
			t.Fatalf("ssl_only without cert: %v", err)
		}
	})
	t.Run("vencrypt is read", func(t *testing.T) {
		for _, args := range [][]string{{"--config-file", dir + "/vencrypt.conf"}, {"--vnc-auth_schemes", "vencrypt"}} {
			c, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: args, SearchDirs: []string{}})
			if err != nil || !slices.Contains(c.VNC.AuthSchemes, "vencrypt") {
				t.Fatalf("%v: %v", args, err)
			}
		}
	})
	t.Run("vencrypt on another proxy is not read", func(t *testing.T) {
		if _, err := Load(LoadOptions{Proxy: ProxySerial, Args: []string{"--config-file", dir + "/vencrypt.conf"}, SearchDirs: []string{}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("self.pem in the working directory", func(t *testing.T) {
		t.Chdir(dir)
		writeTree(t, dir, map[string]string{"self.pem": "x"})
		c, err := Load(LoadOptions{Proxy: ProxyNoVNC, SearchDirs: []string{}})
		if err != nil || !c.TLSServe() {
			t.Fatalf("self.pem present: TLS served %v, err %v (Nova serves TLS when its cert exists)", c != nil && c.TLSServe(), err)
		}
	})
}

func TestLoadDefaultFiles(t *testing.T) {
	etc := t.TempDir()
	home := t.TempDir()
	writeTree(t, etc, map[string]string{
		"nova.conf":                     "[vnc]\nnovncproxy_port = 6001\n[console]\nssl_ciphers = ETC\n",
		"nova-novncproxy.conf":          "[vnc]\nnovncproxy_port = 6002\n",
		"nova.conf.d/10.conf":           "[vnc]\nnovncproxy_port = 6003\n",
		"nova-novncproxy.conf.d/1.conf": "[consoleauth]\ntoken_ttl = 7\n",
	})
	writeTree(t, home, map[string]string{"nova.conf": "[console]\nssl_ciphers = HOME\n"})
	other := filepath.Join(t.TempDir(), "other.conf")
	writeTree(t, filepath.Dir(other), map[string]string{"other.conf": "[DEFAULT]\nweb = /other\n"})

	tests := []struct {
		name    string
		args    []string
		port    int
		ciphers string
		ttl     int
		files   int
	}{
		// nova.conf is taken from the first directory holding one (home).
		{"defaults", nil, 6003, "HOME", 7, 4},
		{"a --config-file replaces the default files, not the dirs", []string{"--config-file", other}, 6003, "", 7, 3},
		{"a --config-dir replaces the default dirs, not the files", []string{"--config-dir", t.TempDir()}, 6002, "HOME", 600, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: tt.args, SearchDirs: []string{home, etc}})
			if err != nil {
				t.Fatal(err)
			}
			if c.VNC.NoVNCProxyPort != tt.port || c.Console.SSLCiphers != tt.ciphers || c.ConsoleAuth.TokenTTL != tt.ttl || len(c.ConfigFiles) != tt.files {
				t.Errorf("port %d ciphers %q ttl %d files %v; want %d %q %d and %d files",
					c.VNC.NoVNCProxyPort, c.Console.SSLCiphers, c.ConsoleAuth.TokenTTL, c.ConfigFiles, tt.port, tt.ciphers, tt.ttl, tt.files)
			}
		})
	}
}

func TestLoadHelpAndVersion(t *testing.T) {
	if _, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--help"}, SearchDirs: []string{}}); !errors.Is(err, pflag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	c, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--version"}, SearchDirs: []string{}})
	if err != nil || !c.ShowVersion {
		t.Errorf("--version: %v", err)
	}
	u := Usage(ProxyNoVNC)
	for _, want := range []string{"--config-file", "--nossl_only", "--vnc-novncproxy_port", "-d, --debug", "--log-file"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %s:\n%s", want, u)
		}
	}
	if strings.Contains(Usage(ProxySerial), "--vnc-") {
		t.Error("serial proxy usage lists [vnc] options")
	}
}

func TestLoadErrorsHideSecrets(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a.conf": "[database]\nconnection = mysql://nova:CANARY-$nosuch@h/nova\n",
		"b.conf": "[database]\nconnection_recycle_time = CANARY\n",
	})
	for _, f := range []string{"a.conf", "b.conf"} {
		_, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--config-file", dir + "/" + f}, SearchDirs: []string{}})
		if err == nil {
			t.Fatalf("%s: no error", f)
		}
		if f == "a.conf" && strings.Contains(err.Error(), "CANARY") {
			t.Errorf("%s: error shows the secret value: %v", f, err)
		}
	}
}

func FuzzParseConfData(f *testing.F) {
	seed, _ := os.ReadFile("testdata/nova.conf")
	f.Add(seed)
	f.Add([]byte("[DEFAULT]\na = 'b'\n  c\n\n  d\n"))
	f.Add([]byte("[x]\nk: v = w\n\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := parseConfData("fuzz.conf", data)
		if err != nil {
			return
		}
		for g, sec := range cf.sections {
			if g != "DEFAULT" && g != strings.ToLower(g) {
				t.Fatalf("group %q not normalized", g)
			}
			for k := range sec {
				if k == "" {
					t.Fatal("empty key")
				}
			}
		}
	})
}

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"$a", "${b.c}", "$$", `\$`, "$", "${", "$1", "x$a$b${c}y", "$a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var lookup func(group, name string, depth int) (string, bool, error)
		lookup = func(group, name string, depth int) (string, bool, error) {
			if name == "loop" {
				v, err := substitute("$loop", group, depth, lookup)
				return v, err == nil, err
			}
			return "<" + group + "." + name + ">", name != "missing", nil
		}
		out, err := substitute(s, "vnc", 0, lookup)
		if err == nil && !strings.Contains(s, "$") && out != s {
			t.Fatalf("substitute changed %q to %q", s, out)
		}
	})
}

// TestLoadRecordDaemon: [DEFAULT] record and daemon, which vncrelay runs as
// websockify's --record and --daemon, are read from a file and from Nova's
// command line, the command line winning.
func TestLoadRecordDaemon(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"rec.conf": "[DEFAULT]\nrecord = /var/lib/rec/frames\ndaemon = true\n"})
	c, err := Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--config-file", dir + "/rec.conf"}, SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Default.Record != "/var/lib/rec/frames" || !c.Default.Daemon {
		t.Fatalf("record %q daemon %v", c.Default.Record, c.Default.Daemon)
	}
	c, err = Load(LoadOptions{Proxy: ProxyNoVNC, Args: []string{"--config-file", dir + "/rec.conf", "--record", "/tmp/x", "--nodaemon"}, SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Default.Record != "/tmp/x" || c.Default.Daemon {
		t.Fatalf("command line: record %q daemon %v", c.Default.Record, c.Default.Daemon)
	}
}
