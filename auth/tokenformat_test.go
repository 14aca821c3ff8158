package auth

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// tokenFormatCase is a token file and what ParseTokens must load from it:
// want (token → target), and the numbers of the lines it reports. ws is what
// websockify's ReadOnlyTokenFile loads from the same bytes (token → its
// rsplit target joined with "|"), checked by TestParseTokensMatchesWebsockify;
// wsFails says websockify fails the whole file.
type tokenFormatCase struct {
	name, content string
	want          map[string]Target
	errLines      []int
	ws            map[string]string
	wsFails       bool
}

func tcp(addr string) Target   { return Target{Network: "tcp", Address: addr} }
func unixT(path string) Target { return Target{Network: "unix", Address: path} }

// line is a one-line case that loads tok → t (ws: websockify's target).
func line(name, text, tok string, t Target, ws string) tokenFormatCase {
	return tokenFormatCase{name: name, content: text + "\n",
		want: map[string]Target{tok: t}, ws: map[string]string{tok: ws}}
}

// refused is a one-line case that ParseTokens reports; ws is what websockify
// loads for tok ("" for a syntax error there too).
func refused(name, text, tok, ws string) tokenFormatCase {
	c := tokenFormatCase{name: name, content: text + "\n", errLines: []int{1}, ws: map[string]string{}}
	if ws != "" {
		c.ws[tok] = ws
	}
	return c
}

