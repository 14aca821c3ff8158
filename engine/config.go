package engine

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

// Config is everything the engine needs. Zero values are safe defaults,
// documented on each field.
type Config struct {
	// Listen is the TCP address browsers connect to, "host:port". Required.
	Listen string
	// ReusePort sets SO_REUSEPORT on the listening socket: several processes
	// listen on one port and the kernel spreads new connections among them
	// (a restart without a gap: see Server.Handover). Every process on the
	// port must set it, and run as the same user.
	ReusePort bool
	// ListenFD is a listening TCP socket handed to the process (systemd
	// socket activation: LISTEN_FDS), used instead of binding Listen, which
	// then only names the address in logs; zero binds Listen. The engine
	// owns the descriptor from New on and closes it at Shutdown. A socket
	// that is not a listening TCP socket is refused by New.
	ListenFD int
	// PreferIPv6 makes a Listen host name resolve to its IPv6 address first
	// (websockify's -6).
	PreferIPv6 bool
	// Resolver maps a token to a console. Required; auth.Static gives
	// websockify's fixed-target mode.
	Resolver auth.Resolver
	// HostToken takes the token from the Host header when the request has none
	// in its query or cookie (websockify's --host-token).
	HostToken bool
	// Origins checks the Origin header of upgrades (Nova's rule: same host as
	// the request, or an allowed host); nil checks nothing, as websockify.
	// Refused with 403.
	Origins *auth.OriginPolicy
	// RequestAuth checks every upgrade's credentials before its token is
	// read (websockify's --auth-plugin); a refusal is sent as the plugin's
	// HTTP status. nil checks nothing.
	RequestAuth auth.RequestAuth
	// WebAuth applies RequestAuth to static file requests too (websockify's
	// --web-auth); without it static files are served to anyone.
	WebAuth bool
	// EnforceTokenExpiry closes a live console with 1008 when its token
	// expires (auth.Target.Expires), as Nova's [consoleauth]
	// enforce_session_timeout does; false lets a console outlive its token,
	// which is only checked at open (websockify, Nova before 2024.2).
	EnforceTokenExpiry bool
	// RevokeCheck, when above zero, asks the token store again at this
	// interval about every live console's token and closes with 1008 the
	// consoles whose token is gone or now names another console; a store
	// that does not answer keeps them (see revoker). Zero checks only at
	// open. With it on, the engine keeps each live console's token in memory
	// (a map entry of about 120 bytes plus the token per console).
	RevokeCheck time.Duration
	// Recorder, when set, is asked on the loop for a recorder as each
	// console starts relaying (websockify's --record); it returns nil for a
	// console it does not record. The ConsoleRecorder gets every payload on
	// the loop and must neither block nor keep the slice (package record
	// copies into a bounded queue). nil records nothing.
	Recorder func(now int64) ConsoleRecorder
	// WebDir serves static files (noVNC) from this directory on the same port;
	// "" serves none and answers a plain GET with 405.
	WebDir string

	// Heartbeat sends a ping to every console's browser at this interval;
	// zero sends none (websockify's --heartbeat).
	Heartbeat time.Duration
	// PongTimeout closes a console whose browser has not answered a heartbeat
	// ping in this time; zero means 2 × Heartbeat.
	PongTimeout time.Duration
	// ConsoleIdleTimeout closes a console with no traffic in either direction
	// for this long; zero never does.
	ConsoleIdleTimeout time.Duration
	// ServerIdleTimeout stops the server after this long with no console open
	// (websockify's --idle-timeout); zero never does. Serve returns
	// ErrServerIdle.
	ServerIdleTimeout time.Duration

	// HandshakeTimeout bounds the time from accept to a complete request head;
	// zero means 10 s.
	HandshakeTimeout time.Duration
	// ConnectTimeout bounds token resolution plus the dial to the console; zero
	// means 10 s. A dial that times out is answered 504.
	ConnectTimeout time.Duration
	// CloseTimeout bounds the wait for a close frame to be flushed and answered;
	// zero means 3 s.
	CloseTimeout time.Duration
	// DrainTimeout bounds Shutdown's wait for consoles to close; zero means 10 s.
	DrainTimeout time.Duration

	// MaxConnections caps open browser connections (consoles, handshakes and web
	// requests together); zero means what the descriptor limit allows (2
	// descriptors a console, less a reserve). Connections over the cap are
	// answered 503.
	MaxConnections int
	// MaxPendingHandshakes caps connections that have not become consoles yet;
	// zero means 1024. Over the cap, new connections are answered 503.
	MaxPendingHandshakes int
	// MaxRequestBytes caps an HTTP request head; zero means 8 KiB. Over it: 431.
	MaxRequestBytes int
	// MaxRequestHeaders caps the header lines of a request; zero means 64.
	MaxRequestHeaders int
	// MaxMessageSize caps one browser-to-console WebSocket message (all its
	// fragments); zero means 4 MiB. Over it: close 1009.
	MaxMessageSize int64
	// MaxFragments caps the frames of one fragmented browser message; zero
	// means 65536. Browsers and noVNC never fragment; the cap is high enough
	// for the fragmentation tests of the Autobahn suite (a 1 MiB message in
	// 64-byte fragments is 16,384 frames) and bounds what empty continuation
	// frames, which add nothing to the message size, can cost. Over it:
	// close 1009.
	MaxFragments int
	// HighWater is the most bytes buffered for a slow receiver in one direction
	// of one console before the relay stops reading the sender (TCP then slows
	// the sender down; nothing is dropped or cut). Reading resumes when the
	// buffer falls to half. Zero means 1 MiB. A console may exceed it by one
	// read (ReadBufferSize).
	HighWater int
	// ReadBufferSize is the largest read from a socket, and so the largest
	// frame sent to a browser; one buffer per loop. Zero means 256 KiB (against
	// 64 KiB it cut the relay's CPU per MB streamed by a fifth: fewer read and
	// writev calls per MB; see docs/BENCHMARKS.md).
	ReadBufferSize int
	// SpliceMinRead is the console read size, in bytes, from which console
	// bytes go to the browser by splice(2) through a pipe instead of through
	// user space (engine/splice.go); a read's size predicts the next one.
	// Zero means 16 KiB (the crossover measured in docs/BENCHMARKS.md);
	// negative turns splice off. TLS, --record and the console setup always
	// copy.
	SpliceMinRead int
	// splicePipes replaces spliceMaxPipes when not zero (tests).
	splicePipes int
	// MaxWebFileSize caps a static file; zero means 32 MiB.
	MaxWebFileSize int64

	// Loops is the number of event loops; zero means one per CPU.
	Loops int
	// Workers caps concurrent blocking jobs (token lookups with dials, web file
	// reads); zero means 256. When all are busy new requests get 503.
	Workers int

	// TLS, when not nil, makes the port take TLS (wss, https) as well as
	// plain connections, told apart by their first byte as websockify does
	// (see TLSOnly). Certificates come from it as crypto/tls takes them
	// (Certificates, GetCertificate or GetConfigForClient: the last two allow
	// rotation without a restart). The handshake runs on a worker, records
	// are sealed and opened on the event loop (docs/TLS.md).
	TLS *tls.Config
	// TLSOnly refuses plain connections when TLS is set (websockify's
	// --ssl-only): they get a 400 head saying TLS is required, then close.
	TLSOnly bool
	// TLSHandshakeTimeout bounds a TLS handshake, a browser's from its
	// first byte, a console's (TargetTLS) within the connect deadline; zero
	// means HandshakeTimeout. A handshake cut by it costs no more than its
	// worker goroutine, parked, meanwhile.
	TLSHandshakeTimeout time.Duration
	// MaxTLSHandshakes caps TLS handshakes in progress, each on a goroutine
	// of its own; zero means Workers. Handshakes over it wait, in arrival
	// order, for a place, within their own deadline (TLSHandshakeTimeout); a
	// connection waiting counts as a pending handshake
	// (MaxPendingHandshakes), which bounds the queue.
	MaxTLSHandshakes int
	// MaxTLSHandshakesPerClient caps a client address's browser TLS
	// handshakes in progress or waiting (IPv6 per /64, as the other
	// per-client limits; loopback clients are exempt unless forwarded by a
	// PROXY header): over it the connection is closed at its first byte,
	// before any TLS work, so that one client cannot hold every place of
	// MaxTLSHandshakes with silent ClientHellos. Zero means
	// MaxTLSHandshakes/8, at least 4; negative means no cap.
	MaxTLSHandshakesPerClient int
	// TargetTLS, when not nil, speaks TLS to every console (websockify's
	// --ssl-target), with this client configuration. When its ServerName is
	// empty, each console's host is used (SNI, and the name checked against
	// its certificate); RootCAs nil means the system's.
	TargetTLS *tls.Config

	// Client address and per-client limits (docs/LIMITS.md).

	// ProxyProtocol lists the load balancers whose connections start with a
	// PROXY protocol header, v1 or v2 (HAProxy's send-proxy,
	// send-proxy-v2); the header's source address becomes the client's. A
	// connection from a listed source without a valid header is refused
	// 400; a PROXY header from any other source is refused 400, never
	// honoured. nil trusts no source.
	ProxyProtocol []netip.Prefix
	// TrustedProxies lists the HTTP proxies whose ForwardedHeader is
	// honoured: the rightmost address in it that is not a trusted proxy is
	// the client. The header of any other peer is ignored. nil trusts none.
	TrustedProxies []netip.Prefix
	// ForwardedHeader is the header TrustedProxies write: zero means
	// X-Forwarded-For. The other header is ignored (a client could write it).
	ForwardedHeader ForwardedHeader
	// MaxConsolesPerClient caps the consoles open or opening from one client
	// address (an IPv6 client's /64); zero means 1000, negative no limit.
	// Direct connections from a loopback address are not limited (a local
	// proxy that forwards no address stands for many clients). Over it: 429.
	MaxConsolesPerClient int
	// MaxConsolesPerToken caps the consoles open or opening with one token,
	// counted after the token is found good and before the dial; zero means
	// no limit (websockify's fixed-target mode gives every console the same
	// empty token, which is never limited). Over it: 429.
	MaxConsolesPerToken int
	// HandshakeRate is the sustained rate of WebSocket upgrades a client
	// address (an IPv6 client's /64) may start, per second, with bursts of
	// HandshakeBurst (a token bucket); zero means 20, negative no limit.
	// Over it: 429 with Retry-After.
	HandshakeRate float64
	// HandshakeBurst is the bucket size of HandshakeRate; zero means 200.
	HandshakeBurst int

	// Logger receives one line per console at open and close, refusals and
	// server events; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults for zero Config fields.
const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultConnectTimeout   = 10 * time.Second
	defaultCloseTimeout     = 3 * time.Second
	defaultDrainTimeout     = 10 * time.Second
	defaultPendingHandshake = 1024
	defaultMaxMessage       = 4 << 20
	defaultMaxFragments     = 65536
	defaultHighWater        = 1 << 20
	defaultReadBuffer       = 256 << 10
	defaultMaxWebFile       = 32 << 20
	defaultWorkers          = 256
)

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.HandshakeTimeout, defaultHandshakeTimeout)
	set(&c.ConnectTimeout, defaultConnectTimeout)
	set(&c.CloseTimeout, defaultCloseTimeout)
	set(&c.DrainTimeout, defaultDrainTimeout)
	if c.Heartbeat > 0 && c.PongTimeout <= 0 {
		c.PongTimeout = 2 * c.Heartbeat
	}
	if c.MaxPendingHandshakes <= 0 {
		c.MaxPendingHandshakes = defaultPendingHandshake
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = defaultMaxMessage
	}
	if c.MaxFragments <= 0 {
		c.MaxFragments = defaultMaxFragments
	}
	if c.HighWater <= 0 {
		c.HighWater = defaultHighWater
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = defaultReadBuffer
	}
	if c.SpliceMinRead == 0 {
		c.SpliceMinRead = defaultSpliceMinRead
	}
	if c.MaxWebFileSize <= 0 {
		c.MaxWebFileSize = defaultMaxWebFile
	}
	if c.Loops <= 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	set(&c.TLSHandshakeTimeout, c.HandshakeTimeout)
	if c.MaxTLSHandshakes <= 0 {
		c.MaxTLSHandshakes = c.Workers
	}
	if c.MaxTLSHandshakesPerClient == 0 {
		c.MaxTLSHandshakesPerClient = max(4, c.MaxTLSHandshakes/8)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.limitDefaults()
	return c
}
