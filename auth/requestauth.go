package auth

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/vncrelay/vncrelay/wsframe"
)

// RequestAuth is websockify's --auth-plugin: a check of who is asking, made
// on every upgrade (and, with --web-auth, on every static file request)
// before the token is even read, so that a client without credentials learns
// nothing about tokens. websockify checks the token first and the
// credentials second; checking credentials first is deliberate.
//
// Authenticate runs on the event loop: implementations only look at the
// request and the peer they are given, never block, and return nil or a
// *wsframe.HTTPError that the engine sends as the refusal (its Reason goes
// to the log and the Vncrelay-Reason header: it never holds a secret).
type RequestAuth interface {
	Authenticate(req *wsframe.Request, peer Peer) error
}

// Peer is what the engine knows of the client beyond its request.
type Peer struct {
	// ClientCertCN is the common name of the client certificate verified in
	// the TLS handshake; "" when the connection is not TLS or the client
	// sent no certificate.
	ClientCertCN string
}

// websockifyAuthModule is the Python module websockify's own auth plugins
// live in; --auth-plugin names a class in it, with or without the module.
const websockifyAuthModule = "websockify.auth_plugins."

// ParseRequestAuth builds the plugin websockify names class (bare, as
// "BasicHTTPAuth", or dotted, as "websockify.auth_plugins.BasicHTTPAuth")
// with its --auth-source. The plugins are websockify's three:
// BasicHTTPAuth (source "user:password"), ExpectOrigin (source: Origins
// separated by white space) and ClientCertCNAuth (source: common names
// separated by white space; it needs TLS with client certificates). Any
// other class, or a source the plugin cannot use, is an error.
func ParseRequestAuth(class, source string) (RequestAuth, error) {
	name := class
	if strings.Contains(class, ".") {
		if !strings.HasPrefix(class, websockifyAuthModule) {
			return nil, fmt.Errorf("--auth-plugin %s: only websockify's own plugins (%s...) are available", class, websockifyAuthModule)
		}
		name = strings.TrimPrefix(class, websockifyAuthModule)
	}
	switch name {
	case "BasicHTTPAuth":
		return NewBasicHTTPAuth(source)
	case "ExpectOrigin":
		return ExpectOrigin(strings.Fields(source)), nil
	case "ClientCertCNAuth":
		return ClientCertCNAuth(strings.Fields(source)), nil
	}
	return nil, fmt.Errorf("--auth-plugin %s: no such websockify plugin (have BasicHTTPAuth, ExpectOrigin, ClientCertCNAuth)", class)
}

// Refusals of the request auth plugins, as websockify answers them.
var (
	// errAuthRequired answers a request without credentials, or with wrong
	// ones: websockify's BasicHTTPAuth demands them again with this realm.
	errAuthRequired = &wsframe.HTTPError{Status: http.StatusUnauthorized, Reason: "authentication required",
		Header: `WWW-Authenticate: Basic realm="Websockify"`}
	errAuthMalformed = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "malformed Authorization header"}
	errInvalidOrigin = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "Invalid Origin"}
	errClientCert    = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "client certificate not allowed"}
)

// BasicHTTPAuth is websockify's BasicHTTPAuth plugin: the request must carry
// "Authorization: Basic base64(user:password)" (RFC 7617) matching the
// source. No header, or credentials that do not match, is answered 401 with
// `WWW-Authenticate: Basic realm="Websockify"` (the browser asks the user);
// a header that is not Basic or not base64 of "user:password" is 403.
//
// Differences from websockify, deliberate: the scheme name is matched
// without regard to case (RFC 9110 section 11.1; websockify wants "Basic "
// exactly), base64 is decoded strictly (Python's b64decode drops stray
// characters), the comparison takes constant time, and a password outside
// ASCII matches whether the browser sent it in UTF-8 (what browsers send
// today) or ISO-8859-1 (the only form websockify accepts).
type BasicHTTPAuth struct {
	utf8, latin1 []byte // the source's credentials in both encodings; latin1 nil if not representable
}

// NewBasicHTTPAuth makes the plugin for source "user:password". The user
// name cannot hold ':' (RFC 7617); the password can.
func NewBasicHTTPAuth(source string) (*BasicHTTPAuth, error) {
	if !strings.Contains(source, ":") {
		return nil, fmt.Errorf("BasicHTTPAuth: --auth-source must be user:password")
	}
	a := &BasicHTTPAuth{utf8: []byte(source)}
	if l, ok := toLatin1(source); ok {
		a.latin1 = l
	}
	return a, nil
}

// Authenticate checks the request's Authorization header; see BasicHTTPAuth.
func (a *BasicHTTPAuth) Authenticate(req *wsframe.Request, _ Peer) error {
	creds, err := BasicCredentials(req.Authorization)
	if err != nil {
		return err
	}
	if creds == nil {
		return errAuthRequired
	}
	ok := subtle.ConstantTimeCompare(creds, a.utf8) == 1
	if a.latin1 != nil {
		ok = subtle.ConstantTimeCompare(creds, a.latin1) == 1 || ok
	}
	if !ok {
		return errAuthRequired
	}
	return nil
}

// BasicCredentials decodes an Authorization header value of the Basic
// scheme (RFC 7617): it returns the decoded "user:password" bytes; nil and
// no error when the header is absent; a 403 *wsframe.HTTPError when it is of
// another scheme, not strict standard base64, or holds no ':'.
func BasicCredentials(header []byte) ([]byte, error) {
	if header == nil {
		return nil, nil
	}
	scheme, rest, _ := bytes.Cut(header, []byte{' '})
	if !bytes.EqualFold(scheme, []byte("Basic")) {
		return nil, errAuthMalformed
	}
	rest = bytes.TrimLeft(rest, " ")
	creds := make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
	n, err := base64.StdEncoding.Strict().Decode(creds, rest)
	if err != nil || bytes.IndexByte(creds[:n], ':') < 0 {
		return nil, errAuthMalformed
	}
	return creds[:n], nil
}

// toLatin1 encodes s in ISO-8859-1, if every rune of it is in that set.
func toLatin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == utf8.RuneError {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// ExpectOrigin is websockify's ExpectOrigin plugin: the request's Origin
// header must be exactly one of these (scheme, host and port, as browsers
// send it, e.g. "https://console.example.com"); a missing Origin is refused
// too (403 "Invalid Origin"), as websockify does. For Nova's rule (the
// Host's own origin, allowed host names, a missing Origin allowed) use
// --check-origin / --allowed-origin instead.
type ExpectOrigin []string

// Authenticate checks the request's Origin; see ExpectOrigin.
func (e ExpectOrigin) Authenticate(req *wsframe.Request, _ Peer) error {
	if req.Origin != nil {
		for _, o := range e {
			if string(req.Origin) == o {
				return nil
			}
		}
	}
	return errInvalidOrigin
}

// ClientCertCNAuth is websockify's ClientCertCNAuth plugin: the common name
// of the client certificate verified in the TLS handshake must be one of
// these. A connection without one (not TLS, or no certificate) is refused
// 403. It needs TLS with --verify-client: without it no client ever has a
// certificate, and the command line is refused at start.
type ClientCertCNAuth []string

// Authenticate checks the peer's certificate name; see ClientCertCNAuth.
func (c ClientCertCNAuth) Authenticate(_ *wsframe.Request, peer Peer) error {
	if peer.ClientCertCN != "" {
		for _, cn := range c {
			if peer.ClientCertCN == cn {
				return nil
			}
		}
	}
	return errClientCert
}
