package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// tlsEnv is a relay that takes TLS with a certificate from a test CA.
type tlsEnv struct {
	*env
	ca   *testutil.TestCA
	leaf *testutil.IssuedCert
}

func newTLSEnv(t *testing.T, mode rfb.Mode, mod func(*Config, *testutil.TestCA)) *tlsEnv {
	t.Helper()
	ca := testutil.NewTestCA(t, "vncrelay engine test CA")
	leaf := ca.Server(t, "127.0.0.1", "relay.test")
	e := newEnv(t, mode, func(c *Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, MinVersion: tls.VersionTLS12}
		if mod != nil {
			mod(c, ca)
		}
	})
	return &tlsEnv{env: e, ca: ca, leaf: leaf}
}

// clientTLS is a browser's configuration trusting the test CA.
func (e *tlsEnv) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: e.ca.Pool, ServerName: "relay.test"}
}

// dialTLS connects over TLS with cfg and writes req, then reads the answer.
func (e *tlsEnv) dialTLS(cfg *tls.Config, req string) *wsClient {
	e.t.Helper()
	c, err := tls.Dial("tcp", e.addr, cfg)
	if err != nil {
		e.t.Fatalf("TLS dial: %v", err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		e.t.Fatal(err)
	}
	return readResponse(e.t, c)
}

// dialOver opens a console over wss when wss is set, else over plain ws.
func (e *tlsEnv) dialOver(wss bool) *wsClient {
	e.t.Helper()
	if wss {
		return e.dialConsole()
	}
	return e.dial()
}

func (e *tlsEnv) dialConsole() *wsClient {
	e.t.Helper()
	w := e.dialTLS(e.clientTLS(), upgradeRequest("/websockify?token="+canary))
	if w.status != 101 {
		e.t.Fatalf("upgrade over TLS: %d %q", w.status, w.body)
	}
	return w
}

// TestTLSEchoByteExact: megabytes both ways over wss, frames of random
// sizes, byte for byte; plain ws keeps working on the same port.
func TestTLSEchoByteExact(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, nil)
	w := e.dialConsole()
	w.rfbHandshake()

	const total = 6 << 20
	data := make([]byte, total)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for off := 0; off < total; {
			n := min(total-off, 1+rng.IntN(90000))
			w.send(data[off : off+n])
			off += n
		}
	}()
	got, err := io.ReadAll(io.LimitReader(&wsStream{w: w}, total))
	wg.Wait()
	if err != nil || len(got) != total {
		t.Fatalf("read %d of %d: %v", len(got), total, err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("echo over TLS differs from what was sent")
	}

	plain := e.dial() // same port, no TLS
	plain.rfbHandshake()

	w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
	w.expectClose(wsframe.CloseNormal)
	if st := e.srv.Stats(); st.TLS.Handshakes != 1 || st.TLS.HandshakeFailures != 0 {
		t.Fatalf("TLS counters: %+v", st.TLS)
	}
}

// TestTLSRequestWithFinished: a request that arrives in the same segment as
// the client's Finished (TLS 1.3, where the client may send at once) is read
// as soon as the handshake is done, without waiting for more bytes: the
// relay would otherwise wait for ever (the client sends nothing more).
func TestTLSRequestWithFinished(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, nil)
	{
		const v = tls.VersionTLS13
		cfg := e.clientTLS()
		cfg.MinVersion = v
		raw, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		// batchConn holds the client's Finished back until the request's
		// write, so both arrive in one segment.
		bc := &batchConn{Conn: raw}
		c := tls.Client(bc, cfg)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		req := upgradeRequest("/websockify?token=" + canary)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		w := readResponse(t, c)
		if w.status != 101 {
			t.Fatalf("TLS %x: %d", v, w.status)
		}
		_ = c.Close()
	}
}

// batchConn holds back writes under 100 bytes (a Finished, a
// ChangeCipherSpec) and sends them with the next larger write.
type batchConn struct {
	net.Conn
	held []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.held = append(b.held, p...)
	if len(p) < 100 { // a Finished (and a ChangeCipherSpec): wait for more
		return len(p), nil
	}
	_, err := b.Conn.Write(b.held)
	b.held = b.held[:0]
	return len(p), err
}

// TestTLSOnlyRefusesPlain: with TLSOnly, a plain request gets a 400 head
// saying TLS is required, then EOF.
func TestTLSOnlyRefusesPlain(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) { c.TLSOnly = true })
	w := e.dialRaw(upgradeRequest("/websockify?token=" + canary))
	if w.status != 400 || !bytes.Contains([]byte(headerValue(w.header, ReasonHeader)), []byte("TLS required")) {
		t.Fatalf("plain request on a TLS-only port: %d %q", w.status, w.header)
	}
	w2 := e.dialConsole() // TLS still works
	w2.rfbHandshake()
}

