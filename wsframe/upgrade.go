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
func Upgrade(dst, head []byte) (resp []byte, protocol string, err error) {
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
		return dst, "", mapUpgradeError(uerr)
	case offered && !binary:
		return dst, "", ErrNoBinary
	}
	return w.buf, hs.Protocol, nil
}

// mapUpgradeError turns gobwas' refusal into the relay's, with a fixed reason.
func mapUpgradeError(err error) error {
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
