package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestAdminPprofIndex: the profile index links only what is served, every
// link answers, and the command line answers 404 saying why.
func TestAdminPprofIndex(t *testing.T) {
	e := newAdminEnv(t)
	code, page := e.get("/debug/pprof/")
	if code != 200 {
		t.Fatalf("/debug/pprof/: %d", code)
	}
	if strings.Contains(page, "cmdline") {
		t.Fatalf("the index links cmdline:\n%s", page)
	}
	hrefs := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page, -1)
	names := map[string]bool{}
	for _, h := range hrefs {
		href := strings.ReplaceAll(h[1], "&amp;", "&")
		name, _, _ := strings.Cut(href, "?")
		names[name] = true
		if name == "profile" || name == "trace" {
			continue // they run for seconds: fetched below with a short one
		}
		if code, body := e.get("/debug/pprof/" + href); code != 200 || body == "" {
			t.Errorf("%s: %d", href, code)
		}
	}
	for _, want := range []string{"heap", "goroutine", "allocs", "block", "mutex", "threadcreate", "profile", "trace", "symbol"} {
		if !names[want] {
			t.Errorf("the index does not list %s:\n%s", want, page)
		}
	}
	if code, body := e.get("/debug/pprof/trace?seconds=0.1"); code != 200 || body == "" {
		t.Errorf("trace: %d", code)
	}
	code, body := e.get("/debug/pprof/cmdline")
	if code != 404 || body != pprofCmdlineRefusal+"\n" {
		t.Fatalf("cmdline: %d %q, want 404 %q", code, body, pprofCmdlineRefusal)
	}
}