// TestTLSGarbageAfterHandshakeByte: 0x16 then garbage fails the handshake
// and closes the socket; the relay keeps serving.
func TestTLSGarbageAfterHandshakeByte(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, nil)
	for _, junk := range [][]byte{
		append([]byte{0x16}, bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 20)...),
		{0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0, 0}, // a record too long to be a hello
		append([]byte{0x16, 0x03, 0x03, 0x00, 0x10}, bytes.Repeat([]byte{0xee}, 16)...),
		{0x80, 0x2e, 0x01, 0x00, 0x02}, // SSLv2-style hello
	} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(junk)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, c) // an alert at most, then EOF or reset
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("% x...: the relay did not close", junk[:5])
		}
		_ = c.Close()
	}
	waitFor(t, "failures counted", func() bool { return e.srv.Stats().TLS.HandshakeFailures == 4 })
	w := e.dialConsole()
	w.rfbHandshake()
}

// TestTLSTrickledHelloCut: a ClientHello trickled a byte at a time is cut
// at the TLS handshake deadline, and a console relaying meanwhile is not
// slowed by it (its echo keeps coming back while the trickle goes on).
func TestTLSTrickledHelloCut(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
		c.TLSHandshakeTimeout = time.Second
		c.Loops = 1 // the trickle and the console share the loop
	})
	live := e.dialConsole()
	live.rfbHandshake()

	slow, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	hello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	done := make(chan error, 1)
	go func() {
		for _, b := range hello {
			if _, err := slow.Write([]byte{b}); err != nil {
				done <- nil // cut
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, slow)
		done <- err
	}()
	stream := &wsStream{w: live}
	buf := make([]byte, 4096)
	for i := 0; i < 20; i++ { // 20 round trips while the trickle goes on
		live.send(buf)
		if _, err := io.ReadFull(stream, buf); err != nil {
			t.Fatalf("live console, round trip %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("trickled hello not cut: %v", err)
	}
	waitFor(t, "the trickle counted as closed", func() bool {
		return e.srv.Stats().Closed[ReasonHandshakeTimeout] == 1
	})
}

// TestTLSSlowReaderBounded: a TLS browser that stops reading while its
// console streams: the relay pauses the console, what it holds stays under
// the high-water mark (ciphertext now), and nothing is lost once it reads.
func TestTLSSlowReaderBounded(t *testing.T) {
	const highWater = 256 << 10
	e := newTLSEnv(t, rfb.ModeStream, func(c *Config, _ *testutil.TestCA) { c.HighWater = highWater })
	w := e.dialConsole()
	w.rfbHandshake()
	req := []byte{3, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x10}
	var reqs []byte
	for range 300 { // 300 × 64 KiB asked for
		reqs = append(reqs, req...)
	}
	w.send(reqs)
	time.Sleep(700 * time.Millisecond)
	peak := 0
	for range 10 {
		peak = max(peak, e.bufferedToBrowsers())
		time.Sleep(50 * time.Millisecond)
	}
	// One read of the console becomes one frame, sealed: records add 22
	// bytes per 16 KiB.
	limit := highWater + (e.srv.cfg.ReadBufferSize+wsframe.MaxHeaderSize)*17/16
	if peak > limit {
		t.Fatalf("relay holds %d bytes for a slow TLS browser, limit %d", peak, limit)
	}
	if peak < highWater/2 {
		t.Fatalf("relay holds only %d bytes: the console is not streaming", peak)
	}
	stream := &wsStream{w: w}
	update := make([]byte, 16+64<<10)
	for i := range 300 {
		if _, err := io.ReadFull(stream, update); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if update[0] != 0 || update[3] != 1 {
			t.Fatalf("update %d: bad header % x", i, update[:16])
		}
	}
}

// TestTLSClientCertificates: with client certificates required, a browser
// without one or with one from another CA is refused in the handshake; one
// from the trusted CA relays.
func TestTLSClientCertificates(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, ca *testutil.TestCA) {
		c.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		c.TLS.ClientCAs = ca.Pool
	})
	other := testutil.NewTestCA(t, "another CA")
	for _, tc := range []struct {
		name string
		cert *testutil.IssuedCert
		ok   bool
	}{
		{"none", nil, false},
		{"wrong CA", other.Client(t, "mallory"), false},
		{"trusted", e.ca.Client(t, "alice"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.clientTLS()
			if tc.cert != nil {
				cfg.Certificates = []tls.Certificate{tc.cert.TLS}
			}
			c, err := tls.Dial("tcp", e.addr, cfg)
			if err == nil {
				defer c.Close()
				// TLS 1.3: the server's verdict on the certificate comes
				// after the client's handshake has returned.
				_, err = io.WriteString(c, upgradeRequest("/websockify?token="+canary))
				if err == nil {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					var b [12]byte
					_, err = io.ReadFull(c, b[:])
					if err == nil && string(b[:]) != "HTTP/1.1 101" {
						err = errors.New("answer " + string(b[:]))
					}
				}
			}
			if tc.ok && err != nil {
				t.Fatalf("trusted client certificate refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("handshake passed")
			}
		})
	}
}

// TestTLSCertificateRotation: a new certificate served through
// GetCertificate is seen by new handshakes while a console opened under the
// old one keeps relaying.
func TestTLSCertificateRotation(t *testing.T) {
	var cur atomic.Pointer[tls.Certificate]
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
		c.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cur.Load(), nil }}
	})
	cur.Store(&e.leaf.TLS)
	old := e.dialConsole()
	old.rfbHandshake()

	next := e.ca.Server(t, "127.0.0.1", "relay.test")
	cur.Store(&next.TLS)
	cfg := e.clientTLS()
	var seen *x509.Certificate
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { seen = cs.PeerCertificates[0]; return nil }
	w := e.dialTLS(cfg, upgradeRequest("/websockify?token="+canary))
	if w.status != 101 || !seen.Equal(next.Cert) {
		t.Fatalf("new handshake: status %d, new certificate %v", w.status, seen != nil && seen.Equal(next.Cert))
	}
	w.rfbHandshake()
	buf := bytes.Repeat([]byte("old console lives"), 1000)
	old.send(buf)
	got := make([]byte, len(buf))
	if _, err := io.ReadFull(&wsStream{w: old}, got); err != nil || !bytes.Equal(got, buf) {
		t.Fatalf("console opened under the old certificate: %v", err)
	}
}