var tokenFormatCases = []tokenFormatCase{
	// Target forms websockify dials, loaded the same way.
	line("host:port", "vm1: 10.0.0.5:5901", "vm1", tcp("10.0.0.5:5901"), "10.0.0.5|5901"),
	line("host name", "vm2: host.example:5900", "vm2", tcp("host.example:5900"), "host.example|5900"),
	line("IPv6 loopback, last colon is the port", "v6: ::1:5901", "v6", tcp("[::1]:5901"), "::1|5901"),
	line("IPv6 address", "v6: 2001:db8::5:5901", "v6", tcp("[2001:db8::5]:5901"), "2001:db8::5|5901"),
	line("IPv6 with zone", "z: fe80::1%eth0:5900", "z", tcp("[fe80::1%eth0]:5900"), "fe80::1%eth0|5900"),
	line("IPv4-mapped IPv6", "m: ::ffff:10.0.0.1:5900", "m", tcp("[::ffff:10.0.0.1]:5900"), "::ffff:10.0.0.1|5900"),
	line("unix socket", "u: unix_socket:/run/vm1.sock", "u", unixT("/run/vm1.sock"), "unix_socket|/run/vm1.sock"),
	line("unix socket relative path", "u: unix_socket:vm1.sock", "u", unixT("vm1.sock"), "unix_socket|vm1.sock"),
	line("unix socket path with space", "u: unix_socket:/run/my vm.sock", "u", unixT("/run/my vm.sock"), "unix_socket|/run/my vm.sock"),
	line("port with leading zeros", "p: 10.0.0.1:05901", "p", tcp("10.0.0.1:5901"), "10.0.0.1|05901"),
	line("host name with underscore", "h: vm_1.internal:5900", "h", tcp("vm_1.internal:5900"), "vm_1.internal|5900"),
	// White space, as Python's strip and \s see it.
	line("tab separator", "t:\t10.0.0.1:1", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("several spaces", "t:    10.0.0.1:1", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("surrounding white space", " \t t: 10.0.0.1:1 \t ", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("vertical tab separator", "t:\v10.0.0.1:1", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("no-break space separator", "t:\u00a010.0.0.1:1", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("information separator U+001C", "t:\x1c10.0.0.1:1", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("ideographic space stripped", "\u3000t: 10.0.0.1:1\u3000", "t", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	// Tokens.
	line("token with a space", "my vm: 10.0.0.1:1", "my vm", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("token with colons", "a:b: 10.0.0.1:1", "a:b", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("token ending in a colon", "a:: 10.0.0.1:1", "a:", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("token with trailing space", "tok : 10.0.0.1:1", "tok ", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("token in UTF-8", "tökén: 10.0.0.1:1", "tökén", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	line("token with a hash inside", "a#b: 10.0.0.1:1", "a#b", tcp("10.0.0.1:1"), "10.0.0.1|1"),
	// A form websockify cannot dial, accepted as meant.
	line("bracketed IPv6 (websockify cannot dial)", "b6: [::1]:5902", "b6", tcp("[::1]:5902"), "[::1]|5902"),
	// Lines refused by both.
	refused("no separator", "vm3:10.0.0.1:5900", "", ""),
	refused("two separators", "a: b: c:1", "", ""),
	refused("separator only", "vm:", "", ""),
	// Lines websockify loads but cannot dial.
	refused("no port", "vm4: 10.0.0.1", "vm4", "10.0.0.1"),
	refused("empty port", "vm4: 10.0.0.1:", "vm4", "10.0.0.1|"),
	refused("trailing comment", "x: h:7 # c", "x", "h|7 # c"),
	refused("host with trailing space", "sp: host :1", "sp", "host |1"),
	refused("quoted host", `q: "h":10`, "q", `"h"|10`),
	refused("extra colons", "many: a:b:c", "many", "a:b|c"),
	refused("IPv6 without port", "v6: ::1", "v6", ":|1"),
	refused("unix socket path with colon", "u: unix_socket:/run/a:b", "u", "unix_socket:/run/a|b"),
	refused("unix socket empty path", "u: unix_socket:", "u", "unix_socket|"),
	refused("port service name", "s: 10.0.0.1:rfb", "s", "10.0.0.1|rfb"),
	refused("bracketed IPv4", "b4: [10.0.0.1]:1", "b4", "[10.0.0.1]|1"),
	refused("port with sign", "s: 10.0.0.1:+5900", "s", "10.0.0.1|+5900"),
	refused("port zero", "z: 10.0.0.1:0", "z", "10.0.0.1|0"),
	// Lines websockify loads and dials somewhere unmeant: refused.
	refused("empty host dials the proxy's loopback", "e: :5900", "e", "|5900"),
	refused("port over 65535 wraps in getaddrinfo", "vm5: 10.0.0.1:70000", "vm5", "10.0.0.1|70000"),
	refused("IPv4 shorthand", "s: 127.1:5900", "s", "127.1|5900"),
	refused("IPv4 hex", "s: 0x7f.1:5900", "s", "0x7f.1|5900"),
	refused("IPv4 leading zero is octal to inet_aton", "s: 010.0.0.1:5900", "s", "010.0.0.1|5900"),
	refused("IPv4 one number", "s: 2130706433:5900", "s", "2130706433|5900"),
	refused("non-ASCII host name", "i: bücher.example:5900", "i", "bücher.example|5900"),
	refused("unix socket abstract name", "u: unix_socket:@vnc", "u", "unix_socket|@vnc"),
	refused("unix socket path too long", "u: unix_socket:/"+strings.Repeat("a", 107), "u", "unix_socket|/"+strings.Repeat("a", 107)),
	refused("empty token", ": 10.0.0.1:1", "", "10.0.0.1|1"),
	// Lines skipped by both.
	{name: "comment", content: "# vm: 1.2.3.4:1\n", want: map[string]Target{}, ws: map[string]string{}},
	{name: "indented comment", content: "  \t# vm: 1.2.3.4:1\n", want: map[string]Target{}, ws: map[string]string{}},
	{name: "blank lines", content: "\n \n\t\n", want: map[string]Target{}, ws: map[string]string{}},
	{name: "empty file", content: "", want: map[string]Target{}, ws: map[string]string{}},
	// Whole files.
	{name: "Windows line endings", content: "# c\r\na: 10.0.0.1:1\r\nb: ::1:2\r\n",
		want: map[string]Target{"a": tcp("10.0.0.1:1"), "b": tcp("[::1]:2")},
		ws:   map[string]string{"a": "10.0.0.1|1", "b": "::1|2"}},
	{name: "old Mac line endings", content: "a: 10.0.0.1:1\rb: 10.0.0.1:2\r",
		want: map[string]Target{"a": tcp("10.0.0.1:1"), "b": tcp("10.0.0.1:2")},
		ws:   map[string]string{"a": "10.0.0.1|1", "b": "10.0.0.1|2"}},
	{name: "mixed line endings and line numbers", content: "a: 10.0.0.1:1\r\rbad\nb: 10.0.0.1:2",
		want:     map[string]Target{"a": tcp("10.0.0.1:1"), "b": tcp("10.0.0.1:2")},
		errLines: []int{3},
		ws:       map[string]string{"a": "10.0.0.1|1", "b": "10.0.0.1|2"}},
	{name: "no final newline", content: "a: 10.0.0.1:1",
		want: map[string]Target{"a": tcp("10.0.0.1:1")}, ws: map[string]string{"a": "10.0.0.1|1"}},
	{name: "byte order mark skipped (websockify keeps it in the token)", content: "\ufeffa: 10.0.0.1:1\n",
		want: map[string]Target{"a": tcp("10.0.0.1:1")}, ws: map[string]string{"\ufeffa": "10.0.0.1|1"}},
	{name: "byte order mark before a comment", content: "\ufeff# c\na: 10.0.0.1:1\n",
		want: map[string]Target{"a": tcp("10.0.0.1:1")}, ws: map[string]string{"a": "10.0.0.1|1"}, errLines: nil},
	{name: "a later line wins", content: "a: 10.0.0.1:1\na: 10.0.0.2:2\n",
		want: map[string]Target{"a": tcp("10.0.0.2:2")}, ws: map[string]string{"a": "10.0.0.2|2"}},
	{name: "a bad line does not remove an earlier good one", content: "a: 10.0.0.1:1\na: :1\n",
		want: map[string]Target{"a": tcp("10.0.0.1:1")}, errLines: []int{2}, ws: map[string]string{"a": "|1"}},
	{name: "not UTF-8 (websockify fails the file)", content: "a: 10.0.0.1:1\nb\xff: 10.0.0.1:2\n",
		want: map[string]Target{"a": tcp("10.0.0.1:1")}, errLines: []int{2}, wsFails: true},
	{name: "line too long, the rest still read", content: "x: " + strings.Repeat("a", MaxTokenFileLine) + ":1\nb: 10.0.0.1:2\n",
		want: map[string]Target{"b": tcp("10.0.0.1:2")}, errLines: []int{1},
		ws: map[string]string{"x": strings.Repeat("a", MaxTokenFileLine) + "|1", "b": "10.0.0.1|2"}},
}

// tokenFileReasons are all the reasons ParseTokens gives for a line: the
// message after "file:line: " is one of these and so never quotes a token.
var tokenFileReasons = regexp.MustCompile(`^(not UTF-8|` +
	`more than one ": " separator; want "token: host:port"|no ": " separator; want "token: host:port"|` +
	`empty token|target has no port|port must be a number 1-65535|empty host|bad IPv6 address|` +
	`IPv4 address not in dotted-quad form|host name longer than 253 bytes|` +
	`host name not ASCII letters, digits, '-', '.', '_'|empty unix socket path|` +
	`unix socket path longer than 107 bytes|unix socket path starts with '@' \(the abstract namespace\)|` +
	`unix socket path holds a NUL byte|line longer than 4096 bytes)$`)

// checkTokenErrors checks that errs report exactly lines (nil: none), each
// as "name:N: reason" with a known reason.
func checkTokenErrors(t *testing.T, name string, errs []error, lines []int) {
	t.Helper()
	if len(errs) != len(lines) {
		t.Fatalf("errors %v, want lines %v", errs, lines)
	}
	for i, e := range errs {
		prefix := fmt.Sprintf("%s:%d: ", name, lines[i])
		msg, ok := strings.CutPrefix(e.Error(), prefix)
		if !ok || !tokenFileReasons.MatchString(msg) {
			t.Errorf("error %q: want %q and a known reason", e, prefix)
		}
	}
}

func TestParseTokensForms(t *testing.T) {
	for _, tt := range tokenFormatCases {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]Target{}
			errs := ParseTokens(strings.NewReader(tt.content), "t.conf", got)
			checkTokenErrors(t, "t.conf", errs, tt.errLines)
			want := tt.want
			if want == nil {
				want = map[string]Target{}
			}
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for tok, tg := range want {
				if got[tok] != tg {
					t.Errorf("%q: got %v, want %v", tok, got[tok], tg)
				}
			}
		})
	}
}

func TestParseTokensMatchesWebsockify(t *testing.T) {
	var contents [][]byte
	for _, tt := range tokenFormatCases {
		contents = append(contents, []byte(tt.content))
	}
	var got []struct {
		Targets map[string][]string
		Error   string
	}
	runAnchor(t, "websockify.token_plugins", "websockify_tokenfile.py", contents, &got)
	for i, tt := range tokenFormatCases {
		if tt.wsFails {
			if got[i].Error == "" {
				t.Errorf("%s: websockify loaded %v, want a failure", tt.name, got[i].Targets)
			}
			continue
		}
		if got[i].Error != "" {
			t.Errorf("%s: websockify failed: %s", tt.name, got[i].Error)
			continue
		}
		ws := map[string]string{}
		for tok, parts := range got[i].Targets {
			ws[tok] = strings.Join(parts, "|")
		}
		if fmt.Sprint(ws) != fmt.Sprint(tt.ws) {
			t.Errorf("%s: websockify loads %q, the table says %q", tt.name, ws, tt.ws)
		}
	}
}

// TestParseTokens is the original table: a mix of lines in one file.
func TestParseTokens(t *testing.T) {
	in := `# comment
vm1: 10.0.0.5:5901
  vm2: host.example:5900  
vm6: [::1]:5902

broken line
vm3:10.0.0.1:5900
vm4: 10.0.0.1
vm5: 10.0.0.1:70000
a: b: c:1
vm1: 10.0.0.6:5901
`
	got := map[string]Target{}
	errs := ParseTokens(strings.NewReader(in), "t.conf", got)
	want := map[string]Target{
		"vm1": tcp("10.0.0.6:5901"), // a later line wins
		"vm2": tcp("host.example:5900"),
		"vm6": tcp("[::1]:5902"),
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	checkTokenErrors(t, "t.conf", errs, []int{6, 7, 8, 9, 10})
}

func FuzzParseTokens(f *testing.F) {
	for _, tt := range tokenFormatCases {
		f.Add([]byte(tt.content))
	}
	f.Add([]byte("a: 127.0.0.1:5900\n# c\nb: [::1]:1\n"))
	f.Add([]byte("x:: y\n\n\t\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]Target{}
		for _, e := range ParseTokens(bytes.NewReader(b), "f", got) {
			msg, ok := strings.CutPrefix(e.Error(), "f:")
			if i := strings.Index(msg, ": "); ok && i > 0 {
				msg = msg[i+2:]
			}
			if !tokenFileReasons.MatchString(msg) {
				t.Fatalf("error %q is not a known reason", e)
			}
		}
		for tok, tg := range got {
			if tok == "" || strings.ContainsAny(tok, "\r\n") || tok[0] == '#' ||
				strings.TrimLeftFunc(tok, isPySpace) != tok {
				t.Fatalf("token %q", tok)
			}
			switch tg.Network {
			case "tcp":
				if _, err := ParseHostPort(tg.Address); err != nil {
					t.Fatalf("target %q does not parse again: %v", tg.Address, err)
				}
			case "unix":
				if checkUnixPath(tg.Address) != "" || strings.Contains(tg.Address, ":") {
					t.Fatalf("socket path %q", tg.Address)
				}
			default:
				t.Fatalf("network %q", tg.Network)
			}
			// Written back in the file format, the line loads the same.
			form := tg.Address
			if tg.Network == "unix" {
				form = unixSocketHost + ":" + tg.Address
			}
			again := map[string]Target{}
			if errs := ParseTokens(strings.NewReader("\n"+tok+": "+form+"\n"), "g", again); len(errs) > 0 || again[tok] != tg || len(again) != 1 {
				t.Fatalf("%q: %v written back loads %v %v", tok, tg, again, errs)
			}
		}
	})
}
