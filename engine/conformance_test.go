package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// The conformance suite: RFC 6455 cases modelled on the Autobahn TestSuite's
// groups that matter to a server (Autobahn itself needs Python 2). Each case
// writes exactly the bytes it names, valid or not, through a raw client, and
// checks three things against what is written down for it: the bytes that
// reach the console, the frames the browser receives (pongs, echoed close),
// and the close code. Text frames are refused with 1003 by policy (the relay
// is binary-only, as websockify), so the UTF-8 cases of group 6 are about
// close reasons. Set CONFORMANCE_REPORT=FILE to write the per-case report.

// confMaxMessage is the message size limit the suite runs with.
const confMaxMessage = 1 << 20

// keepOpen is the expected close of a case after which the connection must
// still be open: the suite then closes with 1000 and expects the echo.
const keepOpen wsframe.CloseCode = 0

type confCase struct {
	id, desc string
	send     func(w *wsClient)
	console  []byte   // what must reach the console
	pongs    []string // pong payloads the browser must receive, in order
	close    wsframe.CloseCode
}

// sendsAfterClose are the cases that send after their own close frame, which
// RFC 6455 forbids: the relay may have closed by then, and a reset instead of
// a FIN is a correct end for them.
var sendsAfterClose = map[string]bool{"7.1.2": true, "7.1.5": true}

// sinkConsole records everything a console receives, per connection.
type sinkConsole struct {
	addr string
	got  chan []byte
}

func newSinkConsole(t testing.TB) *sinkConsole {
	t.Helper()
	s := &sinkConsole{got: make(chan []byte, 16)}
	s.addr = testutil.ServeLoopback(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		s.got <- b
	})
	return s
}

func cf(fin bool, op wsframe.Opcode, p []byte) []byte { return frame(fin, op, p) }

func bin(p []byte) func(w *wsClient) { return raw(cf(true, wsframe.OpBinary, p)) }

// raw writes the frames as they are. A relay may close before the last byte
// (at a bad header, say): writes after that fail, and that is expected.
func raw(frames ...[]byte) func(w *wsClient) {
	return func(w *wsClient) {
		for _, f := range frames {
			if !w.tryWrite(f) {
				return
			}
		}
	}
}

