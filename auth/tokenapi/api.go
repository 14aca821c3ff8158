package tokenapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vncrelay/vncrelay/auth"
)

// Format is how the API's answer names the console.
type Format uint8

// Answer formats.
const (
	// Text is BaseTokenAPI's: the body is "host:port".
	Text Format = iota
	// JSON is JSONTokenApi's: the body is {"host": ..., "port": ...}.
	JSON
)

// String returns the websockify plugin name of the format.
func (f Format) String() string {
	if f == JSON {
		return "JSONTokenApi"
	}
	return "BaseTokenAPI"
}

// Defaults for Options' zero values.
const (
	DefaultMaxConns = 32
	// DefaultTimeout bounds a lookup whose context has no deadline.
	DefaultTimeout = 5 * time.Second
	// MaxBody is the most bytes of an answer read; a longer one is a store
	// error.
	MaxBody = 64 << 10
)

// Options tune an API; the zero value is the defaults.
type Options struct {
	// MaxConns is the most connections to the API's host at once (idle ones
	// are kept up to the same number); a lookup that finds them all busy
	// waits until its deadline. 0 means DefaultMaxConns.
	MaxConns int
	// Timeout bounds lookups whose context has no deadline. 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// API looks tokens up over HTTP. It is safe for concurrent use.
type API struct {
	tpl    Template
	format Format
	client *http.Client
	limit  time.Duration
}

// New returns an API for a source as websockify takes it (ParseTemplate).
func New(source string, format Format, opt Options) (*API, error) {
	tpl, err := ParseTemplate(source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	if opt.MaxConns <= 0 {
		opt.MaxConns = DefaultMaxConns
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment, // as requests does
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxConnsPerHost:     opt.MaxConns,
		MaxIdleConnsPerHost: opt.MaxConns,
		MaxIdleConns:        opt.MaxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: opt.Timeout,
	}
	return &API{tpl: tpl, format: format, client: &http.Client{Transport: tr}, limit: opt.Timeout}, nil
}

// Template returns the parsed source.
func (a *API) Template() Template { return a.tpl }

// Resolve implements auth.Resolver with a GET of the token's URL. The
// answer:
//
//   - 2xx with a body that names a console: that target.
//   - 4xx other than 408 and 429 (404 Not Found above all, also 400, 401,
//     403, 410): auth.ErrUnknownToken, a 403 for the browser, as an
//     *auth.RefusedError whose reason ("token API answered 404") the relay
//     logs. websockify treats every status of 400 and above so.
//   - 5xx, 408, 429, any other status, no answer before the deadline, a
//     connection failure, or a 2xx body that names no console (bad JSON, no
//     port, more than 64 KiB): a store error, the engine's 503 with
//     Retry-After. websockify refuses the console in all these cases too.
//
// The tokens "", "." and ".." are unknown without a request. Errors name
// the template, never the URL with the token.
func (a *API) Resolve(ctx context.Context, token string) (auth.Target, error) {
	if token == "" || token == "." || token == ".." {
		return auth.Target{}, auth.ErrUnknownToken
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.limit)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.tpl.URL(Escape(token)), nil)
	if err != nil {
		return auth.Target{}, fmt.Errorf("%s GET %s: build request: %w", a.format, a.tpl, stripURL(err))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return auth.Target{}, fmt.Errorf("%s GET %s: %w", a.format, a.tpl, stripURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return auth.Target{}, fmt.Errorf("%s GET %s: read answer: %w", a.format, a.tpl, stripURL(err))
	}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return auth.Target{}, &auth.RefusedError{Reason: fmt.Sprintf("token API answered %d", c)}
	default:
		return auth.Target{}, fmt.Errorf("%s GET %s: status %d", a.format, a.tpl, c)
	}
	if len(body) > MaxBody {
		return auth.Target{}, fmt.Errorf("%s GET %s: answer longer than %d bytes", a.format, a.tpl, MaxBody)
	}
	var t auth.Target
	if a.format == JSON {
		t, err = ParseJSONAnswer(body)
	} else {
		t, err = ParseTextAnswer(body)
	}
	if err != nil {
		return auth.Target{}, fmt.Errorf("%s GET %s: %w", a.format, a.tpl, err)
	}
	return t, nil
}

// Close closes the idle connections.
func (a *API) Close() { a.client.CloseIdleConnections() }

// stripURL drops the URL (it holds the token) from a client error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ParseTextAnswer reads BaseTokenAPI's answer: "host:port" with exactly one
// ':' (websockify splits at every ':'), host "unix_socket" making the port a
// socket path, checked as auth.ParseHostAndPort checks it. Differences:
// white space around the answer is dropped (websockify keeps it, and
// getaddrinfo then fails on a port like "5900\n"), and the answer must be
// UTF-8. Errors do not quote the answer.
func ParseTextAnswer(body []byte) (auth.Target, error) {
	if !utf8.Valid(body) {
		return auth.Target{}, errors.New("answer not UTF-8")
	}
	s := strings.TrimFunc(string(body), isPySpace)
	host, port, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(port, ":") {
		return auth.Target{}, errors.New("answer is not host:port with one ':'")
	}
	t, err := auth.ParseHostAndPort(host, port)
	if err != nil {
		return auth.Target{}, fmt.Errorf("answer: %w", err)
	}
	return t, nil
}

// ParseJSONAnswer reads JSONTokenApi's answer: a JSON object whose "host" is
// a string and whose "port" is an integer or a string of decimal digits
// (websockify passes either to getaddrinfo), host "unix_socket" making the
// port a socket path. Other members are ignored; a later duplicate member
// wins, as in Python. Errors do not quote the answer.
func ParseJSONAnswer(body []byte) (auth.Target, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return auth.Target{}, errors.New("answer is not a JSON object")
	}
	var host string
	if err := json.Unmarshal(obj["host"], &host); err != nil || obj["host"] == nil {
		return auth.Target{}, errors.New(`answer's "host" is missing or not a string`)
	}
	raw := bytes.TrimSpace(obj["port"])
	var port string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return auth.Target{}, errors.New(`answer has no "port"`)
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &port); err != nil {
			return auth.Target{}, errors.New(`answer's "port" is not a string`)
		}
	default:
		n, err := strconv.ParseUint(string(raw), 10, 16)
		if err != nil {
			return auth.Target{}, errors.New(`answer's "port" is not an integer 1-65535`)
		}
		port = strconv.FormatUint(n, 10)
	}
	t, err := auth.ParseHostAndPort(host, port)
	if err != nil {
		return auth.Target{}, fmt.Errorf("answer: %w", err)
	}
	return t, nil
}

// isPySpace is Python's str.isspace: Go's unicode.IsSpace and U+001C-U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }
