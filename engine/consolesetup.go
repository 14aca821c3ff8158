package engine

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals of the console setup, before the 101.
var (
	errTunnelRefused  = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console tunnel refused"}
	errTunnelPath     = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console tunnel path invalid"}
	errConsoleRFB     = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console RFB handshake failed"}
	errConsoleGone    = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console closed during its handshake"}
	errSetupTimeout   = &wsframe.HTTPError{Status: http.StatusGatewayTimeout, Reason: "console handshake did not finish in time"}
	errOriginScheme   = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "origin scheme does not match the console URL"}
	maxTunnelResponse = 8 << 10 // bytes of a CONNECT answer's head we read at most
)

// needsSetup reports whether a target asks for work with the console before
// the 101: a CONNECT tunnel, an RFB security proxy, or both.
func needsSetup(t *auth.Target) bool {
	return t.TunnelPath != "" || t.SecurityProxy != auth.SecurityProxyOff
}

// startSetup begins the console setup on a freshly enrolled console socket:
// the CONNECT request goes out, or the RFB handshake waits for the console's
// first bytes. The connect deadline keeps running: dial and setup share it.
func (s *session) startSetup(c gnet.Conn) gnet.Action {
	s.state = stateConsoleSetup
	o := s.op
	o.setupStart = time.Now()
	if o.dialed.SecurityProxy != auth.SecurityProxyOff {
		h, err := newConsoleRFB(o.dialed) // vencrypt.go
		if err != nil {
			s.srv.log.Error("console security proxy misconfigured", "target", s.target().String(), "err", err)
			return s.refuse(errConsoleRFB, ReasonRefused)
		}
		o.rfbConsole = h
	}
	if p := o.dialed.TunnelPath; p != "" {
		if !validTunnelPath(p) {
			return s.refuse(errTunnelPath, ReasonRefused)
		}
		o.tunnelPending = true
		// Nova's form: no Host header, nothing after the blank line.
		_, _ = s.cw.Write([]byte("CONNECT " + p + " HTTP/1.1\r\n\r\n"))
	}
	return gnet.None
}

// validTunnelPath refuses what could break the CONNECT request line.
func validTunnelPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return len(p) <= 2048
}

// fromConsoleSetup takes the console's bytes during the setup: the tunnel's
// answer, then the RFB handshake. Bytes beyond what the setup reads stay in
// the console socket's buffer, for the relay once the 101 has gone out.
func (s *session) fromConsoleSetup(c gnet.Conn) gnet.Action {
	buf, _ := s.cw.Peek(-1)
	o := s.op
	if o.tunnelPending {
		end, err := tunnelAnswer(buf)
		switch {
		case err != nil:
			s.srv.log.Warn("console tunnel refused", "client", s.logClient(), "target", s.target().String(),
				"token_mask", s.tokenMask, "err", err)
			s.apply(s.refuse(errTunnelRefused, ReasonRefused))
			return gnet.None
		case end == 0:
			return gnet.None
		}
		_, _ = s.cw.Discard(end)
		buf = buf[end:]
		o.tunnelPending = false
	}
	if h := o.rfbConsole; h != nil {
		n, err := h.Feed(buf)
		var scratch [64]byte // the relay's answers here: a version line, a type, VeNCrypt's 0.2 and sub-type
		if out := h.AppendOutput(scratch[:0]); len(out) > 0 && err == nil {
			_, _ = s.cw.Write(out)
			if s.console != c {
				return gnet.None // the write failed and closed the console: consoleClosed refused the request
			}
		}
		if err != nil {
			s.consoleRFBFailed(err) // vencrypt.go
			return gnet.None
		}
		_, _ = s.cw.Discard(n)
		if h.NeedsTLS() {
			s.startVeNCryptTLS() // vencrypt.go: what is left in the socket is TLS
			return gnet.None
		}
		if !h.Done() {
			return gnet.None
		}
		o.rfbConsole = nil
		o.rfbBrowser = new(rfb.BrowserHandshake)
	}
	s.apply(s.startRelay())
	return gnet.None
}

