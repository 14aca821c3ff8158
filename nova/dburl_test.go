package nova

import (
	"encoding/json"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestParseDatabaseURL(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		params string // connection_parameters
		want   DatabaseURL
		// the go-sql-driver configuration it gives
		net, addr, dsnHas string
		timeout           time.Duration
		err               string // a part of the error, "" for none
	}{
		{name: "kolla", url: "mysql+pymysql://nova:secret@10.0.0.10:3306/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "secret", Host: "10.0.0.10", Port: 3306, Database: "nova"},
			net:  "tcp", addr: "10.0.0.10:3306", dsnHas: "charset=utf8", timeout: DefaultDialTimeout},
		{name: "charset and devstack's plugin", url: "mysql+pymysql://root:pw@127.0.0.1/nova_cell1?charset=utf8mb4&plugin=dbcounter",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "root", Password: "pw", Host: "127.0.0.1", Database: "nova_cell1", Query: map[string]string{"charset": "utf8mb4", "plugin": "dbcounter"}},
			net:  "tcp", addr: "127.0.0.1:3306", dsnHas: "charset=utf8mb4"},
		{name: "host name, default port", url: "mysql+pymysql://nova:pw@db.example.org/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "db.example.org", Database: "nova"},
			net:  "tcp", addr: "db.example.org:3306"},
		{name: "IPv6", url: "mysql+pymysql://nova:pw@[fd00::1]:3307/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "fd00::1", Port: 3307, Database: "nova"},
			net:  "tcp", addr: "[fd00::1]:3307"},
		{name: "percent-encoded password", url: "mysql+pymysql://nova:p%40ss%3Aw%2Frd%25%20x@db/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "p@ss:w/rd% x", Host: "db", Database: "nova"},
			net:  "tcp", addr: "db:3306"},
		{name: "stray percent kept", url: "mysql+pymysql://nova:50%off%zz@db/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "50%off%zz", Host: "db", Database: "nova"},
			net:  "tcp", addr: "db:3306"},
		{name: "unix socket, pymysql", url: "mysql+pymysql://nova:pw@localhost/nova?unix_socket=/run/mysqld/mysqld.sock",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "localhost", Database: "nova", Query: map[string]string{"unix_socket": "/run/mysqld/mysqld.sock"}},
			net:  "unix", addr: "/run/mysqld/mysqld.sock"},
		{name: "unix socket, pymysql, any host", url: "mysql+pymysql://nova:pw@db/nova?unix_socket=/tmp/s",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "db", Database: "nova", Query: map[string]string{"unix_socket": "/tmp/s"}},
			net:  "unix", addr: "/tmp/s"},
		{name: "mysqldb, localhost is the socket", url: "mysql://nova:pw@localhost/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "mysqldb", User: "nova", Password: "pw", Host: "localhost", Database: "nova"},
			net:  "unix", addr: DebianMySQLSocket},
		{name: "mysqldb, no host", url: "mysql+mysqldb://nova:pw@/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "mysqldb", User: "nova", Password: "pw", Database: "nova"},
			net:  "unix", addr: DebianMySQLSocket},
		{name: "mysqldb, unix_socket ignored for a remote host", url: "mysql+mysqldb://nova:pw@db:3306/nova?unix_socket=/tmp/s",
			want: DatabaseURL{Dialect: "mysql", Driver: "mysqldb", User: "nova", Password: "pw", Host: "db", Port: 3306, Database: "nova", Query: map[string]string{"unix_socket": "/tmp/s"}},
			net:  "tcp", addr: "db:3306"},
		{name: "mariadb dialect", url: "mariadb+pymysql://nova:pw@db/nova",
			want: DatabaseURL{Dialect: "mariadb", Driver: "pymysql", User: "nova", Password: "pw", Host: "db", Database: "nova"},
			net:  "tcp", addr: "db:3306"},
		{name: "timeouts from the URL", url: "mysql+pymysql://nova:pw@db/nova?connect_timeout=7&read_timeout=9&write_timeout=11",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "db", Database: "nova", Query: map[string]string{"connect_timeout": "7", "read_timeout": "9", "write_timeout": "11"}},
			net:  "tcp", addr: "db:3306", dsnHas: "readTimeout=9s", timeout: 7 * time.Second},
		{name: "connection_parameters appended", url: "mysql+pymysql://nova:pw@db/nova", params: "charset=latin1&read_timeout=3",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "db", Database: "nova", Query: map[string]string{"charset": "latin1", "read_timeout": "3"}},
			net:  "tcp", addr: "db:3306", dsnHas: "charset=latin1"},
		{name: "empty query values dropped, plus is a space", url: "mysql+pymysql://nova:pw@db/nova?charset=&plugin=a+b&x",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Password: "pw", Host: "db", Database: "nova", Query: map[string]string{"plugin": "a b"}},
			net:  "tcp", addr: "db:3306"},
		{name: "no password", url: "mysql+pymysql://nova@db/nova",
			want: DatabaseURL{Dialect: "mysql", Driver: "pymysql", User: "nova", Host: "db", Database: "nova"},
			net:  "tcp", addr: "db:3306"},

		{name: "postgresql", url: "postgresql://nova:pw@db/nova", err: `dialect "postgresql"`},
		{name: "sqlite", url: "sqlite:////var/lib/nova/nova.sqlite", err: `dialect "sqlite"`},
		{name: "another MySQL driver", url: "mysql+mysqlconnector://nova:pw@db/nova", err: `driver "mysqlconnector"`},
		{name: "empty", url: "", err: "empty"},
		{name: "not a URL", url: "nova:pw@db/nova", err: "not an SQLAlchemy URL"},
		{name: "bad port", url: "mysql+pymysql://nova:pw@db:port/nova", err: "port"},
		{name: "port out of range", url: "mysql+pymysql://nova:pw@db:65536/nova", err: "port"},
		{name: "TLS", url: "mysql+pymysql://nova:pw@db/nova?ssl_ca=/etc/ssl/ca.pem", err: "TLS"},
		{name: "read_default_file", url: "mysql+pymysql://nova:pw@db/nova?read_default_file=/etc/my.cnf", err: `"read_default_file"`},
		{name: "parameter twice", url: "mysql+pymysql://nova:pw@db/nova?charset=utf8", params: "charset=latin1", err: "twice"},
		{name: "charset not a name", url: "mysql+pymysql://nova:pw@db/nova?charset=/", err: "not a character set name"},
		{name: "bad timeout", url: "mysql+pymysql://nova:pw@db/nova?read_timeout=soon", err: "read_timeout"},
		{name: "password not UTF-8", url: "mysql+pymysql://nova:%ff@db/nova", err: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseDatabaseURL(tt.url, tt.params)
			var cfg *mysql.Config
			if err == nil {
				cfg, err = u.MySQLConfig()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrDatabaseURL) {
					t.Fatalf("err = %v, want ErrDatabaseURL with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.Query == nil {
				tt.want.Query = map[string]string{}
			}
			if !reflect.DeepEqual(u, tt.want) {
				t.Errorf("parsed %+v\nwant   %+v", u, tt.want)
			}
			if cfg.Net != tt.net || cfg.Addr != tt.addr || cfg.User != tt.want.User || cfg.Passwd != tt.want.Password || cfg.DBName != tt.want.Database {
				t.Errorf("mysql config %s %s user %q db %q, want %s %s", cfg.Net, cfg.Addr, cfg.User, cfg.DBName, tt.net, tt.addr)
			}
			if tt.timeout != 0 && cfg.Timeout != tt.timeout {
				t.Errorf("dial timeout %v, want %v", cfg.Timeout, tt.timeout)
			}
			if dsn := cfg.FormatDSN(); tt.dsnHas != "" && !strings.Contains(dsn, tt.dsnHas) {
				t.Errorf("DSN lacks %s", tt.dsnHas)
			}
		})
	}
}

