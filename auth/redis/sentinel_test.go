package redis

import (
	"strings"
	"testing"
)

func TestParseSentinelSource(t *testing.T) {
	tests := []parseSourceTest{
		{"one sentinel", "redis-sentinel://10.0.0.1:26379/mymaster",
			Source{MasterName: "mymaster", Sentinels: []string{"10.0.0.1:26379"}}, ""},
		{"three sentinels, db, namespace", "redis-sentinel://a:26379,b:26380,[::1]:26381/consoles/2?namespace=app:tok",
			Source{MasterName: "consoles", Sentinels: []string{"a:26379", "b:26380", "[::1]:26381"}, DB: 2, Namespace: "app:tok"}, ""},
		{"passwords", "redis-sentinel://:p%40ss:w@a:1/m?sentinel_password=s%26p",
			Source{MasterName: "m", Sentinels: []string{"a:1"}, Password: "p@ss:w", SentinelPassword: "s&p"}, ""},
		{"master percent-encoded", "redis-sentinel://a:1/my%2Fmaster",
			Source{MasterName: "my/master", Sentinels: []string{"a:1"}}, ""},
		{"no master", "redis-sentinel://a:1", Source{}, "want /MASTER"},
		{"empty master", "redis-sentinel://a:1/", Source{}, "want /MASTER"},
		{"no port", "redis-sentinel://a/m", Source{}, "HOST:PORT"},
		{"empty host", "redis-sentinel://:1/m", Source{}, "HOST:PORT"},
		{"bad port", "redis-sentinel://a:0/m", Source{}, "1-65535"},
		{"port not decimal", "redis-sentinel://a:+1/m", Source{}, "1-65535"},
		{"user name", "redis-sentinel://u:p@a:1/m", Source{}, "no user name"},
		{"bad db", "redis-sentinel://a:1/m/x", Source{}, "db must be"},
		{"unknown parameter", "redis-sentinel://a:1/m?x=1", Source{}, "unknown query parameter"},
		{"parameter twice", "redis-sentinel://a:1/m?namespace=a&namespace=b", Source{}, "twice"},
		{"empty sentinel in list", "redis-sentinel://a:1,,b:2/m", Source{}, "HOST:PORT"},
	}
	runParseSourceTests(t, tests)
}

// TestSentinelSourceString: the log form names the Sentinels and the
// master, never a password.
func TestSentinelSourceString(t *testing.T) {
	src, err := ParseSource("redis-sentinel://:SECRET-PW@a:1,b:2/m/1?sentinel_password=SENT-PW&namespace=ns")
	if err != nil {
		t.Fatal(err)
	}
	s := src.String()
	if strings.Contains(s, "SECRET-PW") || strings.Contains(s, "SENT-PW") {
		t.Fatalf("password in %q", s)
	}
	if want := `redis-sentinel://a:1,b:2/m/1 (password set) (sentinel password set) namespace "ns"`; s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
}