// chunked writes the frames' bytes n at a time.
func chunked(n int, frames ...[]byte) func(w *wsClient) {
	return func(w *wsClient) {
		all := bytes.Join(frames, nil)
		for i := 0; i < len(all); i += n {
			if !w.tryWrite(all[i:min(i+n, len(all))]) {
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

func withRSV(f []byte, rsv byte) []byte { f[0] |= rsv; return f }

func closeFrame(code uint16, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, code)
	return cf(true, wsframe.OpClose, append(p, reason...))
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

func confCases() []confCase {
	p125, p126, p64k := seq(125), seq(126), seq(65536)
	cases := []confCase{
		// 1: framing.
		{"1.1.1", "binary, empty payload", bin(nil), nil, nil, keepOpen},
		{"1.1.2", "binary, 125 bytes (7-bit length)", bin(p125), p125, nil, keepOpen},
		{"1.1.3", "binary, 126 bytes (16-bit length)", bin(p126), p126, nil, keepOpen},
		{"1.1.4", "binary, 127 bytes", bin(seq(127)), seq(127), nil, keepOpen},
		{"1.1.5", "binary, 65535 bytes", bin(seq(65535)), seq(65535), nil, keepOpen},
		{"1.1.6", "binary, 65536 bytes (64-bit length)", bin(p64k), p64k, nil, keepOpen},
		{"1.1.7", "binary, 65536 bytes written 997 bytes at a time", chunked(997, cf(true, wsframe.OpBinary, p64k)), p64k, nil, keepOpen},
		{"1.1.8", "three binary frames in one write", raw(bytes.Join([][]byte{
			cf(true, wsframe.OpBinary, []byte("a")), cf(true, wsframe.OpBinary, []byte("bc")), cf(true, wsframe.OpBinary, []byte("def"))}, nil)),
			[]byte("abcdef"), nil, keepOpen},
		{"1.2.1", "text frame (binary-only relay)", raw(cf(true, wsframe.OpText, []byte("hi"))), nil, nil, wsframe.CloseUnsupportedData},
		{"1.2.2", "binary then text", raw(cf(true, wsframe.OpBinary, []byte("ok")), cf(true, wsframe.OpText, []byte("hi"))), []byte("ok"), nil, wsframe.CloseUnsupportedData},
		{"1.3.1", "unmasked binary frame", raw([]byte{0x82, 0x02, 'h', 'i'}), nil, nil, wsframe.CloseProtocolError},
		{"1.3.2", "unmasked ping", raw([]byte{0x89, 0x00}), nil, nil, wsframe.CloseProtocolError},

		// 2: ping and pong.
		{"2.1", "ping, empty", raw(cf(true, wsframe.OpPing, nil)), nil, []string{""}, keepOpen},
		{"2.2", "ping, 125-byte text payload", raw(cf(true, wsframe.OpPing, bytes.Repeat([]byte("*"), 125))), nil, []string{strings.Repeat("*", 125)}, keepOpen},
		{"2.3", "ping, binary payload", raw(cf(true, wsframe.OpPing, []byte{0, 0xff, 0xfe, 1})), nil, []string{"\x00\xff\xfe\x01"}, keepOpen},
		{"2.4", "ping, 126 bytes", raw(cf(true, wsframe.OpPing, p126)), nil, nil, wsframe.CloseProtocolError},
		{"2.5", "unsolicited pong", raw(cf(true, wsframe.OpPong, []byte("x"))), nil, nil, keepOpen},
		{"2.6", "unsolicited pong, then ping", raw(cf(true, wsframe.OpPong, []byte("x")), cf(true, wsframe.OpPing, []byte("y"))), nil, []string{"y"}, keepOpen},
		{"2.7", "ten pings", raw(func() [][]byte {
			var fs [][]byte
			for i := range 10 {
				fs = append(fs, cf(true, wsframe.OpPing, []byte{byte('0' + i)}))
			}
			return fs
		}()...), nil, strings.Split("0123456789", ""), keepOpen},
		{"2.8", "ping written a byte at a time", chunked(1, cf(true, wsframe.OpPing, []byte("slow"))), nil, []string{"slow"}, keepOpen},

		// 3: reserved bits (no extension is ever negotiated).
		{"3.1", "RSV1 on binary", raw(withRSV(cf(true, wsframe.OpBinary, []byte("x")), 0x40)), nil, nil, wsframe.CloseProtocolError},
		{"3.2", "RSV2 on binary after a good frame", raw(cf(true, wsframe.OpBinary, []byte("ok")), withRSV(cf(true, wsframe.OpBinary, []byte("x")), 0x20)), []byte("ok"), nil, wsframe.CloseProtocolError},
		{"3.3", "RSV3 on ping", raw(withRSV(cf(true, wsframe.OpPing, nil), 0x10)), nil, nil, wsframe.CloseProtocolError},
		{"3.4", "RSV1+2+3 on close", raw(withRSV(closeFrame(1000, ""), 0x70)), nil, nil, wsframe.CloseProtocolError},
	}
	// 4: reserved opcodes.
	for i, op := range []wsframe.Opcode{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		cases = append(cases, confCase{fmt.Sprintf("4.%d", i+1), fmt.Sprintf("reserved opcode 0x%x", byte(op)),
			raw(cf(true, wsframe.OpBinary, []byte("ok")), cf(true, op, []byte("x"))), []byte("ok"), nil, wsframe.CloseProtocolError})
	}
	tiny := func(n int) [][]byte {
		fs := [][]byte{cf(false, wsframe.OpBinary, []byte{0})}
		for i := 1; i < n-1; i++ {
			fs = append(fs, cf(false, wsframe.OpContinuation, []byte{byte(i)}))
		}
		return append(fs, cf(true, wsframe.OpContinuation, []byte{byte(n - 1)}))
	}
	tinyWant := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	cases = append(cases, []confCase{
		// 5: fragmentation.
		{"5.1", "fragmented ping", raw(cf(false, wsframe.OpPing, []byte("a")), cf(true, wsframe.OpContinuation, []byte("b"))), nil, nil, wsframe.CloseProtocolError},
		{"5.2", "fragmented pong", raw(cf(false, wsframe.OpPong, []byte("a")), cf(true, wsframe.OpContinuation, []byte("b"))), nil, nil, wsframe.CloseProtocolError},
		{"5.3", "binary in two fragments", raw(cf(false, wsframe.OpBinary, []byte("frag")), cf(true, wsframe.OpContinuation, []byte("ment"))), []byte("fragment"), nil, keepOpen},
		{"5.4", "fragments with a ping between", raw(cf(false, wsframe.OpBinary, []byte("ab")), cf(true, wsframe.OpPing, []byte("p")), cf(true, wsframe.OpContinuation, []byte("cd"))), []byte("abcd"), []string{"p"}, keepOpen},
		{"5.5", "fragments with ping between, a byte at a time", chunked(1, cf(false, wsframe.OpBinary, []byte("ab")), cf(true, wsframe.OpPing, []byte("p")), cf(true, wsframe.OpContinuation, []byte("cd"))), []byte("abcd"), []string{"p"}, keepOpen},
		{"5.6", "continuation without a message", raw(cf(true, wsframe.OpContinuation, []byte("x"))), nil, nil, wsframe.CloseProtocolError},
		{"5.7", "continuation after a complete message", raw(cf(true, wsframe.OpBinary, []byte("ok")), cf(true, wsframe.OpContinuation, []byte("x"))), []byte("ok"), nil, wsframe.CloseProtocolError},
		{"5.8", "binary frame inside a fragmented message", raw(cf(false, wsframe.OpBinary, []byte("a")), cf(true, wsframe.OpBinary, []byte("b"))), []byte("a"), nil, wsframe.CloseProtocolError},
		{"5.9", "fragmented text message", raw(cf(false, wsframe.OpText, []byte("a")), cf(true, wsframe.OpContinuation, []byte("b"))), nil, nil, wsframe.CloseUnsupportedData},
		{"5.10", "empty fragments", raw(cf(false, wsframe.OpBinary, nil), cf(false, wsframe.OpContinuation, nil), cf(true, wsframe.OpContinuation, []byte("z"))), []byte("z"), nil, keepOpen},
		{"5.11", "1000 one-byte fragments", raw(tiny(1000)...), tinyWant(1000), nil, keepOpen},

		// 6: UTF-8 (text frames are refused by policy before any UTF-8 check).
		{"6.1", "valid UTF-8 text", raw(cf(true, wsframe.OpText, []byte("κόσμε"))), nil, nil, wsframe.CloseUnsupportedData},
		{"6.2", "invalid UTF-8 text", raw(cf(true, wsframe.OpText, []byte{0xce, 0xba, 0xff})), nil, nil, wsframe.CloseUnsupportedData},
		{"6.3", "close reason valid UTF-8", raw(closeFrame(1000, "κόσμε")), nil, nil, wsframe.CloseNormal},
		{"6.4", "close reason invalid UTF-8", raw(closeFrame(1000, "\xce\xba\xff")), nil, nil, wsframe.CloseInvalidPayload},
		{"6.5", "close reason cut inside a UTF-8 sequence", raw(closeFrame(1000, "\xce")), nil, nil, wsframe.CloseInvalidPayload},

		// 7: close handling.
		{"7.1.1", "close 1000 after data", raw(cf(true, wsframe.OpBinary, []byte("bye")), closeFrame(1000, "")), []byte("bye"), nil, wsframe.CloseNormal},
		{"7.1.2", "data after close is not relayed", raw(closeFrame(1000, ""), cf(true, wsframe.OpBinary, []byte("late"))), nil, nil, wsframe.CloseNormal},
		{"7.1.3", "close, empty payload", raw(cf(true, wsframe.OpClose, nil)), nil, nil, wsframe.CloseNoStatus},
		{"7.1.4", "close, 1-byte payload", raw(cf(true, wsframe.OpClose, []byte{0x03})), nil, nil, wsframe.CloseProtocolError},
		{"7.1.5", "ping after close is not answered", raw(closeFrame(1000, ""), cf(true, wsframe.OpPing, []byte("p"))), nil, nil, wsframe.CloseNormal},
		{"7.3.1", "close with 123-byte reason", raw(closeFrame(1000, strings.Repeat("r", 123))), nil, nil, wsframe.CloseNormal},
		{"7.3.2", "close with 124-byte reason (126-byte payload)", raw(closeFrame(1000, strings.Repeat("r", 124))), nil, nil, wsframe.CloseProtocolError},
		{"7.3.3", "fragmented close", raw(cf(false, wsframe.OpClose, []byte{0x03, 0xe8})), nil, nil, wsframe.CloseProtocolError},
	}...)
	for i, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, confCase{fmt.Sprintf("7.7.%d", i+1), fmt.Sprintf("close code %d is echoed", code),
			raw(closeFrame(code, "")), nil, nil, wsframe.CloseCode(code)})
	}
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, confCase{fmt.Sprintf("7.9.%d", i+1), fmt.Sprintf("invalid close code %d", code),
			raw(closeFrame(code, "")), nil, nil, wsframe.CloseProtocolError})
	}
	big := seq(confMaxMessage)
	var bigFrames [][]byte
	for off := 0; off < len(big); off += 64 << 10 {
		op := wsframe.OpContinuation
		if off == 0 {
			op = wsframe.OpBinary
		}
		bigFrames = append(bigFrames, cf(off+64<<10 >= len(big), op, big[off:off+64<<10]))
	}
	hugeHeader := []byte{0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4} // length 2^62
	cases = append(cases, []confCase{
		// 9: limits.
		{"9.1.1", "message at the size limit in one frame", bin(big), big, nil, keepOpen},
		{"9.1.2", "message one byte over the limit", bin(seq(confMaxMessage + 1)), nil, nil, wsframe.CloseMessageTooBig},
		{"9.1.3", "message at the limit in 64 KiB fragments", raw(bigFrames...), big, nil, keepOpen},
		{"9.1.4", "fragments that reach the limit, then one byte more", raw(append(bigFrames[:len(bigFrames)-1:len(bigFrames)-1],
			cf(false, wsframe.OpContinuation, big[len(big)-64<<10:]), cf(true, wsframe.OpContinuation, []byte{1}))...), big, nil, wsframe.CloseMessageTooBig},
		{"9.1.5", "header claiming 2^62 bytes", raw(hugeHeader), nil, nil, wsframe.CloseMessageTooBig},
		{"9.1.6", "64-bit length with the top bit set", raw([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}), nil, nil, wsframe.CloseProtocolError},
		{"9.2.1", "10000 one-byte fragments", raw(tiny(10000)...), tinyWant(10000), nil, keepOpen},

		// 12/13: compression is declined; a compressed frame is an error.
		{"12.1", "frame with RSV1 (permessage-deflate) when none was negotiated", raw(withRSV(cf(true, wsframe.OpBinary, []byte{0xf2, 0x48, 0x05, 0x00}), 0x40)), nil, nil, wsframe.CloseProtocolError},
	}...)
	return cases
}

