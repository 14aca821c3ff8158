package engine

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// recordingConn keeps a copy of every record a crypto/tls server writes,
// as the engine's transport does during a handshake.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	sent [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.sent = append(c.sent, append([]byte(nil), p...))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// secretLog keeps the traffic secrets crypto/tls logs.
type secretLog struct {
	mu       sync.Mutex
	cts, sts []byte
}

func (l *secretLog) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return len(line), nil
	}
	secret, err := hex.DecodeString(string(f[2]))
	if err != nil {
		return len(line), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch string(f[0]) {
	case "CLIENT_TRAFFIC_SECRET_0":
		l.cts = secret
	case "SERVER_TRAFFIC_SECRET_0":
		l.sts = secret
	}
	return len(line), nil
}

// rlPair is a crypto/tls client connected to a crypto/tls server whose
// records, after the handshake, the test runs with the relay's record
// layer over the server's raw socket.
type rlPair struct {
	t      *testing.T
	client *tls.Conn
	raw    net.Conn
	rl     *recordLayer
	in     []byte // ciphertext read from raw, not yet opened
}

func newRLPair(t *testing.T, clientCfg func(*tls.Config)) *rlPair {
	t.Helper()
	ca := testutil.NewTestCA(t, "vncrelay record layer test CA")
	leaf := ca.Server(t, "127.0.0.1", "relay.test")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var keys secretLog
	srvCfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, KeyLogWriter: &keys}
	type accepted struct {
		raw *recordingConn
		cs  tls.ConnectionState
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- accepted{err: err}
			return
		}
		rc := &recordingConn{Conn: c}
		sc := tls.Server(rc, srvCfg)
		_ = sc.SetDeadline(time.Now().Add(10 * time.Second))
		err = sc.Handshake()
		done <- accepted{raw: rc, cs: sc.ConnectionState(), err: err}
	}()
	cc := &tls.Config{RootCAs: ca.Pool, ServerName: "relay.test"}
	if clientCfg != nil {
		clientCfg(cc)
	}
	client, err := tls.Dial("tcp", ln.Addr().String(), cc)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	a := <-done
	if a.err != nil {
		t.Fatalf("server handshake: %v", a.err)
	}
	t.Cleanup(func() { _ = a.raw.Close() })
	keys.mu.Lock()
	cts, sts := keys.cts, keys.sts
	keys.mu.Unlock()
	rl, ok, err := newRecordLayer(a.cs.CipherSuite, cts, sts)
	if !ok || err != nil {
		t.Fatalf("record layer for suite %#x: %v %v", a.cs.CipherSuite, ok, err)
	}
	a.raw.mu.Lock()
	okc := countSealed(&rl.out, a.raw.sent)
	a.raw.mu.Unlock()
	if !okc {
		t.Fatal("the server's records do not parse")
	}
	return &rlPair{t: t, client: client, raw: a.raw.Conn, rl: rl}
}

// send seals p as application data, with room past its end as the relay's
// payloads have, and writes it.
func (p *rlPair) sendRaw(out []byte) {
	p.t.Helper()
	if _, err := p.raw.Write(out); err != nil {
		p.t.Fatal(err)
	}
}

