package redis

import (
	"strings"
	"testing"
)

func TestParseClusterSource(t *testing.T) {
	tests := []parseSourceTest{
		{"one node", "redis-cluster://10.0.0.1:7000", Source{Cluster: []string{"10.0.0.1:7000"}}, ""},
		{"three nodes, trailing slash", "redis-cluster://a:7000,b:7001,[::1]:7002/",
			Source{Cluster: []string{"a:7000", "b:7001", "[::1]:7002"}}, ""},
		{"password and namespace", "redis-cluster://:p%40ss:w@a:1,b:2/?namespace=app:tok",
			Source{Cluster: []string{"a:1", "b:2"}, Password: "p@ss:w", Namespace: "app:tok"}, ""},
		{"namespace without slash", "redis-cluster://a:1?namespace=n", Source{Cluster: []string{"a:1"}, Namespace: "n"}, ""},
		{"db", "redis-cluster://a:1/0", Source{}, "only db 0"},
		{"master name", "redis-cluster://a:1/mymaster", Source{}, "only db 0"},
		{"no nodes", "redis-cluster://", Source{}, "HOST:PORT"},
		{"no port", "redis-cluster://a", Source{}, "HOST:PORT"},
		{"empty host", "redis-cluster://:1", Source{}, "HOST:PORT"},
		{"bad port", "redis-cluster://a:70000", Source{}, "1-65535"},
		{"user name", "redis-cluster://u:p@a:1", Source{}, "no user name"},
		{"empty node in list", "redis-cluster://a:1,,b:2", Source{}, "HOST:PORT"},
		{"unknown parameter", "redis-cluster://a:1?sentinel_password=x", Source{}, "unknown query parameter"},
		{"parameter twice", "redis-cluster://a:1?namespace=a&namespace=b", Source{}, "twice"},
		{"17 nodes", "redis-cluster://" + strings.Repeat("a:1,", 16) + "a:1", Source{}, "more than 16"},
	}
	runParseSourceTests(t, tests)
}

// TestClusterSourceString: the log form names the nodes, never the
// password.
func TestClusterSourceString(t *testing.T) {
	src, err := ParseSource("redis-cluster://:SECRET-PW@a:1,b:2?namespace=ns")
	if err != nil {
		t.Fatal(err)
	}
	if s, want := src.String(), `redis-cluster://a:1,b:2 (password set) namespace "ns"`; s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
	if a, want := src.Addr(), "cluster a:1,b:2"; a != want {
		t.Fatalf("Addr = %q, want %q", a, want)
	}
}
