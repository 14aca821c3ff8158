package engine

import (
	"errors"
	"io"
	"net/http"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/rfb"
	"github.com/vncrelay/vncrelay/wsframe"
)

// Refusals of the RFB security proxy's VeNCrypt towards the console, before
// the 101. The log line says more (the rfb code, the TLS error); the reason
// header names only the kind of failure, which the browser's user can
// pass on to the operator.
var (
	errConsoleUntrusted = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console TLS certificate not trusted"}
	errConsoleRefusedUs = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console refused the relay's TLS client certificate"}
	errConsoleTLSAlert  = &wsframe.HTTPError{Status: http.StatusBadGateway, Reason: "console refused the TLS session"}
	errNoVeNCryptConfig = errors.New("engine: a VeNCrypt security proxy target without a TLS configuration")
)

// newConsoleRFB makes the console-side RFB machine for a target's security
// proxy mode: the types it accepts, in the order auth_schemes gave them.
func newConsoleRFB(t *auth.Target) (*rfb.ConsoleHandshake, error) {
	h := new(rfb.ConsoleHandshake)
	var err error
	switch t.SecurityProxy {
	case auth.SecurityProxyRFBNone:
		return h, nil
	case auth.SecurityProxyRFBVeNCrypt:
		err = h.Accept(rfb.SecurityVeNCrypt)
	case auth.SecurityProxyRFBVeNCryptOrNone:
		err = h.Accept(rfb.SecurityVeNCrypt, rfb.SecurityNone)
	case auth.SecurityProxyRFBNoneOrVeNCrypt:
		err = h.Accept(rfb.SecurityNone, rfb.SecurityVeNCrypt)
	default:
		return nil, errors.New("engine: unknown security proxy mode " + t.SecurityProxy.String())
	}
	if err == nil && t.VeNCrypt == nil {
		err = errNoVeNCryptConfig
	}
	return h, err
}

// startVeNCryptTLS runs the TLS of VeNCrypt X509None on the console socket,
// once the console has accepted the sub-type: the console's bytes not yet
// used by the RFB machine are its first TLS bytes (tlsclient.go).
func (s *session) startVeNCryptTLS() {
	if s.ctls() != nil {
		// TLS inside TLS (--ssl-target and VeNCrypt at once) is not built.
		s.consoleRFBFailed(s.op.rfbConsole.TLSFailed(errors.New("VeNCrypt inside --ssl-target's TLS is not supported")))
		return
	}
	s.startConsoleTLS(s.op.dialed.VeNCrypt, nil, s.veNCryptTLSDone)
	if w := s.ctls(); w != nil {
		// QEMU refuses a client certificate by closing the socket once its
		// side of the handshake is over, which may reach the loop before
		// the worker's result: consoleClosed then waits for that result,
		// which says whether TLS was up (vencryptClosed).
		w.reportDropped = true
	}
}

// veNCryptTLSDone continues the console's RFB handshake inside TLS, or
// refuses the request with the TLS layer's failure.
func (s *session) veNCryptTLSDone(err error) {
	if s.state != stateConsoleSetup || s.op.rfbConsole == nil {
		return
	}
	h := s.op.rfbConsole
	if err != nil {
		s.consoleRFBFailed(h.TLSFailed(err))
		return
	}
	s.srv.stats.tlsHandshakes.Add(1)
	h.TLSEstablished()
	if s.console == nil {
		s.consoleRFBFailed(h.PeerClosed()) // it closed while the result was on its way
		return
	}
	s.fromConsole(s.console) // SecurityResult may have come with the handshake's end
}

// vencryptClosed handles the console's close during VeNCrypt. While the
// TLS handshake runs the refusal waits for its result (veNCryptTLSDone),
// which comes at once since the worker's reads now fail, or the setup
// deadline ends the wait; otherwise the RFB machine says what the close
// means.
func (s *session) vencryptClosed() {
	if s.op.rfbConsole.NeedsTLS() && s.ctls() != nil && s.ctls().reportDropped {
		return
	}
	s.consoleRFBFailed(s.op.rfbConsole.PeerClosed())
}

// vencryptStreamEnded handles the end of the console's TLS stream before
// SecurityResult: its close_notify is a close after TLS, like a bare one
// (a console that sends close_notify when it refuses the relay's client
// certificate), anything else the TLS layer's failure.
func (s *session) vencryptStreamEnded(err error) {
	if errors.Is(err, io.EOF) {
		s.consoleRFBFailed(s.op.rfbConsole.PeerClosed())
		return
	}
	s.consoleRFBFailed(s.op.rfbConsole.TLSFailed(err))
}

// inVeNCrypt reports whether the console side of the RFB security proxy has
// chosen VeNCrypt and not finished: the console's close or a TLS error is
// then the RFB machine's to explain.
func (s *session) inVeNCrypt() bool {
	return s.op != nil && s.op.rfbConsole != nil && s.op.rfbConsole.Chosen() == rfb.SecurityVeNCrypt
}

// consoleRFBFailed refuses the request after the console side of the RFB
// security proxy failed: a 502 whose reason names the kind of failure, and a
// log line with the whole error.
func (s *session) consoleRFBFailed(err error) {
	he := errConsoleRFB
	code := "unknown"
	var re *rfb.Error
	if errors.As(err, &re) {
		code = re.Code.String()
		switch re.Code {
		case rfb.CodeTLSUntrusted:
			he = errConsoleUntrusted
		case rfb.CodeClosedAfterTLS:
			he = errConsoleRefusedUs
		case rfb.CodeTLSAlert:
			he = errConsoleTLSAlert
		case rfb.CodeTLSFailed:
			he = errConsoleTLS
		case rfb.CodeClosed:
			he = errConsoleGone
		}
	}
	s.srv.log.Warn("console RFB handshake failed", "client", s.logClient(), "target", s.target().String(),
		"token_mask", s.tokenMask, "code", code, "err", err)
	s.apply(s.refuse(he, ReasonRefused))
}
