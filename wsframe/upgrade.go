package wsframe

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// ProtocolBinary is the only subprotocol the relay speaks (websockify's).
const ProtocolBinary = "binary"

// Refusals of an upgrade, with their statuses.
var (
	ErrNoBinary = &HTTPError{Status: http.StatusBadRequest, Reason: "subprotocols offered, but not \"binary\""}
	ErrVersion  = &HTTPError{
		Status: http.StatusUpgradeRequired, Reason: "WebSocket version 13 required",
		Header: "Sec-WebSocket-Version: 13",
	}
	ErrMethod = &HTTPError{Status: http.StatusMethodNotAllowed, Reason: "method not allowed", Header: "Allow: GET"}
)

// Upgrade checks head, one complete upgrade request, with gobwas/ws's upgrader
// and appends the response that accepts it (101 Switching Protocols) to dst.
// The caller decides later whether to send it: the token is checked between
// the two. The subprotocol is "binary" when the client offers it anywhere in its
// list, and none when it offers none (noVNC 1.2 and later); a list without
// "binary" is refused, since a browser fails a handshake that names a protocol
// it did not offer and also one that names none when it offered some.
// Extensions (permessage-deflate) are always declined.
//
// Like websockify, Upgrade does not insist on RFC 6455's "Connection: Upgrade"
// header and accepts the hybi drafts' versions 7 and 8 (whose handshake and
// framing are version 13's): such a request is checked again as if it said
// "Connection: Upgrade" and version 13. Everything else RFC 6455 requires of
// the request (GET, HTTP/1.1, Host, a 16-byte key) is still required: the
// Origin policy and --host-token read Host, and a key that is not a nonce is a
// client that is not speaking WebSocket.
func Upgrade(dst, head []byte) (resp []byte, protocol string, err error) {
	resp, protocol, err = upgrade(dst, head)
	if err == nil || !(errors.Is(err, ws.ErrHandshakeBadConnection) || errors.Is(err, ws.ErrHandshakeUpgradeRequired)) {
		return resp, protocol, mapUpgradeError(err)
	}
	if lenient := websockifyHead(head); lenient != nil {
		resp, protocol, err = upgrade(dst, lenient)
	}
	return resp, protocol, mapUpgradeError(err)
}

// websockifyHead rewrites a request head that websockify accepts but gobwas
// refuses into one gobwas accepts: its Connection header lines replaced by
// "Connection: Upgrade", a Sec-WebSocket-Version of 7 or 8 by 13. It returns
// nil when the rewrite would change nothing that gobwas refused. Only the
// rare request from an old or hand-written client pays for this copy.
func websockifyHead(head []byte) []byte {
	out := make([]byte, 0, len(head)+24)
	changed := false
	rest := head
	for len(rest) > 0 {
		line, tail, ok := bytes.Cut(rest, []byte("\r\n"))
		if !ok {
			return nil
		}
		rest = tail
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte{':'})
		switch {
		case bytes.EqualFold(name, []byte("Connection")):
			if !hasToken(value, "upgrade") {
				changed = true
			}
			continue
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Version")):
			if v := bytes.TrimSpace(value); bytes.Equal(v, []byte("7")) || bytes.Equal(v, []byte("8")) {
				line, changed = []byte("Sec-WebSocket-Version: 13"), true
			}
		}
		out = append(append(out, line...), "\r\n"...)
	}
	if !changed && bytes.Contains(bytes.ToLower(head), []byte("\r\nconnection:")) {
		return nil
	}
	out = append(out, "Connection: Upgrade\r\n\r\n"...)
	return out
}

// upgrade runs gobwas/ws's upgrader over head.
func upgrade(dst, head []byte) (resp []byte, protocol string, err error) {
	var offered, binary bool
	u := ws.Upgrader{
		ProtocolCustom: func(v []byte) (string, bool) {
			offered = true
			if hasToken(v, ProtocolBinary) {
				binary = true
				return ProtocolBinary, true
			}
			return "", true
		},
		Negotiate: func(httphead.Option) (httphead.Option, error) {
			return httphead.Option{}, nil // decline every extension
		},
	}
	w := appendWriter{buf: dst}
	hs, uerr := u.Upgrade(struct {
		*bytes.Reader
		*appendWriter
	}{bytes.NewReader(head), &w})
	switch {
	case uerr != nil:
		return dst, "", uerr
	case offered && !binary:
		return dst, "", ErrNoBinary
	}
	return w.buf, hs.Protocol, nil
}

// mapUpgradeError turns gobwas' refusal into the relay's, with a fixed reason;
// nil and the relay's own refusals pass unchanged.
func mapUpgradeError(err error) error {
	var he *HTTPError
	if err == nil || errors.As(err, &he) {
		return err
	}
	reasons := []struct {
		err    error
		reason string
	}{
		{ws.ErrHandshakeBadProtocol, "HTTP/1.1 required"},
		{ws.ErrHandshakeBadHost, "missing Host header"},
		{ws.ErrHandshakeBadUpgrade, "missing or bad Upgrade header"},
		{ws.ErrHandshakeBadConnection, "missing or bad Connection header"},
		{ws.ErrHandshakeBadSecKey, "missing or bad Sec-WebSocket-Key"},
		{ws.ErrHandshakeBadSecVersion, "missing Sec-WebSocket-Version"},
		{ws.ErrMalformedRequest, "malformed request"},
	}
	switch {
	case errors.Is(err, ws.ErrHandshakeUpgradeRequired):
		return ErrVersion
	case errors.Is(err, ws.ErrHandshakeBadMethod):
		return ErrMethod
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return &HTTPError{Status: http.StatusBadRequest, Reason: r.reason}
		}
	}
	return ErrMalformed
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}