// recv opens records from the server's socket until it has n bytes of
// application data or the stream ends (its error returned).
func (p *rlPair) recv(n int) ([]byte, error) {
	p.t.Helper()
	var got, out []byte
	dst := make([]byte, 0, recHeaderLen+recMaxCipher)
	buf := make([]byte, 32<<10)
	_ = p.raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < n {
		if rn := recordLen(p.in); rn > 0 && rn <= len(p.in) {
			data, o, alert, err := p.rl.openRecord(dst[:0], p.in[:rn], out)
			out = o
			if len(out) > 0 { // a KeyUpdate answered
				p.sendRaw(out)
				out = out[:0]
			}
			if err != nil {
				return got, errors.Join(err, alertErr(alert))
			}
			if cap(data) != cap(dst) {
				p.t.Fatal("openRecord allocated")
			}
			got = append(got, data...)
			p.in = p.in[rn:]
			continue
		}
		k, err := p.raw.Read(buf)
		p.in = append(p.in, buf[:k]...)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func alertErr(a byte) error {
	if a == 0 {
		return nil
	}
	return errors.New("alert to send")
}

// TestTLSRecordLayerAgainstCryptoTLS: what the relay's record layer seals,
// crypto/tls opens, and the other way, byte for byte, in records of every
// size, across KeyUpdates both ways, to close_notify both ways; with and
// without session tickets in the handshake (the server's sequence number
// counts them).
func TestTLSRecordLayerAgainstCryptoTLS(t *testing.T) {
	cases := []struct {
		name   string
		client func(*tls.Config)
	}{
		{"tickets", nil},
		{"no tickets", func(c *tls.Config) { c.SessionTicketsDisabled = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newRLPair(t, tc.client)
			rng := rand.New(rand.NewPCG(5, 6))
			data := make([]byte, 1<<20)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			// relay to browser: sealed by the record layer, in place (with
			// room past the end) and copied (without).
			var wg sync.WaitGroup
			var readErr error
			var got []byte
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, readErr = io.ReadAll(io.LimitReader(p.client, int64(len(data))))
			}()
			var out []byte
			for off := 0; off < len(data); {
				n := min(len(data)-off, rng.IntN(40000))
				chunk := data[off : off+n]
				if rng.IntN(2) == 0 {
					chunk = chunk[:n:n]
				}
				before := append([]byte(nil), data[off:min(len(data), off+n+1)]...)
				out = p.rl.sealData(out[:0], chunk)
				if !bytes.Equal(before, data[off:min(len(data), off+n+1)]) {
					t.Fatal("sealing in place changed the plaintext")
				}
				p.sendRaw(out)
				off += n
			}
			wg.Wait()
			if readErr != nil || sha256.Sum256(got) != sha256.Sum256(data) {
				t.Fatalf("crypto/tls read %d of %d: %v", len(got), len(data), readErr)
			}

			// browser to relay: sealed by crypto/tls, opened here.
			go func() {
				for off := 0; off < len(data); {
					n := min(len(data)-off, 1+rng.IntN(40000))
					if _, err := p.client.Write(data[off : off+n]); err != nil {
						return
					}
					off += n
				}
			}()
			back, err := p.recv(len(data))
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("opened %d of %d: %v", len(back), len(data), err)
			}

			// KeyUpdate, the relay asking: crypto/tls answers with its own
			// when it next reads, then writes under its new key.
			out, err = p.rl.sealKeyUpdate(out[:0], keyUpdateRequested)
			if err != nil {
				t.Fatal(err)
			}
			out = p.rl.sealData(out, []byte("after the update"))
			p.sendRaw(out)
			buf := make([]byte, 64)
			if n, err := io.ReadFull(p.client, buf[:len("after the update")]); err != nil || string(buf[:n]) != "after the update" {
				t.Fatalf("crypto/tls after the relay's KeyUpdate: %q %v", buf[:n], err)
			}
			if _, err := p.client.Write([]byte("client after update")); err != nil {
				t.Fatal(err)
			}
			if b, err := p.recv(len("client after update")); err != nil || string(b) != "client after update" {
				t.Fatalf("relay after crypto/tls's KeyUpdate: %q %v", b, err)
			}

			// close_notify from the relay: crypto/tls reads io.EOF.
			p.sendRaw(p.rl.sealAlert(nil, alertLevelWarning, alertCloseNotify))
			if n, err := p.client.Read(buf); n != 0 || err != io.EOF {
				t.Fatalf("crypto/tls after close_notify: %d %v", n, err)
			}
			// and from crypto/tls: the relay reads io.EOF.
			_ = p.client.CloseWrite()
			if _, err := p.recv(1); !errors.Is(err, io.EOF) {
				t.Fatalf("relay after close_notify: %v", err)
			}
		})
	}
}

