package engine

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals the engine makes itself, before the upgrade.
var (
	errHandshakeTimeout = &wsframe.HTTPError{Status: http.StatusRequestTimeout, Reason: "request not received in time"}
	errConnectTimeout   = &wsframe.HTTPError{Status: http.StatusGatewayTimeout, Reason: "console did not answer in time"}
	errConsoleRefused   = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console unreachable"}
	errForbidden        = &wsframe.HTTPError{Status: http.StatusForbidden, Reason: "missing, unknown or expired token"}
	errStoreDown        = &wsframe.HTTPError{Status: http.StatusServiceUnavailable, Reason: "token store unavailable", Header: "Retry-After: 2"}
	errBusy             = &wsframe.HTTPError{Status: http.StatusServiceUnavailable, Reason: "relay busy, retry"}
	errShuttingDown     = &wsframe.HTTPError{Status: http.StatusServiceUnavailable, Reason: "relay shutting down"}
	errTLSNotServed     = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "TLS handshake on a port without TLS (no --cert)"}
	errNoWeb            = &wsframe.HTTPError{Status: http.StatusMethodNotAllowed, Reason: "WebSocket upgrade required", Header: "Allow: GET"}
)

var headPool bytebufferpool.Pool

func putHead(b *bytebufferpool.ByteBuffer) { headPool.Put(b) }

// handshake reads the request head. Most heads arrive in one read and are
// parsed where they lie; a head that arrives in pieces is gathered in a pooled
// buffer. Bytes after the head (a first frame sent early) stay in the socket's
// inbound buffer for the relay.
func (s *session) handshake() gnet.Action {
	c := s.bw
	cfg := &s.srv.cfg
	chunk, _ := c.Peek(-1)
	o := s.op
	if o.head == nil {
		if len(chunk) > 0 && cfg.TLS == nil && isTLSStart(chunk[0]) {
			// No request line starts with a TLS record's first byte: answer at
			// once instead of at the handshake deadline (the client cannot
			// read the answer, but the log says what happened).
			return s.refuse(errTLSNotServed, ReasonRefused)
		}
		end, err := wsframe.FindRequestEnd(chunk, 0, cfg.MaxRequestBytes, cfg.MaxRequestHeaders)
		switch {
		case err != nil:
			return s.refuse(err, ReasonRefused)
		case end > 0:
			act := s.request(chunk[:end])
			_, _ = c.Discard(end)
			return act
		}
		o.head = headPool.Get()
	}
	prev := o.head.Len()
	_, _ = o.head.Write(chunk)
	end, err := wsframe.FindRequestEnd(o.head.B, prev, cfg.MaxRequestBytes, cfg.MaxRequestHeaders)
	switch {
	case err != nil:
		_, _ = c.Discard(len(chunk))
		return s.refuse(err, ReasonRefused)
	case end == 0:
		_, _ = c.Discard(len(chunk))
		return gnet.None
	}
	_, _ = c.Discard(end - prev)
	act := s.request(o.head.B[:end])
	if s.op == o && o.head != nil { // a nested close may have ended the session meanwhile
		putHead(o.head)
		o.head = nil
	}
	return act
}

// request acts on a complete request head: a static file, or an upgrade whose
// token is resolved and console dialed by a worker.
func (s *session) request(head []byte) gnet.Action {
	req, err := wsframe.ParseRequest(head)
	if err != nil {
		return s.refuse(err, ReasonRefused)
	}
	s.forwardedFor(head)
	pol := s.srv.policy.Load() // once per request: a reload applies to the next ones
	o := s.op
	o.pol = pol
	if !req.Upgrade {
		o.plainHTTP = true
		if pol.webAuth {
			if err := s.authenticate(&req); err != nil {
				return s.refuse(err, ReasonRefused)
			}
		}
		return s.web(&req)
	}
	if refusal := s.admit(&req); refusal != nil {
		return s.refuse(refusal, ReasonRefused)
	}
	resp, _, err := wsframe.Upgrade(nil, head)
	if err == nil {
		err = pol.origins.Check(req.Origin, req.Host)
	}
	if err == nil {
		err = s.authenticate(&req)
	}
	if err != nil {
		return s.refuse(err, ReasonRefused)
	}
	token, _, err := auth.TokenFrom(&req, pol.hostToken)
	if err != nil {
		return s.refuse(err, ReasonRefused)
	}
	s.tokenMask = auth.Mask(token)
	if token == "" && !auth.TokenOptional(pol.resolver) {
		return s.refuse(errForbidden, ReasonRefused)
	}
	o.resp = resp
	if pol.origins != nil {
		o.pageScheme = pageSchemeOf(&req)
	}
	return s.lookup(token) // dial.go
}

