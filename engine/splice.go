package engine

import (
	"io"
	"math"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/wsframe"
)

// Console → browser without a copy through user space (Linux splice(2)).
//
// A large console read goes console socket → pipe → browser socket: splice
// moves the bytes into a pipe and reports how many (n), the relay writes the
// frame header for n bytes to the browser through gnet, then splices the
// pipe to the browser socket. The gnet patch (RawReader, Writabler) hands
// the engine the console's readability and the browser's writability.
//
// Order on the browser socket is gnet's outbound buffer first, then the
// pipe. So nothing is spliced while gnet holds bytes for the browser (the
// header, or part of it, a pong, ...): the pipe waits for OnWritable, which
// gnet calls once its buffer is empty. And nothing is written through gnet
// while the pipe holds bytes: writeFrame and ping empty the pipe first
// (spliceFlush), into gnet's buffer if the browser socket is full.
//
// While a pipe holds bytes the browser could not take, the pipe is the
// outbound queue: console reads are paused (pauseConsole) until it drains.
//
// Pipes are pooled per loop and taken only while bytes are in them: a
// console whose browser keeps up returns its pipe within the read that took
// it, so a loop streaming any number of consoles uses one pipe, and an idle
// console holds none. At most spliceMaxPipes are open in the process
// (counted in the descriptor budget, ConsoleBudget); when none is free,
// the read takes the copy path (read + writev), which never fails a console.
//
// The copy path stays for what needs the bytes in user space: TLS on either
// side, --record, the console setup and the RFB security proxy, bytes gnet
// already buffered, and small reads, where splice's two calls cost more than
// one copy (the crossover is Config.SpliceMinRead).

// spliceMaxPipes bounds the pipes open in the process: 2 descriptors each,
// reserved in ConsoleBudget. A pipe is held past its read only by a console
// whose browser is slower than it, so the bound is the number of such
// consoles that splice; the others copy.
const spliceMaxPipes = 64

// splicePipeSize is the pipe capacity asked for with F_SETPIPE_SZ: as large
// as the default read buffer (Config.ReadBufferSize), so that a spliced
// frame is as large as a copied one. A 64 KiB pipe (the kernel's default)
// holds 16 page slots, and one TCP segment's fragment takes a slot: reads of
// a 64 KiB framebuffer update then stop short.
const splicePipeSize = 256 << 10

// defaultSpliceMinRead is the default of Config.SpliceMinRead.
const defaultSpliceMinRead = 16 << 10

// splicePipe is one pipe: bytes spliced in from a console wait in it for the
// browser socket.
type splicePipe struct {
	r, w int // read and write ends, non-blocking
	size int // capacity, F_SETPIPE_SZ's answer
	n    int // bytes in the pipe
}

// pipePool holds a loop's empty pipes. Owned by the loop.
type pipePool struct {
	free []*splicePipe
	buf  []byte // scratch to move a pipe's bytes into gnet's buffer (spliceFlush); allocated on first use

	spliced   int64 // reads spliced
	fallbacks int64 // large reads copied for want of a pipe
	moved     int64 // pipes moved into gnet's buffer for a frame to follow (pipeToBuffer)
}

// spliceConf is the server's splice setting and its count of open pipes.
type spliceConf struct {
	min   int          // Config.SpliceMinRead; MaxInt when off
	limit int32        // pipes allowed open: spliceMaxPipes
	open  atomic.Int32 // pipes open, on every loop
}

func (sc *spliceConf) init(cfg *Config) {
	sc.min, sc.limit = cfg.SpliceMinRead, spliceMaxPipes
	if cfg.splicePipes != 0 {
		sc.limit = int32(cfg.splicePipes)
	}
	if sc.min < 0 {
		sc.min = math.MaxInt
	}
}

