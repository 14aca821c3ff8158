package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// The TLS 1.3 record layer of a browser socket after its handshake (RFC
// 8446 sections 5.1-5.4, 4.6.3, 6.1, 7.1-7.3).
//
// crypto/tls decrypts a record into its own buffer and hands out a copy,
// seals a record by copying its plaintext into its own buffer, and keeps
// the buffers the handshake grew for the life of the connection. Once a TLS
// 1.3 handshake with an AES-GCM suite is done, the relay takes the traffic
// secrets crypto/tls logs (Config.KeyLogWriter) and runs the records
// itself: records are opened from the socket's inbound buffer straight into
// the wire's plaintext buffer and sealed from the relay's bytes straight
// into the loop's out buffer, and the tls.Conn, with its buffers, is
// dropped. Anything it does not know (TLS 1.2, ChaCha20-Poly1305, a
// handshake it cannot account for) stays with crypto/tls.

// TLS record constants (RFC 8446 section 5.1, B.1, B.2).
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23

	recHeaderLen = 5
	// recMaxPlain is a record's largest plaintext (2^14); recMaxCipher its
	// largest ciphertext, inner type, padding and tag included (2^14+256).
	recMaxPlain  = 1 << 14
	recMaxCipher = 1<<14 + 256

	hsKeyUpdate = 24

	alertCloseNotify        = 0
	alertUnexpectedMessage  = 10
	alertBadRecordMAC       = 20
	alertRecordOverflow     = 22
	alertDecodeError        = 50
	alertUserCanceled       = 90
	alertLevelWarning       = 1
	alertLevelFatal         = 2
	keyUpdateNotRequested   = 0
	keyUpdateRequested      = 1
	tls13TrafficUpdateLabel = "traffic upd"
)

// errTLSAlert is a fatal alert from the peer; errTLSRecord a record the
// relay refused (the alert it sent is in the message).
var (
	errTLSAlert  = errors.New("tls: peer sent a fatal alert")
	errTLSRecord = errors.New("tls: bad record")
)

// tls13Suite is what the record layer needs of a TLS 1.3 cipher suite.
type tls13Suite struct {
	keyLen int
	hash   func() hash.Hash
}

// tls13Suites are the suites the record layer runs: AES-GCM (crypto/tls's
// choice when both ends have AES hardware). ChaCha20-Poly1305 would need
// golang.org/x/crypto on the hot path: it stays with crypto/tls.
var tls13Suites = map[uint16]tls13Suite{
	tls.TLS_AES_128_GCM_SHA256: {16, sha256.New},
	tls.TLS_AES_256_GCM_SHA384: {32, sha512.New384},
}

// hkdfExpandLabel is HKDF-Expand-Label(secret, label, "", length) (RFC 8446
// section 7.1): the HkdfLabel structure is the info of HKDF-Expand.
func hkdfExpandLabel(h func() hash.Hash, secret []byte, label string, length int) ([]byte, error) {
	info := make([]byte, 0, 4+6+len(label))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0) // empty context
	return hkdf.Expand(h, secret, string(info), length)
}

// tls13Half is one direction's protection: the AEAD with the key of the
// current traffic secret, its IV, and the record sequence number.
type tls13Half struct {
	suite  tls13Suite
	secret []byte
	aead   cipher.AEAD
	iv     [12]byte
	seq    uint64
	nbuf   [12]byte // the current record's nonce: a field, as a slice of a local would escape to the heap
}

// setSecret installs a traffic secret (RFC 8446 section 7.3): key and IV
// derived from it, sequence number back to 0.
func (h *tls13Half) setSecret(secret []byte) error {
	key, err := hkdfExpandLabel(h.suite.hash, secret, "key", h.suite.keyLen)
	if err != nil {
		return fmt.Errorf("derive TLS key: %w", err)
	}
	iv, err := hkdfExpandLabel(h.suite.hash, secret, "iv", len(h.iv))
	if err != nil {
		return fmt.Errorf("derive TLS iv: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	h.secret, h.aead, h.seq = secret, aead, 0
	copy(h.iv[:], iv)
	return nil
}

// update moves to the next traffic secret (KeyUpdate, RFC 8446 section
// 7.2): application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N,
// "traffic upd", "", Hash.length).
func (h *tls13Half) update() error {
	next, err := hkdfExpandLabel(h.suite.hash, h.secret, tls13TrafficUpdateLabel, h.suite.hash().Size())
	if err != nil {
		return fmt.Errorf("TLS key update: %w", err)
	}
	return h.setSecret(next)
}

// nonce returns the per-record nonce: the IV XOR the sequence number,
// left-padded to the IV's length (RFC 8446 section 5.3), in h.nbuf.
func (h *tls13Half) nonce() []byte {
	h.nbuf = h.iv
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], h.seq)
	for i := range s {
		h.nbuf[4+i] ^= s[i]
	}
	return h.nbuf[:]
}

