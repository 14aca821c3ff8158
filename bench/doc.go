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
// Relays that need a control plane bring their own tokens and URL shape
// (RelaySpec.Tokens, Path) and report on their backends (Probe,
// BackendCPU, Explain): NovaPlane runs a Nova control plane (MariaDB with
// Nova's schema, RabbitMQ, a compute stand-in, from internal/novatest) and
// gives Nova's nova-novncproxy and vncrelay's Nova mode their specs, one
// token per console session made by Nova's own code.
//
// All traffic is on loopback. Client sockets take source addresses spread over
// 127.0.0.0/8 so that tens of thousands of consoles do not exhaust ephemeral
// ports; every loop is bounded in count and in time.
package bench