// get returns an empty pipe, or nil when none is free and the bound is
// reached (or the kernel refuses one).
func (pp *pipePool) get(sc *spliceConf) *splicePipe {
	if n := len(pp.free); n > 0 {
		p := pp.free[n-1]
		pp.free[n-1] = nil
		pp.free = pp.free[:n-1]
		return p
	}
	if sc.open.Add(1) > sc.limit {
		sc.open.Add(-1)
		return nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		sc.open.Add(-1)
		return nil
	}
	p := &splicePipe{r: fds[0], w: fds[1], size: 64 << 10}
	if sz, err := unix.FcntlInt(uintptr(p.w), unix.F_SETPIPE_SZ, splicePipeSize); err == nil {
		p.size = sz
	} else if sz, err := unix.FcntlInt(uintptr(p.w), unix.F_GETPIPE_SZ, 0); err == nil {
		p.size = sz // over the user's pipe quota: the kernel's size stays
	}
	return p
}

// put returns an empty pipe to the pool.
func (pp *pipePool) put(p *splicePipe) { pp.free = append(pp.free, p) }

// close closes a pipe, and whatever it holds.
func (p *splicePipe) close(sc *spliceConf) {
	_ = unix.Close(p.r)
	_ = unix.Close(p.w)
	sc.open.Add(-1)
}

// closePipes closes every loop's pooled pipes, once the loops have stopped.
func (s *Server) closePipes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ls := range s.loops {
		for _, p := range ls.pipes.free {
			p.close(&s.splice)
		}
		ls.pipes.free = nil
	}
}

// OnReadable is gnet's RawReader hook for a console socket whose reads are
// predicted large (SetRawRead): splice, or decline and let gnet read.
func (h *handler) OnReadable(c gnet.Conn) (bool, error) {
	s, ok := c.Context().(*session)
	if !ok || c != s.console {
		return false, nil
	}
	return s.spliceIn()
}

// OnWritable is gnet's Writabler hook: the browser socket has room and
// gnet's buffer for it is empty.
func (h *handler) OnWritable(c gnet.Conn) {
	s, ok := c.Context().(*session)
	if !ok || c != s.browser {
		return
	}
	s.spliceOut(false)
}

// predictSplice runs after each copied console read of n bytes: a large read
// predicts a large next one, which is then offered to splice.
func (s *session) predictSplice(c gnet.Conn, n int) {
	if n >= s.srv.splice.min && !s.spliceNext {
		s.spliceNext = true
		c.SetRawRead(true)
	}
}

// spliceable reports whether the console's next bytes may go by splice.
func (s *session) spliceable() bool {
	return s.spliceNext && s.state == stateRelaying && s.btls() == nil && s.ctls() == nil && s.recorder() == nil &&
		s.rfbBrowser() == nil && s.pipe == nil && s.console.InboundBuffered() == 0 &&
		s.browser.OutboundBuffered() == 0
}

// spliceIn moves what the console has sent into a pipe and on to the
// browser as one binary frame. It reports false when the read should take
// the copy path; err ends the console (io.EOF at its end).
func (s *session) spliceIn() (bool, error) {
	if !s.spliceable() {
		return false, nil
	}
	pool := &s.loop.pipes
	p := pool.get(&s.srv.splice)
	if p == nil {
		pool.fallbacks++
		return false, nil
	}
	// At most a read's worth (ReadBufferSize, the copy path's largest frame)
	// and never over HighWater: the pipe is this console's outbound queue.
	n, err := unix.Splice(s.console.Fd(), nil, p.w, nil, min(p.size, s.srv.cfg.ReadBufferSize, s.srv.cfg.HighWater),
		unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		pool.put(p)
		return true, nil // level-triggered: gnet calls again while there is more
	case err != nil:
		pool.put(p) // empty: the read failed
		return true, err
	case n == 0:
		pool.put(p)
		return true, io.EOF
	}
	pool.spliced++
	p.n = int(n)
	s.pipe = p
	if int(n) < s.srv.splice.min {
		s.spliceNext = false // small reads copy until a large one comes
		s.console.SetRawRead(false)
	}
	s.bytesOut += n
	s.lastActive = s.loop.now
	hdr := s.loop.hdr[:]
	hn := wsframe.PutHeader(hdr, true, wsframe.OpBinary, int(n))
	s.writeHeader(hdr[:hn])
	if s.state != stateClosed {
		s.spliceOut(false)
	}
	return true, nil
}