// TestConformance runs every case and writes the report.
func TestConformance(t *testing.T) {
	sink := newSinkConsole(t)
	e := newEnv(t, 0, func(c *Config) {
		c.Resolver = staticTarget(sink.addr)
		c.MaxMessageSize = confMaxMessage
		c.Logger = discardLogger()
	})
	var report strings.Builder
	fmt.Fprintf(&report, "# vncrelay RFC 6455 conformance report\n\n| case | description | expected | observed | result |\n|---|---|---|---|---|\n")
	passed, groups := 0, map[string][2]int{}
	for _, tc := range confCases() {
		t.Run(tc.id, func(t *testing.T) {
			observed, ok := runConfCase(t, e, sink, tc)
			group := strings.Split(tc.id, ".")[0]
			g := groups[group]
			g[1]++
			result := "FAIL"
			if ok {
				g[0]++
				passed++
				result = "pass"
			}
			groups[group] = g
			fmt.Fprintf(&report, "| %s | %s | %s | %s | %s |\n", tc.id, tc.desc, describeExpect(tc), observed, result)
			if !ok {
				t.Errorf("%s %s: expected %s, observed %s", tc.id, tc.desc, describeExpect(tc), observed)
			}
		})
	}
	total := len(confCases())
	fmt.Fprintf(&report, "\n%d passed of %d.", passed, total)
	for _, g := range []string{"1", "2", "3", "4", "5", "6", "7", "9", "12"} {
		fmt.Fprintf(&report, " Group %s: %d/%d.", g, groups[g][0], groups[g][1])
	}
	report.WriteString("\n")
	t.Logf("conformance: %d passed of %d", passed, total)
	if path := os.Getenv("CONFORMANCE_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func describeExpect(tc confCase) string {
	s := fmt.Sprintf("console %d B", len(tc.console))
	if len(tc.pongs) > 0 {
		s += fmt.Sprintf(", %d pong", len(tc.pongs))
	}
	if tc.close == keepOpen {
		return s + ", stays open"
	}
	return s + fmt.Sprintf(", close %d", tc.close)
}

// runConfCase runs one case on a fresh console and reports what it saw.
func runConfCase(t *testing.T, e *env, sink *sinkConsole, tc confCase) (string, bool) {
	w := e.dial()
	tc.send(w)
	var pongs []string
	closeCode := wsframe.CloseCode(1006) // no close frame seen
	closeSeen := false
	if tc.close == keepOpen {
		// Give the relay time to act on what was sent; it must not close.
		deadline := time.Now().Add(200 * time.Millisecond)
		for len(pongs) < len(tc.pongs) || time.Now().Before(deadline) {
			wait := time.Until(deadline)
			if len(pongs) < len(tc.pongs) {
				wait += 2 * time.Second
			}
			op, p, err := w.readFrame(max(wait, time.Millisecond))
			if err != nil {
				break
			}
			if op == wsframe.OpPong {
				pongs = append(pongs, string(p))
				continue
			}
			if op == wsframe.OpClose {
				closeSeen = true
				closeCode = closeOf(p)
				break
			}
		}
		if !closeSeen {
			w.tryWrite(closeFrame(1000, ""))
		}
	}
	for !closeSeen {
		op, p, err := w.readFrame(5 * time.Second)
		if err != nil {
			break
		}
		switch op {
		case wsframe.OpPong:
			pongs = append(pongs, string(p))
		case wsframe.OpClose:
			closeSeen, closeCode = true, closeOf(p)
		}
	}
	if closeSeen && !w.sent {
		w.tryWrite(cf(true, wsframe.OpClose, binary.BigEndian.AppendUint16(nil, uint16(closeCode))))
	}
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, eofErr := io.Copy(io.Discard, w.br)
	if sendsAfterClose[tc.id] && errors.Is(eofErr, syscall.ECONNRESET) {
		eofErr = nil
	}
	var console []byte
	select {
	case console = <-sink.got:
	case <-time.After(5 * time.Second):
		return "console socket not closed", false
	}
	want := tc.close
	if want == keepOpen {
		want = wsframe.CloseNormal // our own close, echoed
	}
	observed := fmt.Sprintf("console %d B", len(console))
	if len(pongs) > 0 {
		observed += fmt.Sprintf(", %d pong", len(pongs))
	}
	observed += fmt.Sprintf(", close %d", closeCode)
	ok := closeSeen && closeCode == want && bytes.Equal(console, tc.console) &&
		fmt.Sprint(pongs) == fmt.Sprint(tc.pongs) && eofErr == nil
	if eofErr != nil {
		observed += ", socket not closed"
	}
	return observed, ok
}

func closeOf(p []byte) wsframe.CloseCode {
	if len(p) < 2 {
		return wsframe.CloseNoStatus
	}
	return wsframe.CloseCode(binary.BigEndian.Uint16(p))
}
