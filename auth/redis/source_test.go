package redis

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	tests := []parseSourceTest{
		{"host only", "redis.example", Source{Host: "redis.example", Port: 6379}, ""},
		{"0.10 host:port", "10.0.0.5:6380", Source{Host: "10.0.0.5", Port: 6380}, ""},
		{"empty port", "h:", Source{Host: "h", Port: 6379}, ""},
		{"db", "h:6380:3", Source{Host: "h", Port: 6380, DB: 3}, ""},
		{"password with defaults", "h:::secret", Source{Host: "h", Port: 6379, Password: "secret"}, ""},
		{"all five", "h:6380:1:pw:app", Source{Host: "h", Port: 6380, DB: 1, Password: "pw", Namespace: "app"}, ""},
		{"namespace only", "h::::app", Source{Host: "h", Port: 6379, Namespace: "app"}, ""},
		{"quoted namespace", `h::::"first:second"`, Source{Host: "h", Port: 6379, Namespace: "first:second"}, ""},
		{"quoted password", `h:::"p:w":ns`, Source{Host: "h", Port: 6379, Password: "p:w", Namespace: "ns"}, ""},
		{"quoted IPv6 host", `"::1":6380`, Source{Host: "::1", Port: 6380}, ""},
		{"empty quotes are literal", `h:::""`, Source{Host: "h", Port: 6379, Password: `""`}, ""},
		{"quote not ending the field", `h:::"a"b`, Source{Host: "h", Port: 6379, Password: `"a"b`}, ""},
		{"unclosed quote", `h:::"a:b`, Source{Host: "h", Port: 6379, Password: `"a`, Namespace: "b"}, ""},
		{"empty namespace", "h:1:2:pw:", Source{Host: "h", Port: 1, DB: 2, Password: "pw"}, ""},
		{"six fields", "h:1:2:pw:ns:x", Source{}, "more than 5"},
		{"empty", "", Source{}, "empty host"},
		{"empty host", ":6379", Source{}, "empty host"},
		{"port zero", "h:0", Source{}, "port"},
		{"port too big", "h:65536", Source{}, "port"},
		{"port with sign", "h:+6379", Source{}, "port"},
		{"port with spaces", "h: 6379", Source{}, "port"},
		{"negative db", "h:6379:-1", Source{}, "db"},
		{"newline", "h:6379\n", Source{}, "control"},
		{"unquoted IPv6", "::1", Source{}, "empty host"},
	}
	runParseSourceTests(t, tests)
}

// parseSourceTest is one case of a ParseSource table: in parses to want,
// or, with err set, fails with an error containing err.
type parseSourceTest struct {
	name string
	in   string
	want Source
	err  string
}

// runParseSourceTests runs each case as a subtest of its name.
func runParseSourceTests(t *testing.T, tests []parseSourceTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSource(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %+v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestSourceStringHidesPassword(t *testing.T) {
	src, err := ParseSource("h:1:2:canary-password:ns")
	if err != nil {
		t.Fatal(err)
	}
	if s := src.String(); strings.Contains(s, "canary-password") || !strings.Contains(s, "password set") {
		t.Fatalf("String() = %q", s)
	}
	if _, err := ParseSource("h:1:2:canary-password:ns:extra"); err == nil || strings.Contains(err.Error(), "canary") {
		t.Fatalf("error %v", err)
	}
}

// FuzzParseSource checks that splitting never panics, that fields without
// ':' or '"' split back as they were joined, and that errors never quote
// the source.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"h", "h:1", "h:1:2:p:n", `h::::"a:b"`, `"::1":6379`, `"`, `""`, `":"`, "::::", `h:"":""`,
		"redis-sentinel://h:1,h:2/m/3?namespace=n", "redis-sentinel://:pw@[::1]:1/m",
		"redis-cluster://h:1,h:2,[::1]:3/?namespace=n", "redis-cluster://:p%40w@h:1", "redis-cluster://h:1/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the source: %v", err)
			}
			return
		}
		if strings.HasPrefix(s, SentinelScheme) {
			if src.MasterName == "" || len(src.Sentinels) == 0 || len(src.Sentinels) > maxSentinels || src.DB < 0 {
				t.Fatalf("bad Sentinel source %+v", src)
			}
			return
		}
		if strings.HasPrefix(s, ClusterScheme) {
			if len(src.Cluster) == 0 || len(src.Cluster) > maxClusterSeeds || src.DB != 0 || src.Host != "" || src.MasterName != "" {
				t.Fatalf("bad Cluster source %+v", src)
			}
			for _, a := range src.Cluster {
				if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "" {
					t.Fatalf("bad Cluster node %q", a)
				}
			}
			return
		}
		if src.Host == "" || src.Port < 1 || src.Port > 65535 || src.DB < 0 {
			t.Fatalf("bad source %+v", src)
		}
		if !strings.ContainsAny(s, `"`) {
			if got := strings.Join(splitSource(s), ":"); got != s {
				t.Fatalf("split and join: %q != %q", got, s)
			}
		}
	})
}
