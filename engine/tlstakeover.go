package engine

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Taking a browser's TLS 1.3 connection over from crypto/tls after its
// handshake (the record layer is in tlsrecord.go).
//
// The traffic secrets come from crypto/tls's key log: the server's
// configuration is cloned once per configuration in force with
// KeyLogWriter set to the server's tlsKeyLog, which hands each line to the
// handshake whose ClientHello carried the line's client random. The
// sequence numbers: the worker's reads stop at record boundaries, so the
// browser's records after its Finished are all still the relay's to read
// (the client's sequence starts at 0); the server's records crypto/tls
// sealed under its application secret (the session tickets) are counted by
// opening the records it wrote. Any doubt (TLS 1.2, a suite the record
// layer does not run, no secrets logged, records it cannot account for)
// leaves the connection with crypto/tls, as before.

// clientRandomEnd is the end of a ClientHello's random in its first record:
// record header (5), handshake header (4), legacy_version (2), random (32)
// (RFC 8446 sections 5.1, 4.1.2).
const clientRandomEnd = recHeaderLen + 4 + 2 + 32

// tlsKeyLog takes crypto/tls's key log lines (NSS key log format:
// "LABEL <client random hex> <secret hex>") for the handshakes in progress.
type tlsKeyLog struct {
	mu   sync.Mutex
	byCR map[[32]byte]*tlsTransport

	last atomic.Pointer[keyLoggedConfig] // the clone of the configuration last in force
	base atomic.Pointer[keyLoggedConfig] // the wrapped Config.TLS
}

type keyLoggedConfig struct{ orig, logged *tls.Config }

// register files t under the client random of its ClientHello (t.head),
// when t.head is a ClientHello record. A random already filed (a client
// that reuses one, or copies another's from the wire) poisons the entry:
// its lines then go to no handshake, so a second handshake can never hand
// its secrets to the first, and both stay with crypto/tls. Called with
// t.mu held.
func (k *tlsKeyLog) register(t *tlsTransport) {
	h := t.head
	if h[0] != recHandshake || h[recHeaderLen] != 1 { // client_hello
		return
	}
	var cr [32]byte
	copy(cr[:], h[clientRandomEnd-32:])
	k.mu.Lock()
	if k.byCR == nil {
		k.byCR = make(map[[32]byte]*tlsTransport)
	}
	if _, dup := k.byCR[cr]; dup {
		k.byCR[cr] = nil // poisoned until one of them forgets it
	} else {
		k.byCR[cr] = t
	}
	k.mu.Unlock()
}

// forget removes t's entry, if any.
func (k *tlsKeyLog) forget(t *tlsTransport) {
	t.mu.Lock()
	h := t.head
	t.head = nil
	t.mu.Unlock()
	if len(h) < clientRandomEnd {
		return
	}
	var cr [32]byte
	copy(cr[:], h[clientRandomEnd-32:])
	k.mu.Lock()
	if o, ok := k.byCR[cr]; ok && (o == t || o == nil) {
		delete(k.byCR, cr)
	}
	k.mu.Unlock()
}

// Write takes one key log line; lines other than the application traffic
// secrets, or for handshakes not filed, are dropped. It never fails (an
// error would fail the handshake).
func (k *tlsKeyLog) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) != 3 || hex.DecodedLen(len(f[1])) != 32 {
		return len(line), nil
	}
	client := bytes.Equal(f[0], []byte("CLIENT_TRAFFIC_SECRET_0"))
	if !client && !bytes.Equal(f[0], []byte("SERVER_TRAFFIC_SECRET_0")) {
		return len(line), nil
	}
	var cr [32]byte
	if _, err := hex.Decode(cr[:], f[1]); err != nil {
		return len(line), nil
	}
	secret := make([]byte, hex.DecodedLen(len(f[2])))
	if _, err := hex.Decode(secret, f[2]); err != nil {
		return len(line), nil
	}
	k.mu.Lock()
	t := k.byCR[cr]
	k.mu.Unlock()
	if t == nil {
		return len(line), nil
	}
	t.mu.Lock()
	if client {
		t.cts = secret
	} else {
		t.sts = secret
	}
	t.mu.Unlock()
	return len(line), nil
}

