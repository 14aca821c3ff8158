package main

import (
	"net/http"
	"net/http/pprof"
)

// addPprof serves Go's profiling endpoints under /debug/pprof/ on the admin
// listener (when it is on a loopback address: profiles reveal internals and
// cost CPU), for finding where CPU and memory go under load. The command
// line is not served (pprof.Cmdline): it may hold a store password.
func addPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