// TestTLSRecordLayerRefuses: records the record layer must refuse, each
// with its alert.
func TestTLSRecordLayerRefuses(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	newRL := func() *recordLayer {
		rl, _, err := newRecordLayer(tls.TLS_AES_128_GCM_SHA256, secret, secret)
		if err != nil {
			t.Fatal(err)
		}
		return rl
	}
	sealed := func(typ byte, p []byte) []byte { return newRL().out.seal(nil, typ, p) }
	flip := sealed(recApplicationData, []byte("data"))
	flip[len(flip)-1] ^= 1
	cases := []struct {
		name  string
		rec   []byte
		alert byte
		eof   bool
	}{
		{"tampered", flip, alertBadRecordMAC, false},
		{"plaintext handshake", []byte{recHandshake, 3, 3, 0, 1, 0}, alertUnexpectedMessage, false},
		{"change_cipher_spec", []byte{recChangeCipherSpec, 3, 3, 0, 1, 1}, alertUnexpectedMessage, false},
		{"too long", append([]byte{recApplicationData, 3, 3, 0x41, 0x01}, make([]byte, recMaxCipher+1)...), alertRecordOverflow, false},
		{"only padding", sealed(0, nil), alertUnexpectedMessage, false},
		{"unknown inner type", sealed(99, []byte("x")), alertUnexpectedMessage, false},
		{"alert of 3 bytes", sealed(recAlert, []byte{1, 0, 0}), alertDecodeError, false},
		{"close_notify", sealed(recAlert, []byte{alertLevelWarning, alertCloseNotify}), 0, true},
		{"fatal alert", sealed(recAlert, []byte{alertLevelFatal, 40}), 0, false},
		{"NewSessionTicket from the browser", sealed(recHandshake, []byte{4, 0, 0, 1, 0}), alertUnexpectedMessage, false},
		{"bad KeyUpdate value", sealed(recHandshake, []byte{hsKeyUpdate, 0, 0, 1, 2}), alertDecodeError, false},
		{"bytes after a KeyUpdate", sealed(recHandshake, []byte{hsKeyUpdate, 0, 0, 1, 0, hsKeyUpdate}), alertUnexpectedMessage, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rl := newRL()
			dst := make([]byte, 0, len(tc.rec))
			_, _, alert, err := rl.openRecord(dst, tc.rec, nil)
			if tc.eof {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("want io.EOF, got %v", err)
				}
				return
			}
			if err == nil || alert != tc.alert {
				t.Fatalf("want an error with alert %d, got %v with alert %d", tc.alert, err, alert)
			}
		})
	}
}

// TestTLSRecordLayerFragmentedKeyUpdate: a KeyUpdate split across two
// records is put together, and the data after it opens under the new key.
func TestTLSRecordLayerFragmentedKeyUpdate(t *testing.T) {
	secret := bytes.Repeat([]byte{9}, 48)
	peer, _, _ := newRecordLayer(tls.TLS_AES_256_GCM_SHA384, secret, secret)
	rl, _, _ := newRecordLayer(tls.TLS_AES_256_GCM_SHA384, secret, secret)
	var stream []byte
	stream = peer.out.seal(stream, recHandshake, []byte{hsKeyUpdate, 0})
	stream = peer.out.seal(stream, recHandshake, []byte{0, 1, keyUpdateNotRequested})
	if err := peer.out.update(); err != nil {
		t.Fatal(err)
	}
	stream = peer.sealData(stream, []byte("new key"))
	var got []byte
	for len(stream) > 0 {
		n := recordLen(stream)
		data, _, _, err := rl.openRecord(make([]byte, 0, n), stream[:n], nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, data...)
		stream = stream[n:]
	}
	if string(got) != "new key" {
		t.Fatalf("got %q", got)
	}
}

// TestTLSRecordLayerTakesOver: the relay takes a TLS 1.3 browser over
// from crypto/tls (with tickets, with a client certificate, resumed) and
// relays byte for byte; a TLS 1.2 browser stays with crypto/tls.
func TestTLSRecordLayerTakesOver(t *testing.T) {
	cases := []struct {
		name     string
		verify   bool
		maxVer   uint16
		resume   bool
		takeover uint64
	}{
		{"TLS 1.3", false, 0, false, 1},
		{"TLS 1.3 client certificate", true, 0, false, 1},
		{"TLS 1.3 resumed", false, 0, true, 2},
		{"TLS 1.2", false, tls.VersionTLS12, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, ca *testutil.TestCA) {
				if tc.verify {
					c.TLS.ClientAuth = tls.RequireAndVerifyClientCert
					c.TLS.ClientCAs = ca.Pool
				}
			})
			cfg := e.clientTLS()
			cfg.MaxVersion = tc.maxVer
			if tc.verify {
				cfg.Certificates = []tls.Certificate{e.ca.Client(t, "browser").TLS}
			}
			conns := 1
			if tc.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				conns = 2
			}
			for i := range conns {
				c, err := tls.Dial("tcp", e.addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if tc.resume && i == 1 && !c.ConnectionState().DidResume {
					t.Fatal("second connection did not resume")
				}
				if _, err := io.WriteString(c, upgradeRequest("/websockify?token="+canary)); err != nil {
					t.Fatal(err)
				}
				w := readResponse(t, c)
				if w.status != 101 {
					t.Fatalf("upgrade: %d %q", w.status, w.body)
				}
				w.rfbHandshake()
				data := bytes.Repeat([]byte("0123456789abcdef"), 40000+i)
				go w.send(data)
				got, err := io.ReadAll(io.LimitReader(&wsStream{w: w}, int64(len(data))))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("echo: %d of %d: %v", len(got), len(data), err)
				}
				w.write(frame(true, wsframe.OpClose, wsframe.AppendClosePayload(nil, wsframe.CloseNormal, "")))
				w.expectClose(wsframe.CloseNormal)
				_ = c.Close()
			}
			if st := e.srv.Stats(); st.TLS.RecordLayer != tc.takeover {
				t.Fatalf("record layer took over %d connections, want %d", st.TLS.RecordLayer, tc.takeover)
			}
		})
	}
}

