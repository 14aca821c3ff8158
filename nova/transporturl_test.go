package nova

import (
	"encoding/json"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestParseTransportURL(t *testing.T) {
	guest := func(host string, port int) BrokerHost {
		return BrokerHost{Username: "guest", Password: "guest", Host: host, Port: port}
	}
	tests := []struct {
		name  string
		in    string
		hosts []BrokerHost
		vhost string
		opts  map[string]string
		err   string // substring of the error; "" means success
	}{
		{name: "one host", in: "rabbit://nova:secret@rabbit1:5672/",
			hosts: []BrokerHost{{"nova", "secret", "rabbit1", 5672}}, vhost: "/"},
		{name: "no path", in: "rabbit://nova:secret@rabbit1",
			hosts: []BrokerHost{{"nova", "secret", "rabbit1", 5672}}, vhost: "/"},
		{name: "vhost", in: "rabbit://nova:secret@rabbit1:5673/nova",
			hosts: []BrokerHost{{"nova", "secret", "rabbit1", 5673}}, vhost: "nova"},
		{name: "slash vhost encoded", in: "rabbit://u:p@h/%2F",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "/"},
		{name: "double slash", in: "rabbit://u:p@h:5672//",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "/"},
		{name: "vhost decoded twice", in: "rabbit://u:p@h/a%252Fb",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "a/b"},
		{name: "vhost cut at decoded question mark", in: "rabbit://u:p@h/a%3Fb",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "a"},
		{name: "percent-encoded credentials", in: "rabbit://us%3Aer:p%40ss%3Aw%25rd@h/",
			hosts: []BrokerHost{{"us:er", "p@ss:w%rd", "h", 5672}}, vhost: "/"},
		{name: "invalid escape kept", in: "rabbit://u:p%zz@h/",
			hosts: []BrokerHost{{"u", "p%zz", "h", 5672}}, vhost: "/"},
		{name: "at sign in user", in: "rabbit://a@b:p@h:5/x",
			hosts: []BrokerHost{{"a@b", "p", "h", 5}}, vhost: "x"},
		{name: "colon in password", in: "rabbit://u:p:q@h/",
			hosts: []BrokerHost{{"u", "p:q", "h", 5672}}, vhost: "/"},
		{name: "two hosts with IPv6", in: "rabbit://u:p@h1:1,u2:p2@[::1]:2/v?ssl=1",
			hosts: []BrokerHost{{"u", "p", "h1", 1}, {"u2", "p2", "::1", 2}}, vhost: "v",
			opts: map[string]string{"ssl": "1"}},
		{name: "IPv6 without port", in: "rabbit://u:p@[fd00::5]/",
			hosts: []BrokerHost{{"u", "p", "fd00::5", 5672}}, vhost: "/"},
		{name: "IPv6 empty port", in: "rabbit://u:p@[fd00::5]:/",
			hosts: []BrokerHost{{"u", "p", "fd00::5", 5672}}, vhost: "/"},
		{name: "no credentials", in: "rabbit://h1,h2:5673",
			hosts: []BrokerHost{guest("h1", 5672), guest("h2", 5673)}, vhost: "/"},
		{name: "user without password", in: "rabbit://u@h",
			hosts: []BrokerHost{{"u", "guest", "h", 5672}}, vhost: "/"},
		{name: "empty user", in: "rabbit://:p@h",
			hosts: []BrokerHost{{"guest", "p", "h", 5672}}, vhost: "/"},
		{name: "empty port", in: "rabbit://u:p@h:/x",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "x"},
		{name: "port zero is the default", in: "rabbit://u:p@h:0/",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "/"},
		{name: "empty netloc items skipped", in: "rabbit://,h1,,h2,/",
			hosts: []BrokerHost{guest("h1", 5672), guest("h2", 5672)}, vhost: "/"},
		{name: "no hosts", in: "rabbit://",
			hosts: []BrokerHost{guest("localhost", 5672)}, vhost: "/"},
		{name: "scheme case", in: "RABBIT://u:p@h/",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "/"},
		{name: "query repeated and blank", in: "rabbit://h/?ssl=1&ssl=0&x=&y&a+b=c%20d",
			hosts: []BrokerHost{guest("h", 5672)}, vhost: "/",
			opts: map[string]string{"ssl": "1,0", "a b": "c d"}},
		{name: "fragment ignored", in: "rabbit://u:p@h/v#frag?x=1",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "v"},
		{name: "query ends netloc", in: "rabbit://u:p@h?ssl=true",
			hosts: []BrokerHost{{"u", "p", "h", 5672}}, vhost: "/", opts: map[string]string{"ssl": "true"}},

		{name: "other driver", in: "kafka://h:9092/", err: `driver "kafka" is not supported`},
		{name: "amqp1 driver", in: "amqp://h/", err: `driver "amqp" is not supported`},
		{name: "no scheme", in: "rabbit1:5672", err: `driver "rabbit1" is not supported`},
		{name: "empty", in: "", err: "no scheme"},
		{name: "bad port", in: "rabbit://u:p@h:56x/", err: "host 1: port"},
		{name: "port too big", in: "rabbit://u:p@h:65536/", err: "host 1: port"},
		{name: "signed port", in: "rabbit://u:p@h:+5/", err: "host 1: port"},
		{name: "two colons", in: "rabbit://u:p@h:1:2/", err: "host 1: port"},
		{name: "unclosed IPv6", in: "rabbit://u:p@h1,[::1:5672/", err: "host 2: IPv6"},
		{name: "junk after bracket", in: "rabbit://[::1]x/", err: "text after ']'"},
		{name: "empty host", in: "rabbit://u:p@/", err: "host 1: empty host name"},
		{name: "empty host before port", in: "rabbit://u:p@:5672/", err: "empty host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseTransportURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrTransportURL) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.opts == nil {
				tt.opts = map[string]string{}
			}
			if !reflect.DeepEqual(u.Hosts, tt.hosts) || u.VirtualHost != tt.vhost || !reflect.DeepEqual(u.Options, tt.opts) {
				t.Fatalf("got %+v vhost %q opts %v\nwant %+v vhost %q opts %v", u.Hosts, u.VirtualHost, u.Options, tt.hosts, tt.vhost, tt.opts)
			}
		})
	}
}