// TestTLSWouldBlockNotSticky pins what the TLS layer relies on: when the
// transport's Read returns a net.Error whose Temporary() is true, crypto/tls
// returns it without keeping it, and a later Read, once the rest of the
// record has arrived, returns the record's data. If a future Go made such
// errors sticky, this fails, and the data phase on the loop would stop at
// the first partial record.
func TestTLSWouldBlockNotSticky(t *testing.T) {
	ca := testutil.NewTestCA(t, "pin CA")
	leaf := ca.Server(t, "pin.test")
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cr, sr := net.Pipe()
		cc := &recordConn{Conn: cr}
		sc := &nonBlockConn{Conn: sr}
		client := tls.Client(cc, &tls.Config{RootCAs: ca.Pool, ServerName: "pin.test", MaxVersion: v})
		server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, SessionTicketsDisabled: true})
		errc := make(chan error, 1)
		go func() { errc <- server.Handshake() }()
		if err := client.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		cc.capture, sc.nonBlocking = true, true
		msg := []byte("the rest of the record arrives later")
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		rec := cc.buf.Bytes()
		buf := make([]byte, 100)
		// Nothing, part of the header, then all but the record's last byte.
		for i, part := range [][]byte{nil, rec[:3], rec[3 : len(rec)-1]} {
			sc.in.Write(part)
			if _, err := server.Read(buf); !isWouldBlock(err) {
				t.Fatalf("TLS %x, step %d: Read error %v, want the transport's would-block", v, i, err)
			}
		}
		sc.in.Write(rec[len(rec)-1:])
		n, err := server.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("TLS %x: after would-block errors, Read = %q, %v: crypto/tls kept the temporary error", v, buf[:n], err)
		}
		_ = cr.Close()
		_ = sr.Close()
	}
}

// recordConn captures what is written once capture is set.
type recordConn struct {
	net.Conn
	capture bool
	buf     bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) {
	if c.capture {
		return c.buf.Write(p)
	}
	return c.Conn.Write(p)
}

// nonBlockConn reads from in once nonBlocking is set, returning the TLS
// layer's would-block error when in is empty.
type nonBlockConn struct {
	net.Conn
	nonBlocking bool
	in          bytes.Buffer
}

func (c *nonBlockConn) Read(p []byte) (int, error) {
	if !c.nonBlocking {
		return c.Conn.Read(p)
	}
	if c.in.Len() == 0 {
		return 0, errWouldBlock
	}
	return c.in.Read(p)
}