// FuzzTLSRecordOpen feeds a byte stream to the record layer as records:
// it must never panic, allocate the plaintext elsewhere than in the room
// given, or accept a record it did not seal.
func FuzzTLSRecordOpen(f *testing.F) {
	secret := bytes.Repeat([]byte{3}, 32)
	peer, _, _ := newRecordLayer(tls.TLS_AES_128_GCM_SHA256, secret, secret)
	f.Add(peer.sealData(nil, []byte("hello")))
	f.Add(peer.out.seal(nil, recHandshake, []byte{hsKeyUpdate, 0, 0, 1, 1}))
	f.Add(peer.out.seal(nil, recAlert, []byte{1, 0}))
	f.Add([]byte{recApplicationData, 3, 3, 0, 17})
	f.Fuzz(func(t *testing.T, stream []byte) {
		rl, _, _ := newRecordLayer(tls.TLS_AES_128_GCM_SHA256, secret, secret)
		for i := 0; len(stream) > 0 && i < 64; i++ {
			n := recordLen(stream)
			if n == 0 || n > len(stream) {
				return
			}
			dst := make([]byte, 0, n)
			data, _, _, err := rl.openRecord(dst, stream[:n], nil)
			if err != nil {
				return
			}
			if len(data) > 0 && &data[0] != &dst[:1][0] {
				t.Fatal("plaintext not opened into the room given")
			}
			stream = stream[n:]
		}
	})
}