func TestTransportURLErrorsHidePassword(t *testing.T) {
	for _, in := range []string{
		"rabbit://u:canary-secret@h:bad/",
		"rabbit://u:canary-secret@[::1/",
		"kafka://u:canary-secret@h/",
		"rabbit://u:canary-secret@h/?ssl=maybe",
	} {
		u, err := ParseTransportURL(in)
		if err == nil {
			_, _, err = u.Bool("ssl")
		}
		if err == nil || strings.Contains(err.Error(), "canary") {
			t.Errorf("ParseTransportURL: err = %v", err)
		}
	}
	u, err := ParseTransportURL("rabbit://u:canary-secret@h1,v:canary-secret@[::1]:5673/nova")
	if err != nil {
		t.Fatal(err)
	}
	if r := u.Redacted(); strings.Contains(r, "canary") || r != "rabbit://u:***@h1:5672,v:***@[::1]:5673/nova" {
		t.Errorf("Redacted = %q", r)
	}
	if s := u.Hosts[0].String(); s != "u@h1:5672" {
		t.Errorf("String = %q", s)
	}
}

func TestTransportURLOptions(t *testing.T) {
	u, err := ParseTransportURL("rabbit://h/?ssl=YES&amqp_durable_queues=off&heartbeat_timeout_threshold=30&bad=maybe&n=x")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		opt       string
		want, set bool
		err       bool
	}{
		{name: "true", opt: "ssl", want: true, set: true},
		{name: "false", opt: "amqp_durable_queues", want: false, set: true},
		{name: "absent", opt: "rabbit_quorum_queue"},
		{name: "invalid", opt: "bad", set: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, set, err := u.Bool(tt.opt)
			if v != tt.want || set != tt.set || (err != nil) != tt.err {
				t.Fatalf("Bool(%s) = %v %v %v", tt.opt, v, set, err)
			}
		})
	}
	if n, set, err := u.Int("heartbeat_timeout_threshold"); n != 30 || !set || err != nil {
		t.Errorf("Int = %d %v %v", n, set, err)
	}
	if _, set, err := u.Int("n"); !set || err == nil {
		t.Errorf("Int(n) = %v %v", set, err)
	}
}

