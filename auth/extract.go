package auth

import (
	"net/http"
	"net/url"

	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals of token extraction.
var (
	ErrTokenRepeated = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "more than one token in the query"}
	ErrBadQuery      = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "malformed query string"}
)

// TokenFrom returns the token of an upgrade request and where it came from:
// the "token" query parameter, else a "token" cookie (Nova's convention), else,
// when hostToken is set, the Host header (websockify's --host-token). It returns
// "" when the request has none. More than one token in the query is refused:
// which one a proxy in front would act on is ambiguous.
func TokenFrom(r *wsframe.Request, hostToken bool) (token, source string, err error) {
	if r.Query != nil {
		q, err := url.ParseQuery(string(r.Query))
		if err != nil {
			return "", "", ErrBadQuery
		}
		switch v := q["token"]; len(v) {
		case 0:
		case 1:
			if v[0] != "" {
				return v[0], "query", nil
			}
		default:
			return "", "", ErrTokenRepeated
		}
	}
	if r.Cookie != nil {
		if cookies, err := http.ParseCookie(string(r.Cookie)); err == nil {
			for _, c := range cookies {
				if c.Name == "token" && c.Value != "" {
					return c.Value, "cookie", nil
				}
			}
		}
	}
	if hostToken && len(r.Host) > 0 {
		return string(r.Host), "host", nil
	}
	return "", "", nil
}