// TestTLSRecordLayerNoAllocs: sealing and opening application data
// allocate nothing (the relay's 0 allocations per relayed frame).
func TestTLSRecordLayerNoAllocs(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	tx, _, _ := newRecordLayer(tls.TLS_AES_128_GCM_SHA256, secret, secret)
	rx, _, _ := newRecordLayer(tls.TLS_AES_128_GCM_SHA256, secret, secret)
	payload := make([]byte, 40000)
	out := make([]byte, 0, 64<<10)
	dst := make([]byte, 0, recHeaderLen+recMaxCipher)
	allocs := testing.AllocsPerRun(50, func() {
		out = tx.sealData(out[:0], payload[:30000]) // in place: room past the end
		out = tx.sealData(out, payload[:100:100])   // copied: none
		for b := out; len(b) > 0; {
			n := recordLen(b)
			if _, _, _, err := rx.openRecord(dst[:0], b[:n], nil); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per seal and open", allocs)
	}
}

// TestTLSKeyLogRouting: key log lines reach the handshake whose ClientHello
// carried their client random, and no other; two handshakes with the same
// random get none (neither can be handed the other's secrets).
func TestTLSKeyLogRouting(t *testing.T) {
	hello := func(random byte) []byte {
		h := make([]byte, clientRandomEnd+10)
		h[0], h[recHeaderLen] = recHandshake, 1
		for i := clientRandomEnd - 32; i < clientRandomEnd; i++ {
			h[i] = random
		}
		return h
	}
	line := func(label string, random byte, secret string) []byte {
		return []byte(label + " " + hex.EncodeToString(bytes.Repeat([]byte{random}, 32)) + " " + hex.EncodeToString([]byte(secret)) + "\n")
	}
	cases := []struct {
		name    string
		randoms []byte // one transport each, registered in order
		wantCTS []string
		forget0 bool // the first forgets before the lines arrive
	}{
		{"one handshake", []byte{1}, []string{"c1"}, false},
		{"two randoms", []byte{1, 2}, []string{"c1", "c2"}, false},
		{"same random", []byte{1, 1}, []string{"", ""}, false},
		{"same random, first gone", []byte{1, 1}, []string{"", ""}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k tlsKeyLog
			ts := make([]*tlsTransport, len(tc.randoms))
			for i, r := range tc.randoms {
				ts[i] = &tlsTransport{keys: &k}
				ts[i].mu.Lock()
				ts[i].head = hello(r)[:clientRandomEnd]
				k.register(ts[i])
				ts[i].mu.Unlock()
			}
			if tc.forget0 {
				k.forget(ts[0])
			}
			for i, r := range tc.randoms {
				_, _ = k.Write(line("CLIENT_TRAFFIC_SECRET_0", r, fmt.Sprintf("c%d", i+1)))
				_, _ = k.Write(line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", r, "ignored"))
			}
			for i, tr := range ts {
				if tc.forget0 && i == 0 {
					continue
				}
				if got := string(tr.cts); got != tc.wantCTS[i] {
					t.Fatalf("transport %d: secret %q, want %q", i, got, tc.wantCTS[i])
				}
			}
			for _, tr := range ts {
				k.forget(tr)
			}
			if len(k.byCR) != 0 {
				t.Fatalf("%d entries left", len(k.byCR))
			}
		})
	}
}

// splitConn is batchConn (tls_test.go) that also splits the large write:
// the held Finished and the first split bytes of the request's record go
// in one segment, the rest after a pause, so that the record the relay's
// record layer reads first started during the handshake.
type splitConn struct {
	net.Conn
	split int
	held  []byte
}

func (c *splitConn) Write(p []byte) (int, error) {
	if len(p) < 100 {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if _, err := c.Conn.Write(append(c.held, p[:c.split]...)); err != nil {
		return 0, err
	}
	c.held = nil
	time.Sleep(200 * time.Millisecond)
	_, err := c.Conn.Write(p[c.split:])
	return len(p), err
}

// TestTLSRecordLayerRecordAcrossTakeover: a request record that began
// arriving during the handshake and ends after the takeover is read whole,
// wherever it was cut (inside its header, inside its ciphertext).
func TestTLSRecordLayerRecordAcrossTakeover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		split int
	}{{"inside the header", 3}, {"inside the ciphertext", 40}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTLSEnv(t, rfb.ModeEcho, nil)
			raw, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := e.clientTLS()
			cfg.MinVersion = tls.VersionTLS13
			c := tls.Client(&splitConn{Conn: raw, split: tc.split}, cfg)
			defer c.Close()
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, upgradeRequest("/websockify?token="+canary)); err != nil {
				t.Fatal(err)
			}
			w := readResponse(t, c)
			if w.status != 101 {
				t.Fatalf("upgrade: %d %q", w.status, w.body)
			}
			if st := e.srv.Stats(); st.TLS.RecordLayer != 1 {
				t.Fatalf("record layer took over %d connections, want 1", st.TLS.RecordLayer)
			}
		})
	}
}

// TestTLSRecordLayerRefusesOnTheWire: after the takeover, a record longer
// than TLS allows or one that does not authenticate ends the connection
// with the alert RFC 8446 names, which the browser's crypto/tls reports.
func TestTLSRecordLayerRefusesOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"too long", []byte{recApplicationData, 3, 3, 0x4f, 0}, "record overflow"},
		{"forged", append([]byte{recApplicationData, 3, 3, 0, 40}, make([]byte, 40)...), "bad record MAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTLSEnv(t, rfb.ModeEcho, nil)
			raw, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			c := tls.Client(raw, e.clientTLS())
			defer c.Close()
			if _, err := io.WriteString(c, upgradeRequest("/websockify?token="+canary)); err != nil {
				t.Fatal(err)
			}
			w := readResponse(t, c)
			if w.status != 101 {
				t.Fatalf("upgrade: %d", w.status)
			}
			w.rfbHandshake()
			if _, err := raw.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an alert %q, got %v", tc.want, err)
			}
			if st := e.srv.Stats(); st.TLS.RecordLayer != 1 {
				t.Fatalf("record layer took over %d connections, want 1", st.TLS.RecordLayer)
			}
		})
	}
}