// config returns the configuration the browsers' handshakes run with: base
// with KeyLogWriter set to k on it and on every configuration its
// GetConfigForClient hands out (each cloned once, while it is in force). A
// configuration that logs keys itself is left as it is (no takeover then).
func (k *tlsKeyLog) config(base *tls.Config) *tls.Config {
	if p := k.base.Load(); p != nil && p.orig == base {
		return p.logged
	}
	var c *tls.Config
	switch {
	case base.KeyLogWriter != nil:
		c = base
	case base.GetConfigForClient != nil:
		c = base.Clone()
		c.KeyLogWriter = k
		inner := base.GetConfigForClient
		c.GetConfigForClient = func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
			cc, err := inner(chi)
			if err != nil || cc == nil {
				return cc, err
			}
			return k.logged(cc), nil
		}
	default:
		c = k.logged(base)
	}
	k.base.Store(&keyLoggedConfig{orig: base, logged: c})
	return c
}

// logged returns c's clone with KeyLogWriter set, the same one while c is
// the configuration in force (its session ticket keys are the clone's).
func (k *tlsKeyLog) logged(c *tls.Config) *tls.Config {
	if c.KeyLogWriter != nil {
		return c
	}
	if p := k.last.Load(); p != nil && p.orig == c {
		return p.logged
	}
	l := c.Clone()
	l.KeyLogWriter = k
	k.last.Store(&keyLoggedConfig{orig: c, logged: l})
	return l
}

// recordBound returns how many of n bytes a worker's read may take without
// going past the end of the current record. Called with t.mu held.
func (t *tlsTransport) recordBound(n int) int {
	if t.keys == nil {
		return n
	}
	if len(t.hdr) < recHeaderLen {
		return min(n, recHeaderLen-len(t.hdr))
	}
	return min(n, t.left)
}

// advance moves the record position past b, bytes just read by the
// worker. Called with t.mu held.
func (t *tlsTransport) advance(b []byte) {
	if t.keys == nil {
		return
	}
	for len(b) > 0 {
		if len(t.hdr) < recHeaderLen {
			k := min(len(b), recHeaderLen-len(t.hdr))
			t.hdr = append(t.hdr, b[:k]...)
			b = b[k:]
			if len(t.hdr) == recHeaderLen {
				t.left = recordLen(t.hdr) - recHeaderLen
				if t.left == 0 {
					t.hdr = t.hdr[:0]
				}
			}
			continue
		}
		k := min(len(b), t.left)
		t.left -= k
		b = b[k:]
		if t.left == 0 {
			t.hdr = t.hdr[:0]
		}
	}
}

// takeOver moves a browser's connection whose handshake has just succeeded
// to the relay's record layer when it can (see above), dropping the
// tls.Conn; otherwise it stays with crypto/tls. Either way the handshake's
// bookkeeping is dropped. On the loop, after the worker is done. It
// reports whether the record layer took over.
func (w *tlsWire) takeOver() bool {
	t := w.tr
	if t.keys == nil {
		return false
	}
	t.keys.forget(t)
	t.mu.Lock()
	sent, cts, sts, mid, over := t.sent, t.cts, t.sts, len(t.hdr) > 0, t.sentLen > tlsHandshakeIn
	t.sent, t.cts, t.sts, t.hdr = nil, nil, nil, nil
	t.mu.Unlock()
	cs := w.tc.ConnectionState()
	if cs.Version != tls.VersionTLS13 || cts == nil || sts == nil || mid || over {
		return false
	}
	rl, ok, err := newRecordLayer(cs.CipherSuite, cts, sts)
	if !ok || err != nil {
		return false
	}
	if !countSealed(&rl.out, sent) {
		return false
	}
	w.cn = connCN(cs)
	w.rl, w.tc = rl, nil
	w.pend, t.in = t.in, nil
	return true
}

