package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/wsframe"
)

func TestTokenFrom(t *testing.T) {
	tests := []struct {
		name, query, cookie, host string
		hostToken                 bool
		token, source             string
		err                       error
	}{
		{name: "query", query: "token=abc", token: "abc", source: "query"},
		{name: "query escaped", query: "token=a%2Bb", token: "a+b", source: "query"},
		{name: "two in query", query: "token=a&token=b", err: ErrTokenRepeated},
		{name: "cookie", cookie: "x=1; token=ck", token: "ck", source: "cookie"},
		{name: "query over cookie", query: "token=q", cookie: "token=c", token: "q", source: "query"},
		{name: "host", host: "vm1.consoles.example", hostToken: true, token: "vm1.consoles.example", source: "host"},
		{name: "host ignored without flag", host: "vm1"},
		{name: "none"},
		{name: "bad query", query: "token=%zz", err: ErrBadQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &wsframe.Request{Host: []byte(tt.host)}
			if tt.query != "" {
				r.Query = []byte(tt.query)
			}
			if tt.cookie != "" {
				r.Cookie = []byte(tt.cookie)
			}
			tok, src, err := TokenFrom(r, tt.hostToken)
			if tok != tt.token || src != tt.source || !errors.Is(err, tt.err) {
				t.Fatalf("got %q %q %v", tok, src, err)
			}
		})
	}
}

func TestMask(t *testing.T) {
	m := Mask("secret-token-value")
	if strings.Contains(m, "secret") || !strings.HasPrefix(m, "tok:") || len(m) != 12 || m != Mask("secret-token-value") {
		t.Fatalf("Mask = %q", m)
	}
}