// TestDatabaseURLMatchesSQLAlchemy splits URLs with ParseDatabaseURL and
// with SQLAlchemy's make_url (testdata/sqlalchemy_url.py) and compares.
func TestDatabaseURLMatchesSQLAlchemy(t *testing.T) {
	py := novaPython(t)
	urls := []string{
		"mysql+pymysql://nova:secret@10.0.0.10:3306/nova?charset=utf8",
		"mysql://nova:secret@db/nova",
		"mysql+mysqldb://nova@/nova",
		"mysql+pymysql://nova:p%40ss%3Aw%2Frd%25@[fd00::1]:3306/nova",
		"mysql+pymysql://nova:p%40ss@[fe80::1%25eth0]/nova",
		"mysql+pymysql://a@b@c/d",
		"mysql+pymysql://u:p@ss@h/d",
		"mysql+pymysql://u:p:q@h/d",
		"mysql+pymysql://u:@h/d",
		"mysql+pymysql://:p@h/d",
		"mysql+pymysql://h",
		"mysql+pymysql://h:/d",
		"mysql+pymysql://h/",
		"mysql+pymysql://h/d/e?x=1&x=2",
		"mysql+pymysql://h/d?a=%41&b=+&c&=v",
		"mysql+pymysql://%7Euser:%zz%4@h/d",
		"mysql+pymysql://h/d%20x?a=b?c",
		"mysql+pymysql://[::1",
		"mysql+pymysql://h:3306x/d",
		"mysql+pymysql://",
		"mysql+pymysql:///nova",
		"mysql+pymysql://u:p@/nova?unix_socket=/run/mysqld/mysqld.sock",
	}
	in, _ := json.Marshal(urls)
	cmd := exec.Command(py, "testdata/sqlalchemy_url.py")
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sqlalchemy_url.py: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(urls) {
		t.Fatalf("%d lines for %d URLs", len(lines), len(urls))
	}
	for i, raw := range urls {
		t.Run(raw, func(t *testing.T) {
			var ref struct {
				Driver   string         `json:"drivername"`
				User     *string        `json:"username"`
				Password *string        `json:"password"`
				Host     *string        `json:"host"`
				Port     *int           `json:"port"`
				Database *string        `json:"database"`
				Query    map[string]any `json:"query"`
				Error    string         `json:"error"`
			}
			if err := json.Unmarshal([]byte(lines[i]), &ref); err != nil {
				t.Fatal(err)
			}
			u, err := ParseDatabaseURL(raw, "")
			switch {
			case ref.Error != "" && err == nil:
				t.Fatalf("SQLAlchemy refuses (%s), we accept %+v", ref.Error, u)
			case ref.Error != "":
				return
			case err != nil && strings.Contains(err.Error(), "given twice"):
				return // SQLAlchemy makes a list the drivers refuse
			case err != nil:
				t.Fatalf("SQLAlchemy accepts, we refuse: %v", err)
			}
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			port := 0
			if ref.Port != nil {
				port = *ref.Port
			}
			driver := u.Dialect
			if raw[len(u.Dialect)] == '+' {
				driver += "+" + u.Driver
			}
			got := []any{driver, u.User, u.Password, u.Host, u.Port, u.Database}
			want := []any{ref.Driver, str(ref.User), str(ref.Password), str(ref.Host), port, str(ref.Database)}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nSQLAlchemy %q", got, want)
			}
			wantQ := map[string]string{}
			for k, v := range ref.Query {
				if s, ok := v.(string); ok {
					wantQ[k] = s
				}
			}
			if !reflect.DeepEqual(u.Query, wantQ) {
				t.Errorf("query %q, SQLAlchemy %q", u.Query, wantQ)
			}
		})
	}
}

