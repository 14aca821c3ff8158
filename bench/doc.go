// Package bench is vncrelay's load harness as a library: fake RFB consoles
// (package rfb), fleets of browser-side clients that speak the WebSocket
// upgrade with ?token= and the RFB handshake through a relay, measurements of
// the relay process from /proc, scenarios, and reports (table, JSON lines,
// compare ratios, SVG charts). cmd/vncrelay-bench is its thin main.
//
// It drives any websockify-compatible relay: one given as a command template
// that the harness starts and stops, or one already running at a URL. A
// built-in TCP forwarder (io.Copy, which Go turns into splice) is the
// reference for what any relay can reach on the machine.
//
// All traffic is on loopback. Client sockets take source addresses spread over
// 127.0.0.0/8 so that tens of thousands of consoles do not exhaust ephemeral
// ports; every loop is bounded in count and in time.
package bench
