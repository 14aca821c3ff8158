// Package engine is vncrelay's server: it accepts browser connections, answers
// the WebSocket upgrade, resolves the token, dials the console and relays bytes
// both ways until one side closes.
//
// It runs on gnet event loops (one per core, epoll). Both sockets of a console
// live on the same loop, so the loop goroutine owns the pair and the relay path
// takes no locks. The engine owns the listening socket itself (one accept
// goroutine that backs off when the process runs out of descriptors) and hands
// each accepted socket to a loop, so that an accept error can never stop gnet.
// Anything that may block (token lookup, dialing, reading a web file) runs on a
// bounded set of worker goroutines with a deadline; its result comes back to the
// loop with EventLoop.Execute and is checked against the session's state.
//
// Use: build a Config, call New, then Serve; Shutdown drains. See Config for
// every limit and its default. Handover retires a server in favour of
// another process on the same port (Config.ReusePort) while its consoles
// go on; Config.RevokeCheck closes live consoles whose token the store has
// revoked (a revoker goroutine rechecks tokens in batches and posts the
// closes to the loops).
//
// Observing it: Stats (atomic counters) and Latencies (fixed-bucket
// histograms) read from any goroutine; Loops and Consoles copy per-loop
// figures and per-connection fields on each loop's own goroutine, within a
// deadline; Ready says whether it takes consoles. The admin listener in cmd
// exports them; nothing here knows of a metrics library.
//
// TLS (Config.TLS, Config.TargetTLS) runs in the engine too: the handshake
// on a bounded goroutine, records sealed and opened on the loop, over an
// in-memory transport between the socket and the WebSocket codec
// (tlswire.go); plain sessions do not pay for it. A browser's TLS 1.3
// AES-GCM connection is then taken over from crypto/tls by the engine's own
// record layer (tlsrecord.go, tlstakeover.go), and memory is returned after
// a burst of handshakes (tlsmem.go).
package engine
