package main

import (
	"cmp"
	"context"
	_ "embed"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vncrelay/vncrelay/engine"
)

// Status page bounds.
const (
	statusDefaultLimit   = 100    // rows shown when ?limit= is absent
	statusMaxLimit       = 1000   // rows shown at most
	statusScanMax        = 10_000 // connections copied from the engine at most, before sorting
	statusDefaultRefresh = 5      // seconds between reloads (meta refresh)
	statusMaxRefresh     = 3600
	statusInFlight       = 2 // pages rendered at once; more get 503
)

// statusSlots bounds the status pages being rendered: each copies up to
// statusScanMax connections.
var statusSlots = make(chan struct{}, statusInFlight)

//go:embed admin_status.html
var statusHTML string

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"age": fmtAge,
}).Parse(statusHTML))

// statusSorts are the ?sort= keys of the status page, each with its order:
// the "biggest" first (oldest, most bytes), names in ascending order.
var statusSorts = map[string]func(a, b *engine.ConsoleInfo) int{
	"age":       func(a, b *engine.ConsoleInfo) int { return a.Opened.Compare(b.Opened) },
	"bytes_in":  func(a, b *engine.ConsoleInfo) int { return cmp.Compare(b.BytesIn, a.BytesIn) },
	"bytes_out": func(a, b *engine.ConsoleInfo) int { return cmp.Compare(b.BytesOut, a.BytesOut) },
	"client":    func(a, b *engine.ConsoleInfo) int { return strings.Compare(a.Client, b.Client) },
	"target":    func(a, b *engine.ConsoleInfo) int { return strings.Compare(a.Target, b.Target) },
	"state":     func(a, b *engine.ConsoleInfo) int { return strings.Compare(a.State, b.State) },
	"loop":      func(a, b *engine.ConsoleInfo) int { return cmp.Compare(a.Loop, b.Loop) },
}

// statusPage is what the template renders.
type statusPage struct {
	Version  string
	Listen   string
	Now      time.Time
	Uptime   time.Duration
	Refresh  int
	Sort     string
	Limit    int
	Stats    engine.Stats
	Max      int // Config.MaxConnections
	Workers  [2]int
	BytesIn  uint64
	BytesOut uint64
	Paused   int
	Loops    []engine.LoopInfo
	Rows     []statusRow
	Listed   int    // connections the engine listed (at most statusScanMax)
	Partial  string // why the figures may be incomplete; "" when complete
	Columns  []statusColumn
}

// statusRow is one connection in the table.
type statusRow struct {
	engine.ConsoleInfo
	Age time.Duration
}

// statusColumn is a sortable column heading.
type statusColumn struct {
	Key, Title string
	URL        string
	Active     bool
}

// status renders the live status page: totals, loops, and the connections
// sorted by ?sort= (age, bytes_in, bytes_out, client, target, state, loop;
// default age) and cut at ?limit= (default 100, at most 1000). ?refresh=
// sets the reload interval in seconds (0: none; default 5).
func (a *admin) status(w http.ResponseWriter, r *http.Request) {
	select {
	case statusSlots <- struct{}{}:
		defer func() { <-statusSlots }()
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "status page busy, retry", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	p := statusPage{
		Version: versionString(), Listen: a.srv.Addr().String(), Now: time.Now(),
		Sort:    q.Get("sort"),
		Limit:   queryInt(q, "limit", statusDefaultLimit, 1, statusMaxLimit),
		Refresh: queryInt(q, "refresh", statusDefaultRefresh, 0, statusMaxRefresh),
		Stats:   a.srv.Stats(), Max: a.srv.Config().MaxConnections,
	}
	p.Uptime = p.Now.Sub(a.started).Round(time.Second)
	less, ok := statusSorts[p.Sort]
	if !ok {
		p.Sort, less = "age", statusSorts["age"]
	}
	p.Workers[0], p.Workers[1] = a.srv.WorkersBusy()

	ctx, cancel := context.WithTimeout(r.Context(), scrapeLoopTimeout)
	defer cancel()
	loops, lerr := a.srv.Loops(ctx)
	cs, cerr := a.srv.Consoles(ctx, statusScanMax)
	if err := cmp.Or(lerr, cerr); err != nil {
		p.Partial = err.Error()
	}
	p.Loops = loops
	for _, l := range loops {
		p.BytesIn, p.BytesOut, p.Paused = p.BytesIn+l.BytesIn, p.BytesOut+l.BytesOut, p.Paused+l.Paused
	}
	p.Listed = len(cs)
	slices.SortStableFunc(cs, func(a, b engine.ConsoleInfo) int { return less(&a, &b) })
	cs = cs[:min(len(cs), p.Limit)]
	p.Rows = make([]statusRow, len(cs))
	for i, c := range cs {
		p.Rows[i] = statusRow{ConsoleInfo: c, Age: p.Now.Sub(c.Opened)}
	}
	for _, col := range [...][2]string{{"client", "Client"}, {"target", "Target"}, {"", "Token"}, {"state", "State"},
		{"loop", "Loop"}, {"age", "Age"}, {"bytes_in", "Bytes in"}, {"bytes_out", "Bytes out"}, {"", "Paused"}} {
		c := statusColumn{Key: col[0], Title: col[1], Active: col[0] == p.Sort}
		if c.Key != "" {
			c.URL = "/status?" + url.Values{"sort": {c.Key}, "limit": {strconv.Itoa(p.Limit)},
				"refresh": {strconv.Itoa(p.Refresh)}}.Encode()
		}
		p.Columns = append(p.Columns, c)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := statusTmpl.Execute(w, &p); err != nil {
		a.log.Warn("status page", "err", err)
	}
}

// queryInt reads an integer query parameter, def when absent or not a
// number, clamped to [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int) int {
	v, err := strconv.Atoi(q.Get(name))
	if err != nil {
		return def
	}
	return min(max(v, lo), hi)
}

// fmtAge shows a duration to the second: 45s, 3m07s, 2h05m, 3d04h.
func fmtAge(d time.Duration) string {
	s := max(int64(d/time.Second), 0)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m" + pad2(s%60) + "s"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h" + pad2(s%3600/60) + "m"
	}
	return strconv.FormatInt(s/86400, 10) + "d" + pad2(s%86400/3600) + "h"
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}
