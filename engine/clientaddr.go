package engine

import (
	"net/http"
	"net/netip"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/proxyproto"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals about the client's address.
var (
	errProxyHeader    = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "invalid PROXY protocol header"}
	errProxyUntrusted = &wsframe.HTTPError{Status: http.StatusBadRequest, Reason: "PROXY protocol header from an untrusted source"}
)

// prefixes is a list of trusted networks (Config.ProxyProtocol,
// Config.TrustedProxies). Lists are short: a linear scan is the fastest.
type prefixes []netip.Prefix

func (ps prefixes) contains(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// startClient records whether the client (the socket's peer, set by
// newSession) must send a PROXY header first. openBrowser calls it.
func (s *session) startClient() {
	s.op.awaitProxy = len(s.srv.cfg.ProxyProtocol) > 0 && prefixes(s.srv.cfg.ProxyProtocol).contains(s.clientIP())
}

// proxyHeader is the first step of the browser's first bytes (fromBrowser
// calls it in stateHandshake, before anything reads the request or a TLS
// ClientHello; it reads the raw socket, never a TLS layer): a connection
// from a Config.ProxyProtocol source starts with a PROXY header (v1 or v2),
// whose source address becomes the client's; from any other source a PROXY
// header is refused, never honoured. It reports whether the bytes after it
// (the request, or a TLS ClientHello) may be read now; if not, it returns the
// action for the browser's callback. The header waits in the socket's
// inbound buffer until whole, which proxyproto bounds (107 bytes for v1,
// 16 + 4096 for v2) and HandshakeTimeout limits in time.
func (s *session) proxyHeader() (gnet.Action, bool) {
	c := s.browser
	if !s.op.awaitProxy {
		if s.op.head != nil {
			return gnet.None, true // a request head under way: not the first bytes
		}
		chunk, _ := c.Peek(-1)
		if len(chunk) > 0 && (chunk[0] == 'P' || chunk[0] == '\r') && proxyproto.Sniff(chunk) {
			return s.refuse(errProxyUntrusted, ReasonRefused), false
		}
		return gnet.None, true
	}
	chunk, _ := c.Peek(-1)
	h, n, _, err := proxyproto.Parse(chunk)
	switch {
	case err != nil:
		s.srv.log.Info("bad PROXY protocol header", "client", s.logClient(), "err", err)
		return s.refuse(errProxyHeader, ReasonRefused), false
	case n == 0:
		return gnet.None, false // the rest of the header is still to come
	}
	_, _ = c.Discard(n)
	s.op.awaitProxy = false
	if src, ok := h.Client(); ok {
		s.setClient(src.Addr(), src.Port(), false, "proxy_protocol")
	}
	return gnet.None, c.InboundBuffered() > 0
}

// setClient replaces the socket's peer with the client address a trusted
// load balancer or proxy gave: with its port, or bare (a header that gives
// none), as log lines and the status page show it.
func (s *session) setClient(a netip.Addr, port uint16, bare bool, how string) {
	client := clientText{ip: a, port: port, bare: bare}
	s.srv.log.Debug("client address forwarded", "client", client, "peer", s.logClient(), "by", how)
	s.setClientIP(a)
	s.clientPort, s.clientBare, s.forwarded = port, bare, true
}

// forwardedFor applies a trusted proxy's X-Forwarded-For or Forwarded
// header (Config.ForwardedHeader) to the client address: the rightmost
// address that is not itself a trusted proxy is the client. A request
// from an untrusted peer keeps its peer address, whatever it says.
func (s *session) forwardedFor(head []byte) {
	cfg := &s.srv.cfg
	if len(cfg.TrustedProxies) == 0 || !prefixes(cfg.TrustedProxies).contains(s.clientIP()) {
		return
	}
	if a, ok := forwardedClient(head, cfg.ForwardedHeader, prefixes(cfg.TrustedProxies)); ok && a != s.clientIP() {
		s.setClient(a, 0, true, cfg.ForwardedHeader.String())
	}
}
