package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// errConsoleTLS refuses an upgrade whose console's TLS handshake failed.
var errConsoleTLS = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console TLS handshake failed"}

// startConsoleTLS makes the console socket a TLS client from this point of
// its stream on, mid-stream if need be: `--ssl-target` calls it right after
// the dial, a VeNCrypt security proxy once the console has accepted a TLS
// sub-type.
//
// It writes prefix first, as plaintext (the last bytes the protocol sends
// before TLS begins, such as a VeNCrypt sub-type choice; nil for none), then
// runs the client handshake with cfg (ServerName, RootCAs and any client
// certificate set by the caller) on a worker goroutine, under what is left
// of the session's deadline (s.deadline). Console bytes already in the
// socket's inbound buffer beyond what the caller has read are taken as the
// server's first TLS bytes, so the caller must Discard exactly the
// plaintext it used before calling.
//
// The session must be in stateConsoleSetup; the console's reads are handed to
// the handshake meanwhile. done runs on the loop with the result, unless the
// console socket closed meanwhile. With nil, every later read and write of
// the console through s.cw is TLS: the caller continues its setup or starts
// the relay (console bytes that came with the handshake's end wait in s.cw
// and are read by the next fromConsole, which the caller may call at once);
// with an error, the caller refuses the request (errConsoleTLS, 502). The
// handshake waits for a place among MaxTLSHandshakes within the connect
// deadline.
func (s *session) startConsoleTLS(cfg *tls.Config, prefix []byte, done func(error)) {
	c := s.console
	if len(prefix) > 0 {
		if _, err := c.Write(prefix); err != nil {
			return // the console socket closed: consoleClosed refuses the request
		}
	}
	w := newTLSWire(c, s.loop)
	w.tc = tls.Client(w.tr, cfg)
	timeout := max(time.Duration(s.deadline-time.Now().UnixNano()), time.Millisecond)
	s.runTLSHandshake(w, timeout, done)
	s.cw = w // s.ctls() from now on
	if c.InboundBuffered() > 0 {
		s.handTLS(w, c)
	}
}

// targetTLSConfig is the client configuration for one console under
// Config.TargetTLS: its ServerName, when the configuration has none, is the
// console's host (sent as SNI when it is a name, and checked against the
// certificate's names or addresses).
func targetTLSConfig(base *tls.Config, t *auth.Target) *tls.Config {
	if base.ServerName != "" || t.Network == "unix" {
		return base
	}
	host, _, err := net.SplitHostPort(t.Address)
	if err != nil {
		return base
	}
	cfg := base.Clone()
	cfg.ServerName = host
	return cfg
}

// startTargetTLS runs `--ssl-target`'s TLS with a freshly dialed console,
// then the rest of the setup or the relay.
func (s *session) startTargetTLS() {
	s.state = stateConsoleSetup
	s.startConsoleTLS(targetTLSConfig(s.srv.cfg.TargetTLS, s.op.dialed), nil, s.targetTLSDone)
}

func (s *session) targetTLSDone(err error) {
	if s.state != stateConsoleSetup {
		return
	}
	if err != nil {
		s.srv.log.Warn("console TLS handshake failed", "client", s.logClient(), "target", s.target().String(),
			"token_mask", s.tokenMask, "err", err)
		s.apply(s.refuse(errConsoleTLS, ReasonRefused))
		return
	}
	s.srv.stats.tlsHandshakes.Add(1)
	if needsSetup(s.op.dialed) {
		s.apply(s.startSetup(s.console))
		if s.state == stateConsoleSetup && s.console != nil {
			s.fromConsole(s.console) // what the console said with the handshake's end
		}
		return
	}
	s.apply(s.startRelay())
}

// fromConsoleTLS takes the console's ciphertext: to the handshake worker
// while it runs, else decrypted and run through consoleInput until no whole
// record is left or the session stops taking the console's bytes.
func (s *session) fromConsoleTLS(c gnet.Conn) gnet.Action {
	w := s.ctls()
	if !w.tr.onLoop {
		return s.handTLS(w, c)
	}
	for s.console == c && s.ctls() == w {
		got, err := w.fill()
		if err != nil {
			s.consoleTLSFailed(err)
			return gnet.None
		}
		before := w.InboundBuffered()
		if before == 0 {
			break
		}
		s.consoleInput(c)
		if !got && w.InboundBuffered() == before {
			break
		}
	}
	if s.ctls() == w {
		w.release()
	}
	return gnet.None
}

// consoleTLSFailed ends a session whose console's TLS stream ended: its
// close_notify is a normal end, anything else a console failure.
func (s *session) consoleTLSFailed(err error) {
	switch s.state {
	case stateConsoleSetup:
		if s.inVeNCrypt() { // vencrypt.go: an alert or close_notify after the handshake
			s.vencryptStreamEnded(err)
			return
		}
		s.srv.log.Warn("console TLS stream failed", "client", s.logClient(), "target", s.target().String(),
			"token_mask", s.tokenMask, "err", err)
		s.apply(s.refuse(errConsoleGone, ReasonRefused))
	case stateRelaying:
		if errors.Is(err, io.EOF) {
			s.closeWith(wsframe.CloseNormal, "console closed", ReasonConsoleClosed)
			return
		}
		s.srv.log.Info("console TLS stream failed", "client", s.logClient(), "target", s.target().String(),
			"token_mask", s.tokenMask, "err", err)
		s.closeWith(wsframe.CloseInternalError, "console connection failed", ReasonConsoleError)
	}
}