// TestTargetTLS: with TargetTLS the relay speaks TLS to the console,
// checking its certificate against the configured CA and the console's
// address; megabytes go through both ways; a console whose certificate the
// CA did not issue is answered 502.
func TestTargetTLS(t *testing.T) {
	ca := testutil.NewTestCA(t, "console CA")
	other := testutil.NewTestCA(t, "other CA")
	for _, tc := range []struct {
		name   string
		issuer *testutil.TestCA
		want   int
	}{
		{"trusted", ca, 101},
		{"unknown CA", other, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var console atomic.Value
			front := testutil.TLSFront(t, tc.issuer.Server(t, "127.0.0.1").TLS, func() string { return console.Load().(string) })
			e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
				c.TargetTLS = &tls.Config{RootCAs: ca.Pool}
				c.Resolver = auth.Static{Target: auth.Target{Network: "tcp", Address: front}}
			})
			console.Store(e.console.Addr())
			w := e.dialTLS(e.clientTLS(), upgradeRequest("/websockify?token="+canary))
			if w.status != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.status, tc.want, headerValue(w.header, ReasonHeader))
			}
			if tc.want != 101 {
				return
			}
			w.rfbHandshake()
			data := make([]byte, 3<<20)
			for i := range data {
				data[i] = byte(i*31 + i>>9)
			}
			go func() {
				for off := 0; off < len(data); off += 50000 {
					w.send(data[off:min(off+50000, len(data))])
				}
			}()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(&wsStream{w: w}, got); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("echo through a TLS console: %v", err)
			}
		})
	}
}

// TestTLSClientCertCNAuth: websockify's ClientCertCNAuth sees the common
// name of the browser's verified certificate: a listed name opens the
// console, another name from the same CA is refused 403.
func TestTLSClientCertCNAuth(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, ca *testutil.TestCA) {
		c.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		c.TLS.ClientCAs = ca.Pool
		c.RequestAuth = auth.ClientCertCNAuth{"alice"}
	})
	for _, tc := range []struct {
		cn   string
		want int
	}{{"alice", 101}, {"bob", 403}} {
		t.Run(tc.cn, func(t *testing.T) {
			cfg := e.clientTLS()
			cfg.Certificates = []tls.Certificate{e.ca.Client(t, tc.cn).TLS}
			if w := e.dialTLS(cfg, upgradeRequest("/websockify?token="+canary)); w.status != tc.want {
				t.Fatalf("%s: status %d, want %d", tc.cn, w.status, tc.want)
			}
		})
	}
}

// BenchmarkRelayConsoleToBrowserTLS is BenchmarkRelayConsoleToBrowser over
// wss: payload bytes per second from a console through the relay's TLS
// layer to a crypto/tls client, and the allocations per 64 KiB relayed
// (relay, console and client together, all in this process).
func BenchmarkRelayConsoleToBrowserTLS(b *testing.B) {
	addr := benchConsole(b, true, nil)
	ca := testutil.NewTestCA(b, "bench CA")
	leaf := ca.Server(b, "relay.test")
	e := newEnv(b, 0, func(c *Config) {
		c.Resolver = staticTarget(addr)
		c.Logger = discardLogger()
		c.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	})
	conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: ca.Pool, ServerName: "relay.test"})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, upgradeRequest("/websockify?token="+canary)); err != nil {
		b.Fatal(err)
	}
	w := readResponse(b, conn)
	if w.status != 101 {
		b.Fatalf("upgrade: %d", w.status)
	}
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := io.ReadFull(w.br, buf); err != nil { // frame headers included: 14 bytes in 256 KiB
			b.Fatal(err)
		}
	}
}

// TestTLSDataBeforeCloseNotify: a browser that sends a frame and at once
// closes TLS (close_notify) has its frame delivered: the end of the stream
// is acted on after the records before it.
func TestTLSDataBeforeCloseNotify(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := countingConsole(ln, 0)
	e := newTLSEnv(t, 0, func(c *Config, _ *testutil.TestCA) { c.Resolver = staticTarget(ln.Addr().String()) })
	w := e.dialConsole()
	const size = 50000
	payload := bytes.Repeat([]byte{0xab}, size)
	// One write for the frame and the close_notify after it.
	f := frame(true, wsframe.OpBinary, payload)
	if _, err := w.c.Write(f); err != nil {
		t.Fatal(err)
	}
	_ = w.c.Close()
	if n := <-got; n != size {
		t.Fatalf("console got %d bytes, want %d", n, size)
	}
}