// tunnelAnswer reads the console's answer to CONNECT: it returns the length
// of the response head once it is whole (0 before), or an error when the
// status is not 200 or the head is malformed or longer than
// maxTunnelResponse. Nova accepts any status line containing "200"; this
// wants "HTTP/1.x 200". The head is bounded as a request head is (8 KiB,
// 64 header lines).
func tunnelAnswer(b []byte) (int, error) {
	// A response head is scanned like a request head: bounded, whole or not yet.
	end, err := wsframe.FindRequestEnd(b, 0, maxTunnelResponse, 0)
	switch {
	case err != nil:
		return 0, errors.New("CONNECT answer head too long")
	case end == 0:
		return 0, nil
	}
	line, _, _ := bytes.Cut(b[:end], []byte("\r\n"))
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	code, _, _ := bytes.Cut(rest, []byte{' '})
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(proto) != 8 || !bytes.Equal(code, []byte("200")) {
		return 0, errors.New("CONNECT answered with a status other than 200")
	}
	return end, nil
}

// fromBrowserRFB runs a browser payload through the RFB security proxy until
// the browser has chosen None; what follows goes to the console. It returns
// how many bytes of p it used.
func (s *session) fromBrowserRFB(p []byte) (int, gnet.Action) {
	h := s.op.rfbBrowser
	n, err := h.Feed(p)
	if out := h.AppendOutput(nil); len(out) > 0 {
		s.writeBinary(out)
	}
	if err != nil {
		s.releaseOpen() // the open ends with the browser's RFB handshake
		var re *rfb.Error
		reason := "RFB handshake failed"
		if errors.As(err, &re) {
			reason = "RFB: " + re.Code.Reason()
		}
		s.srv.log.Info("browser RFB handshake failed", "client", s.logClient(), "token_mask", s.tokenMask, "err", err)
		s.setReason(ReasonProtocol)
		return n, s.sendClose(wsframe.AppendClosePayload(nil, wsframe.ClosePolicyViolation, truncateReason(reason)))
	}
	if h.Done() {
		s.releaseOpen() // the open ends with the browser's RFB handshake
		if s.console != nil {
			_ = s.console.ResumeRead()
			if s.ctls() != nil || s.cw.InboundBuffered() > 0 {
				s.fromConsole(s.console) // the console spoke early; it waited for the proxy
			}
		}
	}
	return n, gnet.None
}

// writeBinary sends p to the browser as one binary frame.
func (s *session) writeBinary(p []byte) {
	ls := s.loop
	hn := wsframe.PutHeader(ls.hdr[:], true, wsframe.OpBinary, len(p))
	ls.iov[0], ls.iov[1] = ls.hdr[:hn], p
	_, _ = s.bw.Writev(ls.iov[:])
	ls.iov[0], ls.iov[1] = nil, nil
}

// truncateReason keeps a close reason within a close frame's 123 bytes.
func truncateReason(r string) string {
	if len(r) > 123 {
		return r[:123]
	}
	return r
}

// pageScheme is the scheme of the page that opened a console, as Nova's
// Origin check reads it: X-Forwarded-Proto when a proxy in front set it, else
// the Origin header's scheme. It is kept as a small enum: the session holds
// it from the request until the worker has resolved the token.
type pageScheme uint8

// Page schemes.
const (
	pageSchemeNone  pageScheme = iota // no Origin header, or no Origin policy: nothing to check
	pageSchemeHTTP                    // http or ws
	pageSchemeHTTPS                   // https or wss
	pageSchemeOther                   // anything else: matches no console URL
)

// pageSchemeOf reads the page's scheme from a request.
func pageSchemeOf(req *wsframe.Request) pageScheme {
	if len(req.Origin) == 0 {
		return pageSchemeNone
	}
	scheme := req.ForwardedProto
	if len(scheme) == 0 {
		scheme, _, _ = bytes.Cut(req.Origin, []byte("://"))
	}
	return schemeClass(string(scheme))
}

// schemeClass puts a URL scheme in its class: http and ws are plain, https
// and wss are TLS (Nova's verify_origin_proto treats them so).
func schemeClass(scheme string) pageScheme {
	switch {
	case strings.EqualFold(scheme, "http"), strings.EqualFold(scheme, "ws"):
		return pageSchemeHTTP
	case strings.EqualFold(scheme, "https"), strings.EqualFold(scheme, "wss"):
		return pageSchemeHTTPS
	}
	return pageSchemeOther
}

// allowed applies Nova's Origin scheme rule to a resolved target: when
// the console's URL was issued for a scheme, a page of another scheme class
// may not open it.
func (p pageScheme) allowed(t *auth.Target) bool {
	return p == pageSchemeNone || t.AccessScheme == "" || (p != pageSchemeOther && p == schemeClass(t.AccessScheme))
}
