package engine

// Reason says why a session ended. It is logged with every close and doubles
// as a metric label, so it is a fixed set.
type Reason uint8

// Reasons a session ends.
const (
	ReasonNone             Reason = iota
	ReasonBrowserClose            // the browser sent a close frame
	ReasonBrowserGone             // the browser socket closed without a close frame
	ReasonConsoleClosed           // the console closed its socket
	ReasonConsoleError            // the console socket failed (reset)
	ReasonProtocol                // the browser broke RFC 6455
	ReasonTooBig                  // a message over MaxMessageSize
	ReasonTextFrame               // a text frame (binary only)
	ReasonPongTimeout             // no pong to a heartbeat ping
	ReasonIdle                    // no traffic for ConsoleIdleTimeout
	ReasonShutdown                // the server is shutting down
	ReasonHandshakeTimeout        // the request head did not arrive in time
	ReasonRefused                 // an HTTP refusal before the upgrade
	ReasonWeb                     // a static file request was answered
	ReasonCloseTimeout            // the browser did not take or answer a close frame in time
	ReasonTokenExpired            // the console's token expired (Config.EnforceTokenExpiry)
	ReasonTLS                     // the browser's TLS handshake failed, or no slot was free for it
	ReasonRevoked                 // the store no longer knows the token, or sends it elsewhere (Config.RevokeCheck)
	ReasonRestart                 // the handover deadline passed (Server.Handover)
	reasonCount
)

var reasonNames = [reasonCount]string{
	ReasonNone:             "none",
	ReasonBrowserClose:     "browser_close",
	ReasonBrowserGone:      "browser_gone",
	ReasonConsoleClosed:    "console_closed",
	ReasonConsoleError:     "console_error",
	ReasonProtocol:         "protocol_error",
	ReasonTooBig:           "message_too_big",
	ReasonTextFrame:        "text_frame",
	ReasonPongTimeout:      "pong_timeout",
	ReasonIdle:             "idle_timeout",
	ReasonShutdown:         "shutdown",
	ReasonHandshakeTimeout: "handshake_timeout",
	ReasonRefused:          "refused",
	ReasonWeb:              "web",
	ReasonCloseTimeout:     "close_timeout",
	ReasonTokenExpired:     "token_expired",
	ReasonTLS:              "tls_error",
	ReasonRevoked:          "token_revoked",
	ReasonRestart:          "restart",
}

func (r Reason) String() string {
	if r < reasonCount {
		return reasonNames[r]
	}
	return "unknown"
}