// TestTLSHandshakeSlots: with every handshake place held by silent
// clients, another browser's handshake waits for a place instead of being
// refused, and completes as soon as one is given back (a silent client
// leaves); nothing is counted as a failure.
func TestTLSHandshakeSlots(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
		c.MaxTLSHandshakes = 3
		c.TLSHandshakeTimeout = 20 * time.Second
	})
	var silent []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte{0x16, 0x03, 0x01})
		silent = append(silent, c)
	}
	waitFor(t, "three handshakes holding the places", func() bool { return len(e.srv.tlsSlots) == 3 })
	done := make(chan *wsClient, 1)
	go func() { done <- e.dialConsole() }()
	waitFor(t, "a fourth handshake waiting", func() bool { return e.srv.Stats().Pending == 4 })
	select {
	case <-done:
		t.Fatal("a fourth handshake ran while three places were held")
	case <-time.After(200 * time.Millisecond):
	}
	_ = silent[0].Close() // its place is given back at once
	select {
	case w := <-done:
		w.rfbHandshake()
	case <-time.After(15 * time.Second):
		t.Fatal("the waiting handshake did not get the place given back")
	}
	if st := e.srv.Stats(); st.TLS.HandshakeFailures != 0 || st.Closed[ReasonTLS] != 0 {
		t.Fatalf("a waiting handshake was counted as refused: %+v", st.TLS)
	}
}

// TestTLSHandshakesPerClient: one client address (here named by a PROXY
// header from a trusted balancer) may hold at most
// MaxTLSHandshakesPerClient handshakes; over it its connection is closed at
// the first byte and counted, while another address still gets through.
func TestTLSHandshakesPerClient(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
		c.ProxyProtocol = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.MaxTLSHandshakes = 8
		c.MaxTLSHandshakesPerClient = 2
		c.TLSHandshakeTimeout = 20 * time.Second
	})
	proxied := func(src string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := io.WriteString(c, "PROXY TCP4 "+src+" 198.51.100.1 5555 443\r\n"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 2 {
		_, _ = proxied("192.0.2.10").Write([]byte{0x16, 0x03, 0x01})
	}
	// Both have taken their places (accepted is not enough: the loops
	// read them in any order).
	waitFor(t, "two handshakes in progress", func() bool {
		cs, err := e.srv.Consoles(context.Background(), 10)
		n := 0
		for _, c := range cs {
			if c.State == "tls_handshake" {
				n++
			}
		}
		return err == nil && n == 2
	})
	over := proxied("192.0.2.10")
	_, _ = over.Write([]byte{0x16, 0x03, 0x01})
	_ = over.SetReadDeadline(time.Now().Add(10 * time.Second)) // well before the handshake deadline
	if _, err := io.Copy(io.Discard, over); err != nil {
		t.Fatalf("a third handshake from one client was not closed: %v", err)
	}
	if st := e.srv.Stats(); st.TLS.HandshakeFailures != 1 || st.Closed[ReasonTLS] != 1 {
		t.Fatalf("refusal not counted: %+v", st.TLS)
	}
	e.waitLog(t, `msg="TLS handshake refused: too many from this client" client=192.0.2.10:5555`)
	c := tls.Client(proxied("192.0.2.11"), e.clientTLS())
	if _, err := io.WriteString(c, upgradeRequest("/websockify?token="+canary)); err != nil {
		t.Fatalf("another client's handshake: %v", err)
	}
	w := readResponse(t, c)
	if w.status != 101 {
		t.Fatalf("status %d", w.status)
	}
	w.rfbHandshake()
}

// TestTLSAfterProxyHeader: a PROXY header from a trusted load balancer
// comes before the TLS ClientHello (HAProxy's send-proxy in TCP mode); the
// relay reads it from the raw socket, then starts TLS, and logs the client
// the header named. A PROXY header inside TLS is request bytes, not a
// header.
func TestTLSAfterProxyHeader(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
		c.ProxyProtocol = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for _, tc := range []struct {
		name   string
		pieces []string
	}{
		{"header alone first", []string{"PROXY TCP4 192.0.2.10 198.51.100.1 5555 443\r\n"}},
		{"header in pieces", []string{"PROXY TCP4 192.0.", "2.10 198.51.100.1 5555 443\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			for _, p := range tc.pieces {
				if _, err := io.WriteString(raw, p); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			c := tls.Client(raw, e.clientTLS())
			if _, err := io.WriteString(c, upgradeRequest("/websockify?token="+canary)); err != nil {
				t.Fatalf("TLS after a PROXY header: %v", err)
			}
			w := readResponse(t, c)
			if w.status != 101 {
				t.Fatalf("status %d", w.status)
			}
			w.rfbHandshake()
			e.waitLog(t, "client=192.0.2.10:5555")
		})
	}
}
