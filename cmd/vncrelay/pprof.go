package main

import (
	"cmp"
	"html/template"
	"net/http"
	"net/http/pprof"
	runtimepprof "runtime/pprof"
	"slices"
)

// addPprof serves Go's profiling endpoints under /debug/pprof/ on the admin
// listener (when it is on a loopback address: profiles reveal internals and
// cost CPU), for finding where CPU and memory go under load. The command
// line is not served: it may hold a store password or a token (a Redis
// --token-source, --auth-source, --key-password). /debug/pprof/cmdline
// answers 404 saying so, and the index (ours, not pprof.Index, which links
// cmdline) lists only what is served.
func addPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/{$}", pprofIndex)
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprofCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// pprofCmdlineRefusal is the body of /debug/pprof/cmdline.
const pprofCmdlineRefusal = "not served: the command line may hold a password or a token"

func pprofCmdline(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, pprofCmdlineRefusal, http.StatusNotFound)
}

// pprofProfile is one line of the index.
type pprofProfile struct {
	Name, Href, What string
	Count            int // -1: not a counted profile
}

var pprofIndexPage = template.Must(template.New("pprof").Parse(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>vncrelay: Go profiles</title></head><body>
<h1>Go profiles</h1>
<p>Read with <code>go tool pprof http://ADDR/debug/pprof/NAME</code>. The command line is not served: it may hold a password or a token.</p>
<ul>{{range .}}
<li><a href="{{.Href}}">{{.Name}}</a>{{if ge .Count 0}} ({{.Count}}){{end}}: {{.What}}</li>{{end}}
</ul></body></html>
`))

// pprofWhat says what each profile is; a profile the runtime adds later is
// listed with no description.
var pprofWhat = map[string]string{
	"allocs":       "past memory allocations (sampled)",
	"block":        "stack traces that led to blocking on synchronization (off unless the runtime's rate is set)",
	"goroutine":    "stack traces of all current goroutines (?debug=2 for text)",
	"heap":         "live memory allocations (sampled)",
	"mutex":        "holders of contended mutexes (off unless the runtime's fraction is set)",
	"threadcreate": "stack traces that led to new OS threads",
}

// pprofIndex lists the profiles served: the runtime's named profiles, the
// CPU profile, the execution trace and symbol lookup.
func pprofIndex(w http.ResponseWriter, _ *http.Request) {
	var list []pprofProfile
	for _, p := range runtimepprof.Profiles() {
		list = append(list, pprofProfile{Name: p.Name(), Href: p.Name() + "?debug=1", What: pprofWhat[p.Name()], Count: p.Count()})
	}
	slices.SortFunc(list, func(a, b pprofProfile) int { return cmp.Compare(a.Name, b.Name) })
	list = append(list,
		pprofProfile{Name: "profile", Href: "profile?seconds=30", What: "CPU profile for ?seconds=N (default 30; the listener allows up to 60)", Count: -1},
		pprofProfile{Name: "trace", Href: "trace?seconds=1", What: "execution trace for ?seconds=N (go tool trace)", Count: -1},
		pprofProfile{Name: "symbol", Href: "symbol", What: "program counters to function names (used by go tool pprof)", Count: -1},
	)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = pprofIndexPage.Execute(w, list)
}