// startJob moves the session to stateConnecting and runs job on a worker.
func (s *session) startJob(job func()) gnet.Action {
	if !s.srv.trySubmit(job) {
		return s.refuse(errBusy, ReasonRefused)
	}
	s.beginConnecting()
	return gnet.None
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// report hands a worker's failure back to the loop, which refuses the request
// if the session is still waiting for it.
func (s *session) report(refusal *wsframe.HTTPError, cause error) {
	err := s.browser.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if s.state != stateConnecting {
			return nil // closed meanwhile
		}
		s.apply(s.refuseTarget(refusal, cause))
		return nil
	}))
	if err != nil {
		s.srv.log.Debug("report after loop stop", "client", s.logClient())
	}
}

// openConsole runs when the console's connect has completed: the console
// setup starts when the target asks for one (CONNECT tunnel, RFB security
// proxy), else the 101 goes out and the relay starts.
func (s *session) openConsole(c gnet.Conn) gnet.Action {
	s.claimTokenSlot()
	if s.state != stateConnecting {
		return gnet.Close // the browser left, or the request timed out, meanwhile
	}
	o := s.op
	if o.dialing {
		s.srv.lat.dial.since(o.dial.start)
		o.dialing, o.dial = false, dialAttempt{}
	}
	s.console, s.cw = c, c
	d := o.dialed
	s.targetAddr, s.targetUnix, s.targetHolds = d.Address, d.Network == "unix", d.AddressHoldsToken
	if s.srv.cfg.TargetTLS != nil {
		s.startTargetTLS() // tlsclient.go: TLS first, then the setup or the relay
		return gnet.None
	}
	if needsSetup(d) {
		s.apply(s.startSetup(c))
		return gnet.None
	}
	s.apply(s.startRelay())
	return gnet.None
}

// startRelay sends the 101 (with the RFB security proxy's first message in
// the same write, when there is one) and starts relaying, with any frames the
// browser sent early and any console bytes that came with the setup.
func (s *session) startRelay() gnet.Action {
	s.state = stateRelaying
	s.relayed = true
	st := &s.srv.stats
	st.pending.Add(-1)
	st.consoles.Add(1)
	st.opened.Add(1)
	s.srv.lat.openDone(s)
	s.lastActive = s.loop.now
	o := s.op
	if s.srv.cfg.Heartbeat > 0 {
		s.extra().lastPing = s.loop.now
	}
	if d := o.dialed; d != nil && !d.Expires.IsZero() && o.pol.enforceTokenExpiry {
		s.extra().expires = d.Expires.UnixNano()
	}
	if r := s.srv.revoke; r != nil && o.dialed != nil {
		r.add(s, o.revokeToken, o.dialed)
	}
	s.startRecording()
	resp := o.resp
	h := o.rfbBrowser
	if h == nil {
		// The open is over: the policy (the console outlives a reload),
		// the target (only its address is kept) and the token go.
		s.releaseOpen()
	} else {
		// The browser's RFB handshake still needs it; nothing else does.
		o.pol, o.dialed, o.revokeToken, o.resp = nil, nil, "", nil
	}
	if h != nil {
		// The console waits for ClientInit and has nothing to say until the
		// browser is through; its reads stay paused so that a console that
		// speaks anyway cannot fill the relay meanwhile.
		_ = s.console.PauseRead()
		// The relay speaks first, as an RFB server does: its ProtocolVersion
		// rides in the segment that carries the 101.
		var first [wsframe.MaxHeaderSize + 16]byte
		out := h.AppendOutput(first[wsframe.MaxHeaderSize:wsframe.MaxHeaderSize])
		hn := wsframe.PutHeader(s.loop.hdr[:], true, wsframe.OpBinary, len(out))
		resp = append(append(resp, s.loop.hdr[:hn]...), out...)
	}
	_, _ = s.bw.Write(resp)
	if s.state == stateClosed {
		return gnet.None
	}
	s.srv.log.Info("console open", "client", s.logClient(), "target", s.target().String(), "token_mask", s.tokenMask)
	_ = s.browser.ResumeRead()
	if s.console != nil && (s.ctls() != nil || s.cw.InboundBuffered() > 0) && s.rfbBrowser() == nil {
		s.fromConsole(s.console) // console bytes that followed the tunnel's answer
	}
	if s.state == stateRelaying && (s.btls() != nil || s.bw.InboundBuffered() > 0) {
		return s.fromBrowser()
	}
	return gnet.None
}

