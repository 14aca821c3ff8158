// Package wsframe is vncrelay's RFC 6455 codec: it finds and parses the HTTP
// upgrade request, answers it (through github.com/gobwas/ws), parses and encodes
// frame headers, unmasks payloads and reads and writes close payloads.
//
// Everything works on caller-owned byte slices: parsers return slices into the
// input and never copy it, encoders append to or fill a caller's buffer. The
// package owns no sockets, goroutines or timers; the engine package does the I/O.
//
// Errors come in two typed families that the engine maps with one errors.As:
// *HTTPError for refusals before the upgrade (an HTTP status and a short reason)
// and *ProtocolError for violations after it (a close code and a reason).
//
// What it does not do: extensions (permessage-deflate is always declined),
// client-side handshakes, and message reassembly (the relay streams payloads).
package wsframe
