package engine

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// canary is the token every test uses; it must never show up in a log line,
// an HTTP body or a close reason.
const canary = "CANARY-7f3e9a-token"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared worker pool (ants) keeps a purge goroutine and idle
		// workers for its process-wide default pool.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	)
}

// env is a relay under test with a fake RFB console behind it.
type env struct {
	t       testing.TB
	srv     *Server
	console *rfb.Server
	logs    *testutil.Buffer
	addr    string
	served  chan error
	fds     int // descriptors open in this process before the relay started
}

// newEnv starts a console (echo mode unless mod changes it), a token file with
// the canary token for it, and a relay; mod may change the config.
func newEnv(t testing.TB, mode rfb.Mode, mod func(*Config)) *env {
	t.Helper()
	console := &rfb.Server{Mode: mode}
	if err := console.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(canary+": "+console.Addr()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fds := openFDs()
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{
		Listen:         "127.0.0.1:0",
		Resolver:       &auth.TokenFile{Path: path, Logger: log},
		Loops:          2,
		CloseTimeout:   time.Second,
		ConnectTimeout: 2 * time.Second,
		Logger:         log,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, console: console, logs: logs, addr: srv.Addr().String(), served: make(chan error, 1), fds: fds}
	go func() { e.served <- srv.Serve() }()
	t.Cleanup(e.close)
	return e
}

// close stops the relay and the console and checks what every test must
// leave behind: no connection counted, no token in the logs.
func (e *env) close() {
	e.t.Helper()
	if _, err := e.srv.Shutdown(context.Background()); err != nil && !strings.Contains(err.Error(), "twice") {
		e.t.Errorf("shutdown: %v", err)
	}
	_ = e.console.Close()
	st := e.srv.Stats()
	if st.Connections != 0 || st.Pending != 0 || st.Consoles != 0 {
		e.t.Errorf("counters not back to zero: %+v", st)
	}
	if strings.Contains(e.logs.String(), canary) {
		e.t.Errorf("the token reached the log:\n%s", e.logs.String())
	}
	// Every socket, epoll and event descriptor the relay opened is closed.
	deadline := time.Now().Add(3 * time.Second)
	for openFDs() > e.fds && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFDs(); n > e.fds {
		e.t.Errorf("%d descriptors open after the relay stopped, %d before it started", n, e.fds)
	}
}

// openFDs counts this process's open descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wsClient is a raw WebSocket client: it writes exactly the bytes a test
// asks for, valid or not, and reads frames one by one.
type wsClient struct {
	t      testing.TB
	c      net.Conn
	br     *bufio.Reader
	status int
	sent   bool   // a close frame was sent: the relay's close is an answer, not to be answered
	header string // the response head
	body   string
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// upgradeRequest builds an upgrade request for path with extra header lines.
func upgradeRequest(path string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", testKey)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// dialRaw connects and writes req as is, then reads the response head.
func (e *env) dialRaw(req string) *wsClient {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		e.t.Fatal(err)
	}
	return readResponse(e.t, c)
}

func readResponse(t testing.TB, c net.Conn) *wsClient {
	t.Helper()
	w := &wsClient{t: t, c: c, br: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	for {
		line, err := w.br.ReadString('\n')
		if err != nil {
			t.Fatalf("read response head: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	w.header = head.String()
	if _, err := fmt.Sscanf(w.header, "HTTP/1.1 %d", &w.status); err != nil {
		t.Fatalf("status line %q", w.header)
	}
	if w.status != 101 {
		body, _ := io.ReadAll(w.br)
		w.body = string(body)
	}
	_ = c.SetReadDeadline(time.Time{})
	return w
}

// headerValue returns the value of the first header line called name in a
// response head, or "".
func headerValue(head, name string) string {
	for _, line := range strings.Split(head, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// dial opens a console with the canary token.
func (e *env) dial() *wsClient {
	e.t.Helper()
	w := e.dialRaw(upgradeRequest("/websockify?token=" + canary))
	if w.status != 101 {
		e.t.Fatalf("upgrade: %d %q", w.status, w.body)
	}
	return w
}

// frame builds a masked client frame.
func frame(fin bool, op wsframe.Opcode, payload []byte) []byte {
	var hdr [wsframe.MaxHeaderSize]byte
	n := wsframe.PutHeader(hdr[:], fin, op, len(payload))
	hdr[1] |= 0x80 // MASK
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	out := append(append([]byte(nil), hdr[:n]...), mask[:]...)
	p := append([]byte(nil), payload...)
	wsframe.Unmask(p, mask, 0)
	return append(out, p...)
}

func (w *wsClient) write(b []byte) {
	w.t.Helper()
	if len(b) > 0 && b[0]&0x0f == byte(wsframe.OpClose) {
		w.sent = true
	}
	if _, err := w.c.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// tryWrite writes b and reports whether the write went through; a relay
// that has closed is not a test failure for callers that expect it may.
func (w *wsClient) tryWrite(b []byte) bool {
	if len(b) > 0 && b[0]&0x0f == byte(wsframe.OpClose) {
		w.sent = true
	}
	_, err := w.c.Write(b)
	return err == nil
}

// send writes one masked binary frame.
func (w *wsClient) send(p []byte) { w.write(frame(true, wsframe.OpBinary, p)) }

// readFrame reads one server frame (unfragmented reading: the relay sends
// whole frames).
func (w *wsClient) readFrame(timeout time.Duration) (op wsframe.Opcode, payload []byte, err error) {
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = w.c.SetReadDeadline(time.Time{}) }()
	var hb [wsframe.MaxHeaderSize]byte
	if _, err = io.ReadFull(w.br, hb[:2]); err != nil {
		return 0, nil, err
	}
	need := 2
	switch hb[1] & 0x7f {
	case 126:
		need = 4
	case 127:
		need = 10
	}
	if hb[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("server frame masked")
	}
	if _, err = io.ReadFull(w.br, hb[2:need]); err != nil {
		return 0, nil, err
	}
	h, _, err := wsframe.ParseHeader(hb[:need])
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, h.Length)
	_, err = io.ReadFull(w.br, payload)
	return h.Op, payload, err
}

// readData reads binary frames until it has n payload bytes, answering pings.
func (w *wsClient) readData(n int) []byte {
	w.t.Helper()
	out := make([]byte, 0, n)
	for len(out) < n {
		op, p, err := w.readFrame(10 * time.Second)
		if err != nil {
			w.t.Fatalf("read after %d of %d bytes: %v", len(out), n, err)
		}
		switch op {
		case wsframe.OpBinary:
			out = append(out, p...)
		case wsframe.OpPing:
			w.write(frame(true, wsframe.OpPong, p))
		default:
			w.t.Fatalf("unexpected %s frame %q after %d bytes", op, p, len(out))
		}
	}
	return out
}

// expectClose reads until a close frame and checks its code.
func (w *wsClient) expectClose(code wsframe.CloseCode) string {
	w.t.Helper()
	for {
		op, p, err := w.readFrame(10 * time.Second)
		if err != nil {
			w.t.Fatalf("waiting for close %d: %v", code, err)
		}
		if op != wsframe.OpClose {
			continue
		}
		if len(p) < 2 {
			if code == wsframe.CloseNoStatus {
				return ""
			}
			w.t.Fatalf("close without code, want %d", code)
		}
		got := wsframe.CloseCode(binary.BigEndian.Uint16(p))
		if got != code {
			w.t.Fatalf("close %d %q, want %d", got, p[2:], code)
		}
		if strings.Contains(string(p), canary) {
			w.t.Fatalf("token in close reason")
		}
		// Answer as a browser does (RFC 6455 section 5.5.1); a relay that spoke
		// first waits for this, one that answered ours has closed already.
		if !w.sent {
			w.sent = true
			_, _ = w.c.Write(frame(true, wsframe.OpClose, p[:2]))
		}
		return string(p[2:])
	}
}

// expectEOF checks that the relay closes the socket.
func (w *wsClient) expectEOF() {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, w.br); err != nil {
		w.t.Fatalf("waiting for EOF: %v", err)
	}
}

// rfbHandshake runs the client side of RFB through the relay.
func (w *wsClient) rfbHandshake() {
	w.t.Helper()
	rw := &wsStream{w: w}
	if _, _, _, err := rfb.ClientHandshake(rw); err != nil {
		w.t.Fatalf("RFB handshake through the relay: %v", err)
	}
	if len(rw.pending) != 0 {
		w.t.Fatalf("%d bytes past ServerInit", len(rw.pending))
	}
}

// nextBinary reads the next frame and fails the test unless it is a binary
// frame holding want.
func (w *wsClient) nextBinary(want string) {
	w.t.Helper()
	op, p, err := w.readFrame(5 * time.Second)
	if err != nil || op != wsframe.OpBinary || string(p) != want {
		w.t.Fatalf("frame %s %q %v, want %q", op, p, err, want)
	}
}

// wsStream is an io.ReadWriter over a wsClient's binary frames.
type wsStream struct {
	w       *wsClient
	pending []byte
}

func (s *wsStream) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		op, payload, err := s.w.readFrame(10 * time.Second)
		if err != nil {
			return 0, err
		}
		if op == wsframe.OpPing { // a heartbeat that came before the stream's bytes
			s.w.write(frame(true, wsframe.OpPong, payload))
			continue
		}
		if op != wsframe.OpBinary {
			return 0, fmt.Errorf("%s frame in stream", op)
		}
		s.pending = payload
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *wsStream) Write(p []byte) (int, error) {
	_, err := s.w.c.Write(frame(true, wsframe.OpBinary, p))
	return len(p), err
}
