package tokenapi

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct{ name, in, url, err string }{
		{"path", "http://api:8080/tokens/%s", "http://api:8080/tokens/TOK", ""},
		{"query", "https://api/lookup?token=%s&fmt=text", "https://api/lookup?token=TOK&fmt=text", ""},
		{"literal percent", "http://api/a%%20b/%s", "http://api/a%20b/TOK", ""},
		{"no slot", "http://api/tokens", "", "no %s"},
		{"two slots", "http://api/%s/%s", "", "more than one"},
		{"other directive", "http://api/a%20b/%s", "", "unsupported directive"},
		{"width", "http://api/%10s", "", "unsupported directive"},
		{"trailing percent", "http://api/%s%", "", "at the end"},
		{"not http", "ftp://api/%s", "", "http://"},
		{"relative", "/tokens/%s", "", "http://"},
		{"credentials", "http://u:p@api/%s", "", "credentials"},
		{"token in the fragment", "http://api/x#%s", "", "fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := ParseTemplate(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || tpl.URL("TOK") != tt.url {
				t.Fatalf("got %q, %v; want %q", tpl.URL("TOK"), err, tt.url)
			}
			if tpl.String() != tt.in {
				t.Fatalf("String() = %q, want %q", tpl.String(), tt.in)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"3f1c-9a_b.c~d": "3f1c-9a_b.c~d",
		"../admin":      "..%2Fadmin",
		"a?b=c&d#e":     "a%3Fb%3Dc%26d%23e",
		"a b+c%":        "a%20b%2Bc%25",
		"é":             "%C3%A9",
		"\x00\r\n":      "%00%0D%0A",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseTemplate checks that a parsed template gives back its source,
// and that any token escaped into it stays one opaque piece: the URL
// parses, and its path and query decode to the template's with the token.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"http://a/%s", "http://a/x?t=%s", "http://a/%%/%s", "%s", "http://a/%", "http://[::1]:1/%s/x"} {
		f.Add(s, "../x?y#z")
	}
	f.Fuzz(func(t *testing.T, src, token string) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			return
		}
		if tpl.String() != src {
			t.Fatalf("String() = %q, source %q", tpl.String(), src)
		}
		esc := Escape(token)
		for i := 0; i < len(esc); i++ {
			if !unreserved(esc[i]) && esc[i] != '%' {
				t.Fatalf("Escape(%q) = %q", token, esc)
			}
		}
		if got, err := url.PathUnescape(esc); err != nil || got != token {
			t.Fatalf("unescape(Escape(%q)) = %q, %v", token, got, err)
		}
		if _, err := url.Parse(tpl.URL(esc)); err != nil {
			t.Fatalf("URL with an escaped token does not parse: %v", err)
		}
	})
}
