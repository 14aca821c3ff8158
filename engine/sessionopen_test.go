package engine

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
	"github.com/vncrelay/vncrelay/wsframe"
)

// holdLoops stops the relay's loops (each runs a task that waits) until
// the returned function is called, or 10 s pass: a test orders what the
// kernel holds for a socket before the loop looks at it.
func (e *env) holdLoops(t *testing.T) (release func()) {
	t.Helper()
	n := len(e.srv.loopsSnapshot())
	held, hold := make(chan struct{}, n), make(chan struct{})
	go e.srv.eachLoop(func(*loopState) {
		held <- struct{}{}
		select {
		case <-hold:
		case <-time.After(10 * time.Second):
		}
	})
	for range n {
		select {
		case <-held:
		case <-time.After(5 * time.Second):
			close(hold)
			t.Fatal("loops not held")
		}
	}
	return func() { close(hold) }
}

// loopsSnapshot returns the server's loops.
func (s *Server) loopsSnapshot() []*loopState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*loopState, 0, len(s.loops))
	for _, ls := range s.loops {
		out = append(out, ls)
	}
	return out
}

// sessionIn reports whether a session of the relay is in state st.
func (e *env) sessionIn(st state) bool {
	var found atomic.Bool
	e.srv.eachLoop(func(ls *loopState) {
		for _, s := range ls.sessions {
			if s.state == st {
				found.Store(true)
			}
		}
	})
	return found.Load()
}

// freeOpensCleared checks that every sessionOpen on the loops' free lists
// is zero: nothing wrote to one after it was given back.
func (e *env) freeOpensCleared(t *testing.T) {
	t.Helper()
	var mu sync.Mutex
	var dirty []sessionOpen
	e.srv.eachLoop(func(ls *loopState) {
		for _, o := range ls.freeOpens {
			if !reflect.ValueOf(*o).IsZero() {
				mu.Lock()
				dirty = append(dirty, *o)
				mu.Unlock()
			}
		}
	})
	for _, o := range dirty {
		t.Errorf("a sessionOpen on the free list was written after its release: %+v", o)
	}
}

// TestConsoleResetDuringSetup: a console that sends its whole RFB handshake
// and resets the connection makes the relay's answer to it (its version and
// the security type) fail, which closes the console inside the write and
// refuses the request (502). The setup must stop there: going on started
// the relay of a session that had ended, with the sessionOpen it had given
// back (written to while on the free list, then a nil one) and a console it
// no longer had, and the loop panicked.
func TestConsoleResetDuringSetup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c.(*net.TCPConn)
		}
	}()
	target := auth.Target{Network: "tcp", Address: ln.Addr().String(), SecurityProxy: auth.SecurityProxyRFBNone}
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Resolver = auth.Static{Target: target}
		c.ConnectTimeout = 10 * time.Second
	})
	b, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if _, err := io.WriteString(b, upgradeRequest("/websockify?token="+canary)); err != nil {
		t.Fatal(err)
	}
	var console *net.TCPConn
	select {
	case console = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not connect to the console")
	}
	defer console.Close()
	waitFor(t, "the console setup", func() bool { return e.sessionIn(stateConsoleSetup) })

	// The whole handshake and the reset reach the relay's socket before
	// its loop reads any of it.
	release := e.holdLoops(t)
	_, err = io.WriteString(console, "RFB 003.008\n\x01\x01\x00\x00\x00\x00") // version, None offered, SecurityResult OK
	if err == nil {
		err = console.SetLinger(0)
	}
	_ = console.Close()
	release()
	if err != nil {
		t.Fatal(err)
	}

	w := readResponse(t, b)
	if w.status != http.StatusBadGateway {
		t.Fatalf("status %d, want %d: %q", w.status, http.StatusBadGateway, w.header)
	}
	waitFor(t, "the session's end", func() bool {
		st := e.srv.Stats()
		return st.Connections == 0 && st.Pending == 0
	})
	if st := e.srv.Stats(); st.Consoles != 0 || st.Opened != 0 {
		t.Errorf("consoles %d, opened %d; want 0 and 0", st.Consoles, st.Opened)
	}
	e.freeOpensCleared(t)
}

// openState returns what the relay's only session holds of its open: nil
// when it has given its sessionOpen back, else a copy.
func (e *env) openState(t *testing.T) *sessionOpen {
	t.Helper()
	var mu sync.Mutex
	var n int
	var o *sessionOpen
	e.srv.eachLoop(func(ls *loopState) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range ls.sessions {
			n++
			if s.op != nil {
				c := *s.op
				o = &c
			}
		}
	})
	if n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	return o
}

