// Package rfb is vncrelay's RFB codec (RFC 6143): the handshake steps a relay
// performs to act as a security proxy between a browser and a VNC console,
// written as byte-level state machines.
//
// Two machines cover Nova's RFB security proxy with [vnc] auth_schemes =
// none, vencrypt, or both:
//
//   - ConsoleHandshake is the relay as an RFB client towards the console:
//     ProtocolVersion 3.8, security type None or VeNCrypt (Accept says which,
//     in what order), SecurityResult. With VeNCrypt it negotiates version 0.2
//     and sub-type X509None, then asks its driver to run TLS on the
//     connection (NeedsTLS) and reads SecurityResult from the decrypted
//     stream. The engine runs it to the end before it answers the browser's
//     WebSocket upgrade, so that every console failure becomes an HTTP 502
//     with a reason.
//   - BrowserHandshake is the relay as an RFB server towards the browser, over
//     the payloads of WebSocket frames after the 101: it offers only None and
//     answers SecurityResult OK itself. From then on bytes pass untouched both
//     ways, starting with the browser's ClientInit.
//
// Both machines take input in pieces of any size (Feed), queue what they must
// send (AppendOutput) and report precisely how many input bytes they used, so
// that bytes behind the handshake go on to the other side. They own no sockets,
// goroutines or timers and do not allocate while the handshake succeeds; the
// engine does the I/O and the deadlines.
//
// Every failure is an *Error: which side, which handshake stage, a fixed
// reason with a metric label (Code), and the peer's own text (its reason
// string, version line or offered types) made safe for a log.
//
// What it does not do: TLS itself (the driver runs crypto/tls and reports
// the outcome with TLSEstablished or TLSFailed, which classifies the TLS
// error), VNC authentication, VeNCrypt sub-types other than X509None (Nova
// uses none of them), RFB 3.3 and 3.7 peers (refused, as Nova does), and
// anything after the security handshake (ClientInit, ServerInit and the
// messages that follow are relayed, not parsed).
package rfb