// countSealed moves h's sequence number past the records in sent (whole
// records, as crypto/tls writes them) that open under h's key: those
// crypto/tls sealed after installing the application secret. It reports
// false when sent does not parse as records.
func countSealed(h *tls13Half, sent [][]byte) bool {
	var scratch []byte
	for _, b := range sent {
		for len(b) > 0 {
			n := recordLen(b)
			if n == 0 || n > len(b) {
				return false
			}
			rec := b[:n]
			b = b[n:]
			if rec[0] != recApplicationData || n-recHeaderLen > recMaxCipher {
				continue
			}
			if cap(scratch) < n {
				scratch = make([]byte, 0, n)
			}
			_, _, _, _ = h.open(scratch[:0], rec) // advances h.seq when it opens
		}
	}
	return true
}

// openRecords opens the whole records waiting (those from the handshake
// first, then the socket's) into pt while there is room for one more,
// answering what needs an answer into the loop's out buffer. The end of the
// stream or an error is left in w.rerr. It reports whether it decrypted
// anything.
func (w *tlsWire) openRecords() bool {
	got := false
	for w.rerr == nil {
		rec, fromPend, ok := w.nextRecord()
		if !ok {
			break
		}
		if len(*w.pt)-w.w < len(rec) {
			break // no room for its plaintext: the relay uses what it has first
		}
		dst := (*w.pt)[w.w:w.w]
		data, out, alert, err := w.rl.openRecord(dst, rec, w.ls.tls.out)
		w.ls.tls.out = out
		n := len(rec)
		if fromPend {
			w.pend = w.pend[n:]
			if len(w.pend) == 0 {
				w.pend = nil
			}
		} else {
			_, _ = w.raw.Discard(n)
		}
		if err != nil {
			if alert != 0 && !w.rl.closed {
				w.ls.tls.out = w.rl.sealAlert(w.ls.tls.out, alertLevelFatal, alert)
				w.rl.closed = true
			}
			w.rerr = err
			break
		}
		if len(data) > 0 {
			w.w += len(data)
			got = true
		}
	}
	return got
}

// nextRecord returns the next whole record: from pend (a record that
// started during the handshake is completed there from the socket), else
// from the socket's inbound buffer. ok is false when no whole record is
// there yet; a record longer than TLS allows is returned as it is, for
// openRecord to refuse.
func (w *tlsWire) nextRecord() (rec []byte, fromPend, ok bool) {
	for len(w.pend) > 0 {
		n := recordLen(w.pend)
		switch {
		case n > 0 && n <= len(w.pend):
			return w.pend[:n], true, true
		case n > recHeaderLen+recMaxCipher:
			return w.pend, true, true // openRecord refuses it
		}
		want := recHeaderLen // the header first, then the rest of the record
		if n > 0 {
			want = n
		}
		b, _ := w.raw.Peek(-1)
		if len(b) == 0 {
			return nil, false, false
		}
		k := min(len(b), want-len(w.pend))
		w.pend = append(w.pend, b[:k]...)
		_, _ = w.raw.Discard(k)
	}
	b, _ := w.raw.Peek(recHeaderLen)
	n := recordLen(b)
	if n == 0 {
		return nil, false, false
	}
	if n > recHeaderLen+recMaxCipher {
		return b, false, true
	}
	if w.raw.InboundBuffered() < n {
		return nil, false, false
	}
	rec, _ = w.raw.Peek(n)
	return rec, false, true
}

// closeNotifyRL seals close_notify with the relay's record layer; the
// caller flushes it.
func (w *tlsWire) closeNotifyRL() error {
	if w.rl.closed {
		return errors.New("tls: close_notify already sent")
	}
	w.ls.tls.out = w.rl.sealAlert(w.ls.tls.out, alertLevelWarning, alertCloseNotify)
	w.rl.closed = true
	return nil
}

var _ io.Writer = (*tlsKeyLog)(nil)