// writeHeader sends a frame header whose payload follows from the pipe. It
// goes with MSG_MORE: the browser socket has TCP_NODELAY, and without it the
// header would leave as a segment of its own ahead of its payload. What the
// socket does not take goes through gnet's buffer, where spliceOut waits for
// it to leave; an error closes the browser (browserClosed drops the pipe).
func (s *session) writeHeader(hdr []byte) {
	k, err := unix.SendmsgN(s.browser.Fd(), hdr, nil, nil, unix.MSG_MORE|unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	switch {
	case err == nil && k == len(hdr):
		return
	case err == nil, err == unix.EAGAIN, err == unix.EINTR:
		_, _ = s.bw.Write(hdr[max(k, 0):])
	default:
		s.setReason(ReasonBrowserGone)
		s.closeBrowser()
	}
}

// spliceOut sends the pipe's bytes to the browser, if gnet holds none for
// it. What the socket does not take waits for OnWritable, console reads
// paused. With final (a frame must follow the pipe's bytes now), what the
// socket does not take goes into gnet's buffer instead.
func (s *session) spliceOut(final bool) {
	p := s.pipe
	if p == nil {
		s.spliceResume()
		return
	}
	for p.n > 0 && s.browser.OutboundBuffered() == 0 {
		n, err := unix.Splice(p.r, nil, s.browser.Fd(), nil, p.n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || (err == nil && n == 0) {
			break
		}
		if err != nil {
			s.setReason(ReasonBrowserGone)
			s.closeBrowser() // browserClosed drops the pipe
			return
		}
		p.n -= int(n)
	}
	if p.n > 0 && final {
		s.pipeToBuffer(p)
		if s.state == stateClosed {
			return
		}
	}
	if p.n > 0 {
		if s.pausedByWho&pauseConsole == 0 {
			s.pausedByWho |= pauseConsole
			s.srv.stats.pausesConsole.Add(1)
			_ = s.console.PauseRead()
		}
		_ = s.browser.NotifyWritable()
		return
	}
	s.pipe = nil
	s.loop.pipes.put(p)
	s.spliceResume()
}

// spliceResume resumes console reads paused for a pipe once the browser has
// taken everything; while gnet still holds bytes for it, OnWritable comes
// when it has sent them.
func (s *session) spliceResume() {
	if s.pausedByWho&pauseConsole == 0 || s.state != stateRelaying || s.console == nil {
		return
	}
	if s.browser.OutboundBuffered() > 0 {
		_ = s.browser.NotifyWritable()
		return
	}
	s.pausedByWho &^= pauseConsole
	_ = s.console.ResumeRead()
}

// pipeToBuffer moves the pipe's bytes into gnet's buffer for the browser,
// after whatever it holds: the copy a frame written now (pong, ping, close)
// costs when it would otherwise overtake them.
func (s *session) pipeToBuffer(p *splicePipe) {
	pool := &s.loop.pipes
	pool.moved++
	if pool.buf == nil {
		pool.buf = make([]byte, 64<<10)
	}
	for p.n > 0 {
		k, err := unix.Read(p.r, pool.buf[:min(p.n, len(pool.buf))])
		if err == unix.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			s.setReason(ReasonBrowserGone) // cannot happen on a pipe we filled; end the console rather than reorder
			s.closeBrowser()
			return
		}
		p.n -= k
		_, _ = s.bw.Write(pool.buf[:k])
		if s.state == stateClosed {
			return // the write failed: browserClosed dropped the pipe
		}
	}
}

// spliceFlush empties the pipe before a frame is written through gnet, so
// that the frame follows the console's bytes.
func (s *session) spliceFlush() {
	if s.pipe != nil {
		s.spliceOut(true)
	}
}

// dropPipe closes the session's pipe, with what it holds: the browser is
// gone.
func (s *session) dropPipe() {
	if p := s.pipe; p != nil {
		s.pipe = nil
		p.close(&s.srv.splice)
	}
}