// osloParse prints, for each URL read as a JSON list on stdin, what
// oslo.messaging's rabbit driver hands to kombu for every host (user,
// password, host, port, virtual host as kombu resolves them) or the error.
const osloParse = `
import json, sys
from urllib import parse
import kombu
from oslo_config import cfg
import oslo_messaging as m
from oslo_messaging._drivers import impl_rabbit

class T:
    _parse_url_hostname = impl_rabbit.Connection._parse_url_hostname
conf = cfg.ConfigOpts(); conf([])
out = []
for s in json.load(sys.stdin):
    try:
        u = m.TransportURL.parse(conf, s)
        hosts = u.hosts or [m.transport.TransportHost('')]
        res = []
        for h in hosts:
            if not u.hosts:
                k = impl_rabbit.Connection._transform_transport_url(T(), u, h, 'guest', 'guest', 'localhost')
            else:
                k = impl_rabbit.Connection._transform_transport_url(T(), u, h)
            c = kombu.Connection(k)
            res.append([c.userid or 'guest', c.password or 'guest', c.hostname, c.port or 5672, c.virtual_host])
        out.append({'transport': u.transport, 'hosts': res, 'query': u.query})
    except Exception as e:
        out.append({'error': type(e).__name__})
print(json.dumps(out))
`

// TestTransportURLMatchesOslo parses URLs with oslo.messaging and kombu
// (Debian's python3-oslo.messaging) and compares what they would connect
// to with ParseTransportURL's result.
func TestTransportURLMatchesOslo(t *testing.T) {
	urls := []string{
		"rabbit://nova:secret@rabbit1:5672/",
		"rabbit://nova:secret@rabbit1",
		"rabbit://nova:secret@rabbit1:5673/nova",
		"rabbit://u:p@h/%2F",
		"rabbit://u:p@h:5672//",
		"rabbit://u:p@h/a%252Fb",
		"rabbit://u:p@h/a%3Fb",
		"rabbit://us%3Aer:p%40ss%3Aw%25rd@h/",
		"rabbit://a@b:p@h:5/x",
		"rabbit://u:p:q@h/",
		"rabbit://u:p@h1:1,u2:p2@[::1]:2/v?ssl=1",
		"rabbit://u:p@[fd00::5]/",
		"rabbit://u:p@[fd00::5]:/",
		"rabbit://h1,h2:5673",
		"rabbit://u@h",
		"rabbit://:p@h",
		"rabbit://u:p@h:/x",
		"rabbit://u:p@h:0/",
		"rabbit://,h1,,h2,/",
		"rabbit://",
		"RABBIT://u:p@h/",
		"rabbit://h/?ssl=1&ssl=0&x=&y&a+b=c%20d",
		"rabbit://u:p@h/v#frag?x=1",
		"rabbit://u:p@h?ssl=true",
		"rabbit://u:p@h/caf%C3%A9",
	}
	in, _ := json.Marshal(urls)
	cmd := exec.Command("/usr/bin/python3", "-c", osloParse)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo.messaging (python3-oslo.messaging, python3-kombu) parse: %v", err)
	}
	var want []struct {
		Error string
		Hosts [][]any
		Query map[string]string
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, s := range urls {
		t.Run(s, func(t *testing.T) {
			w := want[i]
			u, err := ParseTransportURL(s)
			if w.Error != "" {
				if err == nil {
					t.Fatalf("oslo fails (%s), we parse %+v", w.Error, u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [][]any
			for _, h := range u.Hosts {
				got = append(got, []any{h.Username, h.Password, h.Host, float64(h.Port), u.VirtualHost})
			}
			if !reflect.DeepEqual(got, w.Hosts) {
				t.Errorf("hosts:\n got  %v\n oslo %v", got, w.Hosts)
			}
			if !reflect.DeepEqual(u.Options, w.Query) {
				t.Errorf("query: got %v, oslo %v", u.Options, w.Query)
			}
		})
	}
}

func FuzzParseTransportURL(f *testing.F) {
	for _, s := range []string{
		"rabbit://nova:secret@rabbit1:5672/", "rabbit://u:p@h1:1,u2:p2@[::1]:2/v%2Fh?ssl=1&ssl=0",
		"rabbit://", "rabbit://[::1", "rabbit://a@b@h:5/x#f", "kafka://h", "rabbit://u:p%zz@h/%25%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseTransportURL(s)
		if err != nil {
			if !errors.Is(err, ErrTransportURL) {
				t.Fatalf("error not wrapping ErrTransportURL: %v", err)
			}
			return
		}
		if len(u.Hosts) == 0 || u.VirtualHost == "" {
			t.Fatalf("parsed %q to %+v", s, u)
		}
		for _, h := range u.Hosts {
			if h.Host == "" || h.Port < 1 || h.Port > 65535 || h.Username == "" || h.Password == "" {
				t.Fatalf("parsed %q to host %+v", s, h)
			}
		}
		_ = u.Redacted()
	})
}