// refuse answers the request with an HTTP error and closes the browser socket
// once the answer has been flushed. It returns the action for the browser's
// own callback.
//
// Only a request known to be plain HTTP gets the reason as a body. Anything
// that is, or may be, an upgrade request gets a head alone, with the reason in
// the Vncrelay-Reason header: socket clients such as OpenStack tempest's read
// whatever follows the head as WebSocket frames, and a body would look to
// them like console data sent after a refusal.
func (s *session) refuse(err error, why Reason) gnet.Action {
	var he *wsframe.HTTPError
	if !errors.As(err, &he) {
		he = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "bad request"}
	}
	s.setReason(why)
	s.srv.stats.refused.Add(1)
	s.srv.stats.refusals[refusalSlot(he.Status)].Add(1)
	s.srv.log.Info("request refused", "client", s.logClient(), "status", he.Status, "reason", he.Reason, "token_mask", s.tokenMask)
	if s.op != nil && s.op.plainHTTP {
		extra := ReasonHeader + ": " + he.Reason
		if he.Header != "" {
			extra = he.Header + "\r\n" + extra
		}
		_, _ = s.bw.Write(httpResponse(he.Status, extra, "text/plain; charset=utf-8", []byte(he.Reason+"\n")))
	} else {
		_, _ = s.bw.Write(refusalHead(he))
	}
	return s.endAfterFlush()
}

// refusalHead is the answer to an upgrade request that is refused: a
// response head with no body (Content-Length: 0), the reason in a header.
func refusalHead(he *wsframe.HTTPError) []byte {
	var b bytes.Buffer
	b.Grow(192)
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(he.Status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(he.Status))
	b.WriteString("\r\nContent-Length: 0\r\nConnection: close\r\nCache-Control: no-store\r\n" + ReasonHeader + ": ")
	b.WriteString(he.Reason)
	b.WriteString("\r\n")
	if he.Header != "" {
		b.WriteString(he.Header)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// ReasonHeader names the response header that carries the reason for a
// refused upgrade (whose response has no body; see refuse).
const ReasonHeader = "Vncrelay-Reason"

// endAfterFlush closes the browser socket once everything written to it has
// left, within CloseTimeout.
func (s *session) endAfterFlush() gnet.Action {
	if s.state == stateClosed {
		return gnet.None
	}
	if s.state.pending() {
		s.srv.stats.pending.Add(-1)
	}
	s.state = stateClosing // before the console's OnClose, which runs nested below
	s.closeConsole()
	s.peerClosed = true // nothing more to wait for from the browser
	s.deadline = s.loop.now + int64(s.srv.cfg.CloseTimeout)
	s.closeNotify()
	_ = s.browser.ResumeRead() // see EOF or reset while the answer drains
	if s.browser.OutboundBuffered() == 0 {
		return gnet.Close
	}
	s.browser.NotifyDrain(0)
	return gnet.None
}

// httpResponse builds a complete HTTP/1.1 response that closes the connection.
func httpResponse(status int, extraHeader, contentType string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(160 + len(body))
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(status))
	b.WriteString("\r\nContent-Type: ")
	b.WriteString(contentType)
	b.WriteString("\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(body)))
	b.WriteString("\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n")
	if extraHeader != "" {
		b.WriteString(extraHeader)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
