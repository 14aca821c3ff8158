// Package rfb is a small RFB 3.8 (VNC) server for tests, benchmarks and the
// demo console: it speaks the real handshake (version, security type None,
// ClientInit/ServerInit), reads client messages by their RFC 6143 sizes, and
// answers FramebufferUpdateRequests with a drawn picture (ModeDraw), with
// fixed-size updates (ModeStream), or echoes every byte after the handshake
// (ModeEcho), which lets a test check a relay byte for byte.
//
// It runs one goroutine per connection: it is a peer for tests, not part of the
// relay's event loop.
package rfb
