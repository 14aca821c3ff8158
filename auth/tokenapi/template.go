package tokenapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Template is a parsed token API source: the URL text before and after the
// one place the token goes.
type Template struct {
	before, after string
}

// ParseTemplate reads a BaseTokenAPI/JSONTokenApi source as websockify
// uses it, with Python's "%" operator and the token as the one argument: the
// source must hold exactly one "%s", "%%" stands for "%", and any other "%"
// directive is refused (Python fails such a lookup, or formats the token in
// a way no URL means: "%20s" pads it). The URL, with a token in place, must
// be absolute http or https with a host, and the token must be in its path
// or query (websockify also takes it in the host, which lets a client choose
// the server the relay asks). Errors quote nothing of the source
// but its scheme (it may hold credentials).
func ParseTemplate(source string) (Template, error) {
	var b strings.Builder
	var tpl Template
	slots := 0
	for i := 0; i < len(source); i++ {
		c := source[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(source) {
			return Template{}, errors.New("token API URL: '%' at the end (write %% for a literal '%')")
		}
		i++
		switch source[i] {
		case '%':
			b.WriteByte('%')
		case 's':
			slots++
			if slots > 1 {
				return Template{}, errors.New("token API URL: more than one %s")
			}
			tpl.before = b.String()
			b.Reset()
		default:
			return Template{}, fmt.Errorf("token API URL: unsupported directive %%%c after byte %d (only %%s for the token and %%%% for '%%')", source[i], i-1)
		}
	}
	if slots == 0 {
		return Template{}, errors.New("token API URL: no %s where the token goes")
	}
	tpl.after = b.String()
	const slot = "vncrelay-token-slot"
	u, err := url.Parse(tpl.URL(slot))
	if err != nil {
		return Template{}, errors.New("token API URL does not parse as a URL")
	}
	if strings.Contains(u.Scheme+"://"+u.Host, slot) {
		// websockify would let the token name the server it asks: a client
		// could then point the relay at any host. The token goes in the
		// path or the query.
		return Template{}, errors.New("token API URL: %s must be in the path or the query, not the scheme or host")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return Template{}, errors.New("token API URL: want http:// or https:// and a host")
	}
	if u.User != nil {
		return Template{}, errors.New("token API URL: credentials in the URL are not supported")
	}
	if strings.Contains(tpl.before, "#") {
		return Template{}, errors.New("token API URL: the token would be in the fragment, which is never sent")
	}
	return tpl, nil
}

// URL returns the URL for token, which must already be escaped.
func (t Template) URL(escaped string) string { return t.before + escaped + t.after }

// String returns the source with "%s" where the token goes.
func (t Template) String() string {
	return strings.ReplaceAll(t.before, "%", "%%") + "%s" + strings.ReplaceAll(t.after, "%", "%%")
}

// Escape percent-encodes every byte of token except RFC 3986's unreserved
// characters (ALPHA, DIGIT, '-', '.', '_', '~'), so that the token is one
// opaque piece of a path segment or query value wherever the template
// puts it.
func Escape(token string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(token); i++ {
		if !unreserved(token[i]) {
			n++
		}
	}
	if n == 0 {
		return token
	}
	b := make([]byte, 0, len(token)+2*n)
	for i := 0; i < len(token); i++ {
		c := token[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