// seal appends to out one record of inner type typ carrying p (at most
// recMaxPlain bytes), with no padding. When p has a byte of capacity past
// its end, the inner type is written there for the call and the byte is put
// back, so the plaintext is read once, in place (the relay's payloads are
// slices of a larger buffer); otherwise p is copied behind the header first
// and sealed in place.
func (h *tls13Half) seal(out []byte, typ byte, p []byte) []byte {
	n := h.nonce()
	h.seq++
	hdr := len(out)
	ctLen := len(p) + 1 + h.aead.Overhead()
	out = append(out, recApplicationData, 3, 3, byte(ctLen>>8), byte(ctLen))
	if cap(p) > len(p) {
		ext := p[:len(p)+1]
		saved := ext[len(p)]
		ext[len(p)] = typ
		out = h.aead.Seal(out, n, ext, out[hdr:hdr+recHeaderLen])
		ext[len(p)] = saved
		return out
	}
	out = append(out, p...)
	out = append(out, typ)
	body := out[hdr+recHeaderLen:]
	return h.aead.Seal(out[:hdr+recHeaderLen], n, body, out[hdr:hdr+recHeaderLen])
}

// open decrypts rec (header and ciphertext, one whole record) appending the
// plaintext to dst, which must have room for len(rec)-recHeaderLen bytes so
// that nothing is allocated. It returns the content (padding and inner type
// removed) and its inner type; an error carries the alert to send.
func (h *tls13Half) open(dst, rec []byte) ([]byte, byte, byte, error) {
	if rec[0] != recApplicationData {
		return nil, 0, alertUnexpectedMessage, fmt.Errorf("%w: outer type %d after the handshake", errTLSRecord, rec[0])
	}
	if len(rec)-recHeaderLen > recMaxCipher {
		return nil, 0, alertRecordOverflow, fmt.Errorf("%w: %d bytes of ciphertext", errTLSRecord, len(rec)-recHeaderLen)
	}
	n := h.nonce()
	pt, err := h.aead.Open(dst, n, rec[recHeaderLen:], rec[:recHeaderLen])
	if err != nil {
		return nil, 0, alertBadRecordMAC, fmt.Errorf("%w: %w", errTLSRecord, err)
	}
	h.seq++
	pt = pt[len(dst):]
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, alertUnexpectedMessage, fmt.Errorf("%w: no content type", errTLSRecord)
	}
	if i > recMaxPlain {
		return nil, 0, alertRecordOverflow, fmt.Errorf("%w: %d bytes of plaintext", errTLSRecord, i)
	}
	return pt[:i], pt[i], 0, nil
}

// recordLayer is the TLS 1.3 protection of one socket, both directions, and
// what it keeps between records: a handshake message that spans records
// (only KeyUpdate is expected, 5 bytes; any other is refused).
type recordLayer struct {
	in, out tls13Half
	hs      []byte // a handshake message's first bytes, ≤ 5
	closed  bool   // close_notify sent
}

// newRecordLayer makes the record layer of suite with the peer's and the
// relay's traffic secrets (in, out). It reports false for a suite it does
// not run.
func newRecordLayer(suite uint16, in, out []byte) (*recordLayer, bool, error) {
	s, ok := tls13Suites[suite]
	if !ok {
		return nil, false, nil
	}
	rl := &recordLayer{in: tls13Half{suite: s}, out: tls13Half{suite: s}}
	if err := rl.in.setSecret(in); err != nil {
		return nil, false, err
	}
	if err := rl.out.setSecret(out); err != nil {
		return nil, false, err
	}
	return rl, true, nil
}

