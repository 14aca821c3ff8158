package record

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultQueueBytes is Options.QueueBytes when zero: payload bytes waiting
// for the disk, all consoles together, before payloads are dropped.
const DefaultQueueBytes = 64 << 20

// queueEntries bounds the number of entries waiting, whatever their size.
const queueEntries = 8192

// Options tune a Recorder. The zero value is usable.
type Options struct {
	// QueueBytes bounds the payload bytes copied and waiting to be written;
	// zero means DefaultQueueBytes. Past it, payloads are dropped and counted.
	QueueBytes int64
	// Logger receives file errors (one line per file); nil discards them.
	Logger *slog.Logger
}

// Recorder writes each recorded console to its own file. Start and the
// Console methods never block: they are called on an event loop. Safe for
// concurrent use.
type Recorder struct {
	prefix string
	max    int64
	log    *slog.Logger

	next    atomic.Uint64 // console numbers
	queued  atomic.Int64  // payload bytes in q
	dropped atomic.Uint64 // payload bytes dropped, all consoles
	stopped atomic.Bool

	q        chan entry
	overflow struct {
		sync.Mutex
		closes []*Console // closes that found q full; written after q drains
	}
	kick chan struct{} // overflow has closes
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type entryKind uint8

const (
	kindOpen entryKind = iota
	kindData
	kindClose
)

type entry struct {
	c           *Console
	kind        entryKind
	fromBrowser bool
	ms          int64
	data        []byte
}

// New starts a recorder writing to files PREFIX.1, PREFIX.2, ... (the
// directory of prefix must exist), numbered on after the largest PREFIX.N
// already there, so that a restart keeps every earlier recording. A file
// is never overwritten: when a number is taken meanwhile (another process
// recording with the same prefix), the next free one is used.
func New(prefix string, o Options) (*Recorder, error) {
	if prefix == "" {
		return nil, errors.New("record: empty file prefix")
	}
	abs, err := filepath.Abs(prefix)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("record: directory of %s: not a directory", abs)
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{prefix: abs, max: o.QueueBytes, log: log, q: make(chan entry, queueEntries),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	r.next.Store(lastNumber(abs)) // a restart goes on after the files already there
	go r.writer()
	return r, nil
}

// Dropped returns the payload bytes dropped so far because the queue was
// full, all consoles together.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Close writes what is queued, ends every open file as if its console had
// closed, and stops the writer. Consoles that record after Close are not
// written.
func (r *Recorder) Close() error {
	r.once.Do(func() {
		r.stopped.Store(true)
		close(r.stop)
	})
	<-r.done
	return nil
}

// Console records one console. Its methods are called on the console's
// event loop, one at a time.
type Console struct {
	r      *Recorder
	id     uint64
	opened int64 // unix ns

	gap atomic.Int64 // bytes dropped since the last entry written

	// Owned by the writer goroutine.
	f   *os.File
	w   *bufio.Writer
	bad bool // the file could not be written: drop everything
}

// Start begins the recording of a console opened at now (unix ns). It
// returns nil when the console cannot be recorded (the recorder is closed or
// its queue is full).
func (r *Recorder) Start(now int64) *Console {
	if r.stopped.Load() {
		return nil
	}
	c := &Console{r: r, id: r.next.Add(1), opened: now}
	select {
	case r.q <- entry{c: c, kind: kindOpen}:
		return c
	default:
		r.log.Warn("recording queue full: console not recorded", "file", r.path(c.id))
		return nil
	}
}

// Record queues a copy of p, payload bytes the browser sent (fromBrowser) or
// the console sent, at now (unix ns). It never blocks and does not keep p.
func (c *Console) Record(now int64, fromBrowser bool, p []byte) {
	r := c.r
	if len(p) == 0 {
		return
	}
	if r.stopped.Load() || r.queued.Add(int64(len(p))) > r.max {
		r.queued.Add(-int64(len(p)))
		c.drop(len(p))
		return
	}
	e := entry{c: c, kind: kindData, fromBrowser: fromBrowser, ms: (now - c.opened) / 1e6, data: append([]byte(nil), p...)}
	select {
	case r.q <- e:
	default:
		r.queued.Add(-int64(len(p)))
		c.drop(len(p))
	}
}

func (c *Console) drop(n int) {
	c.gap.Add(int64(n))
	c.r.dropped.Add(uint64(n))
}

// Close ends the console's recording; its file is completed and closed once
// every entry queued before it is written.
func (c *Console) Close() {
	r := c.r
	select {
	case r.q <- entry{c: c, kind: kindClose}:
	default:
		r.overflow.Lock()
		r.overflow.closes = append(r.overflow.closes, c)
		r.overflow.Unlock()
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// maxNumberTries bounds the search for a free file number at one open.
const maxNumberTries = 1000

// lastNumber returns the largest N of the files PREFIX.N that exist, 0 if
// none: recording goes on after them.
func lastNumber(prefix string) uint64 {
	names, _ := filepath.Glob(globEscape(prefix) + ".*")
	var last uint64
	for _, n := range names {
		if v, err := strconv.ParseUint(strings.TrimPrefix(n, prefix+"."), 10, 64); err == nil && v > last {
			last = v
		}
	}
	return last
}

// globEscape escapes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (r *Recorder) path(id uint64) string { return r.prefix + "." + strconv.FormatUint(id, 10) }

// writer is the one goroutine that touches the files.
func (r *Recorder) writer() {
	defer close(r.done)
	open := map[*Console]struct{}{}
	for {
		select {
		case e := <-r.q:
			r.write(e, open)
		case <-r.kick:
			r.drainOverflow(open)
		case <-r.stop:
			r.drainOverflow(open)
			for c := range open {
				r.write(entry{c: c, kind: kindClose}, open)
			}
			return
		}
	}
}

// drainOverflow writes what q holds, then the closes that found it full:
// every entry of those consoles was queued before their close.
func (r *Recorder) drainOverflow(open map[*Console]struct{}) {
	for {
		select {
		case e := <-r.q:
			r.write(e, open)
			continue
		default:
		}
		break
	}
	r.overflow.Lock()
	closes := r.overflow.closes
	r.overflow.closes = nil
	r.overflow.Unlock()
	for _, c := range closes {
		r.write(entry{c: c, kind: kindClose}, open)
	}
}

func (r *Recorder) write(e entry, open map[*Console]struct{}) {
	c := e.c
	if e.kind == kindData {
		r.queued.Add(-int64(len(e.data)))
	}
	switch e.kind {
	case kindOpen:
		f, err := os.OpenFile(r.path(c.id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		for tries := 0; errors.Is(err, fs.ErrExist) && tries < maxNumberTries; tries++ {
			// Another process records with the same prefix (a handover's
			// new relay): take the next free number, never overwrite.
			c.id = r.next.Add(1)
			f, err = os.OpenFile(r.path(c.id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
		if err != nil {
			r.log.Error("recording not written", "err", err)
			c.bad = true
			return
		}
		c.f, c.w = f, bufio.NewWriterSize(f, 64<<10)
		open[c] = struct{}{}
		_, _ = c.w.WriteString("var VNC_frame_data = [\n")
		return
	case kindData:
		if c.bad || c.f == nil {
			return
		}
		c.writeGap()
		marker := byte('{')
		if e.fromBrowser {
			marker = '}'
		}
		line := make([]byte, 0, len(e.data)+32)
		line = append(line, '\'', marker)
		line = strconv.AppendInt(line, e.ms, 10)
		line = append(line, marker)
		line = AppendEscaped(line, e.data)
		line = append(line, '\'', ',', '\n')
		_, _ = c.w.Write(line)
	case kindClose:
		if c.f == nil {
			return
		}
		delete(open, c)
		c.writeGap()
		_, _ = c.w.WriteString("'EOF'];\n")
		err := c.w.Flush()
		if cerr := c.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			r.log.Error("recording incomplete", "file", c.f.Name(), "err", err)
		}
		c.f, c.w = nil, nil
	}
}

// writeGap notes in the file the bytes dropped since the last entry, as a
// JavaScript comment (the file stays a valid array literal).
func (c *Console) writeGap() {
	if n := c.gap.Swap(0); n > 0 {
		fmt.Fprintf(c.w, "// vncrelay: %d bytes not recorded here (recording queue full)\n", n)
	}
}

// AppendEscaped appends p to dst as the body of a single-quoted JavaScript
// string whose character codes are p's bytes, escaped as websockify does
// (Python's unicode_escape codec on the bytes read as ISO-8859-1, then ' as
// \'): printable ASCII as is, \\ \' \t \n \r, and \xHH (lower-case hex)
// for every other byte.
func AppendEscaped(dst, p []byte) []byte {
	const hex = "0123456789abcdef"
	for _, b := range p {
		switch {
		case b == '\\':
			dst = append(dst, '\\', '\\')
		case b == '\'':
			dst = append(dst, '\\', '\'')
		case b == '\t':
			dst = append(dst, '\\', 't')
		case b == '\n':
			dst = append(dst, '\\', 'n')
		case b == '\r':
			dst = append(dst, '\\', 'r')
		case b >= 0x20 && b < 0x7f:
			dst = append(dst, b)
		default:
			dst = append(dst, '\\', 'x', hex[b>>4], hex[b&0xf])
		}
	}
	return dst
}