func TestDatabaseURLHidesPassword(t *testing.T) {
	const canary = "CANARY-pw"
	bad := []string{
		"postgresql://nova:" + canary + "@db/nova",
		"mysql+pymysql://nova:" + canary + "@db:x/nova",
		"mysql+pymysql://nova:" + canary + "@db/nova?ssl_ca=/x",
		"mysql+pymysql://nova:" + canary + "@db/nova?init_command=SET+x%3D1",
		"nova:" + canary + "@db",
	}
	for _, raw := range bad {
		u, err := ParseDatabaseURL(raw, "")
		if err == nil {
			_, err = u.MySQLConfig()
		}
		if err == nil {
			t.Fatalf("accepted a bad URL")
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error shows the password: %v", err)
		}
	}
	u, err := ParseDatabaseURL("mysql+pymysql://nova:"+canary+"@[::1]:3306/nova?charset=utf8", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := u.String(); strings.Contains(s, canary) || s != "mysql+pymysql://nova:***@[::1]:3306/nova" {
		t.Errorf("String() = %q", s)
	}
}

func FuzzParseDatabaseURL(f *testing.F) {
	for _, s := range []string{
		"mysql+pymysql://nova:p%40ss@[fd00::1]:3306/nova?charset=utf8",
		"mysql://nova@localhost/nova?unix_socket=/run/mysqld/mysqld.sock",
		"mysql+pymysql://a@b@c:1/d?x=1&x=2",
		"mariadb://u:p@h/d?connect_timeout=3&compress=1",
	} {
		f.Add(s, "")
	}
	f.Add("mysql+pymysql://u:p@h/d", "read_timeout=2&plugin=x")
	f.Fuzz(func(t *testing.T, raw, params string) {
		u, err := ParseDatabaseURL(raw, params)
		if err != nil {
			if !errors.Is(err, ErrDatabaseURL) {
				t.Fatalf("error not ErrDatabaseURL: %v", err)
			}
			return
		}
		// String must not depend on the password: the same URL with another
		// password prints the same.
		if other := u; u.Password != "" {
			other.Password = "another-" + u.Password
			if u.String() != other.String() {
				t.Fatalf("String() %q shows the password", u.String())
			}
		}
		cfg, err := u.MySQLConfig()
		if err != nil {
			if !errors.Is(err, ErrDatabaseURL) {
				t.Fatalf("error not ErrDatabaseURL: %v", err)
			}
			return
		}
		// The driver reads back what we configured.
		back, err := mysql.ParseDSN(cfg.FormatDSN())
		if err != nil {
			t.Fatalf("ParseDSN(FormatDSN()): %v", err)
		}
		if back.User != cfg.User || back.Passwd != cfg.Passwd || back.Net != cfg.Net || back.Addr != cfg.Addr || back.DBName != cfg.DBName {
			t.Fatalf("DSN round trip: %q %q %q %q, want %q %q %q %q", back.User, back.Net, back.Addr, back.DBName, cfg.User, cfg.Net, cfg.Addr, cfg.DBName)
		}
	})
}