// TestSecurityProxyOpenState: with the RFB security proxy, the session keeps
// its sessionOpen past the 101 for the browser's RFB handshake alone (the
// policy, the target, the token and the 101 dropped), and gives it back,
// cleared, once the browser has chosen None.
func TestSecurityProxyOpenState(t *testing.T) {
	e := newEnv(t, rfb.ModeEcho, nil)
	target := auth.Target{Network: "tcp", Address: e.console.Addr(), SecurityProxy: auth.SecurityProxyRFBNone}
	e2 := newEnv(t, rfb.ModeEcho, func(c *Config) { c.Resolver = auth.Static{Target: target} })
	w := e2.dial()
	if op, p, err := w.readFrame(5 * time.Second); err != nil || op != wsframe.OpBinary || string(p) != "RFB 003.008\n" {
		t.Fatalf("frame %s %q %v, want the relay's version", op, p, err)
	}
	o := e2.openState(t)
	switch {
	case o == nil:
		t.Fatal("the session gave its sessionOpen back before the browser's RFB handshake")
	case o.rfbBrowser == nil:
		t.Fatal("no browser RFB handshake in the sessionOpen")
	case o.pol != nil || o.dialed != nil || o.revokeToken != "" || o.resp != nil || o.head != nil:
		t.Fatalf("the sessionOpen keeps what the open no longer needs: %+v", *o)
	}
	w.send([]byte("RFB 003.008\n"))
	if op, p, err := w.readFrame(5 * time.Second); err != nil || op != wsframe.OpBinary || string(p) != "\x01\x01" {
		t.Fatalf("frame %s %q %v, want the security types", op, p, err)
	}
	w.send([]byte{1, 1}) // None, and ClientInit
	if op, p, err := w.readFrame(5 * time.Second); err != nil || op != wsframe.OpBinary || string(p) != "\x00\x00\x00\x00" {
		t.Fatalf("frame %s %q %v, want SecurityResult OK", op, p, err)
	}
	if op, p, err := w.readFrame(5 * time.Second); err != nil || op != wsframe.OpBinary || len(p) < 24 {
		t.Fatalf("ServerInit: %s %q %v", op, p, err)
	}
	if o := e2.openState(t); o != nil {
		t.Fatalf("relaying session holds its sessionOpen: %+v", *o)
	}
	e2.freeOpensCleared(t)
}

// TestLoopScratchSharedBySessions: the console → browser frame header and
// its iovec are the loop's, shared by its sessions, so neither gnet (a
// browser socket that takes part of a frame) nor the TLS layer may keep
// them past the write. Consoles on one loop, plain and TLS, echo a quarter
// megabyte each at once to browsers whose sockets are small (frames wait
// part-written in gnet's buffer, consoles paused); each must get its own
// bytes back, in frames that parse.
func TestLoopScratchSharedBySessions(t *testing.T) {
	e := newTLSEnv(t, rfb.ModeEcho, func(c *Config, _ *testutil.TestCA) {
		c.Loops = 1
		c.HighWater = 16 << 10 // frames wait in gnet's buffer, partly written
	})
	var ws []*wsClient
	for i := range 4 {
		var w *wsClient
		if i%2 == 0 {
			w = e.dial()
			if err := w.c.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
				t.Fatal(err)
			}
		} else {
			w = e.dialConsole()
		}
		w.rfbHandshake()
		ws = append(ws, w)
	}
	// The relay's side of each browser socket gets a small send buffer (no
	// autotuning), so that frames wait in gnet's buffer, partly written.
	e.srv.eachLoop(func(ls *loopState) {
		for _, s := range ls.sessions {
			_ = unix.SetsockoptInt(s.browser.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<10)
		}
	})
	const total = 256 << 10
	// The browsers read once the relay has paused a console for a full
	// browser, or once they have sent everything.
	sent, errs := make(chan error, len(ws)), make(chan error, len(ws))
	read := make(chan struct{})
	for i, w := range ws {
		data := make([]byte, total)
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		go func() {
			for off := 0; off < total; {
				n := min(total-off, 1+rng.IntN(30000))
				if _, err := w.c.Write(frame(true, wsframe.OpBinary, data[off:off+n])); err != nil {
					sent <- err
					return
				}
				off += n
			}
			sent <- nil
		}()
		go func() {
			<-read
			got, err := io.ReadAll(io.LimitReader(&wsStream{w: w}, total))
			switch {
			case err != nil:
				errs <- fmt.Errorf("browser %d: read %d of %d: %w", i, len(got), total, err)
			case !bytes.Equal(got, data):
				errs <- fmt.Errorf("browser %d: echo differs from what it sent", i)
			default:
				errs <- nil
			}
		}()
	}
	done := 0
	waitFor(t, "a console paused, or everything sent", func() bool {
		for len(sent) > 0 {
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			done++
		}
		return done == len(ws) || e.srv.Stats().PausesConsole > 0
	})
	close(read)
	for range len(ws) {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("echoes not done in 60 s")
		}
	}
	if st := e.srv.Stats(); st.PausesConsole == 0 {
		t.Errorf("no console paused for a full browser: the frames all went out whole, which tests nothing")
	}
}