// sealData appends records carrying p to out, recMaxPlain at a time.
func (rl *recordLayer) sealData(out, p []byte) []byte {
	for len(p) > recMaxPlain {
		out = rl.out.seal(out, recApplicationData, p[:recMaxPlain])
		p = p[recMaxPlain:]
	}
	if len(p) > 0 {
		out = rl.out.seal(out, recApplicationData, p)
	}
	return out
}

// sealAlert appends an alert record to out.
func (rl *recordLayer) sealAlert(out []byte, level, desc byte) []byte {
	a := [2]byte{level, desc}
	return rl.out.seal(out, recAlert, a[:])
}

// sealKeyUpdate appends a KeyUpdate under the current key to out and moves
// the sending side to the next key (RFC 8446 section 4.6.3).
func (rl *recordLayer) sealKeyUpdate(out []byte, request byte) ([]byte, error) {
	m := [5]byte{hsKeyUpdate, 0, 0, 1, request}
	out = rl.out.seal(out, recHandshake, m[:])
	return out, rl.out.update()
}

// recordLen returns the length of the whole record at the start of b, or 0
// when b does not hold its header yet.
func recordLen(b []byte) int {
	if len(b) < recHeaderLen {
		return 0
	}
	return recHeaderLen + int(binary.BigEndian.Uint16(b[3:5]))
}

// openRecord opens one whole record rec, appending application data to dst
// (room for len(rec) bytes is needed), and handles the others: a KeyUpdate
// moves the reading key on (and, when the peer asks, the sending key, the
// update sealed onto out), close_notify is io.EOF, user_canceled is
// ignored, any other alert or message is an error. On an error the alert
// to send (0 for none) comes back with it.
func (rl *recordLayer) openRecord(dst, rec, out []byte) (data, outNext []byte, alert byte, err error) {
	if n := recordLen(rec); n-recHeaderLen > recMaxCipher || n != len(rec) {
		return dst, out, alertRecordOverflow, fmt.Errorf("%w: %d bytes of ciphertext", errTLSRecord, n-recHeaderLen)
	}
	pt, typ, alert, err := rl.in.open(dst, rec)
	if err != nil {
		return dst, out, alert, err
	}
	switch typ {
	case recApplicationData:
		if len(rl.hs) > 0 {
			return dst, out, alertUnexpectedMessage, fmt.Errorf("%w: data inside a handshake message", errTLSRecord)
		}
		return dst[:len(dst)+len(pt)], out, 0, nil
	case recAlert:
		if len(pt) != 2 {
			return dst, out, alertDecodeError, fmt.Errorf("%w: alert of %d bytes", errTLSRecord, len(pt))
		}
		switch pt[1] {
		case alertCloseNotify:
			return dst, out, 0, io.EOF
		case alertUserCanceled:
			return dst, out, 0, nil
		}
		return dst, out, 0, fmt.Errorf("%w: %d", errTLSAlert, pt[1])
	case recHandshake:
		for len(pt) > 0 {
			k := min(len(pt), 5-len(rl.hs))
			rl.hs = append(rl.hs, pt[:k]...)
			pt = pt[k:]
			if rl.hs[0] != hsKeyUpdate || (len(rl.hs) >= 4 && (rl.hs[1] != 0 || rl.hs[2] != 0 || rl.hs[3] != 1)) {
				return dst, out, alertUnexpectedMessage, fmt.Errorf("%w: handshake message %d after the handshake", errTLSRecord, rl.hs[0])
			}
			if len(rl.hs) < 5 {
				continue
			}
			req := rl.hs[4]
			rl.hs = rl.hs[:0]
			if req != keyUpdateNotRequested && req != keyUpdateRequested {
				return dst, out, alertDecodeError, fmt.Errorf("%w: KeyUpdate %d", errTLSRecord, req)
			}
			if len(pt) > 0 {
				// A KeyUpdate ends its record: what follows is under the new key.
				return dst, out, alertUnexpectedMessage, fmt.Errorf("%w: bytes after a KeyUpdate", errTLSRecord)
			}
			if err := rl.in.update(); err != nil {
				return dst, out, 0, err
			}
			if req == keyUpdateRequested && !rl.closed {
				if out, err = rl.sealKeyUpdate(out, keyUpdateNotRequested); err != nil {
					return dst, out, 0, err
				}
			}
		}
		return dst, out, 0, nil
	}
	return dst, out, alertUnexpectedMessage, fmt.Errorf("%w: inner type %d", errTLSRecord, typ)
}
