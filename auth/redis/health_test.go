package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
)

// TestCheckHealth: a live Redis is healthy, through the Cache the command
// line puts in front of it; a frozen one fails within the deadline, with
// an error that names the server and not the password.
func TestCheckHealth(t *testing.T) {
	srv := startRedis(t, "requirepass s3cret-pw")
	st := newStore(t, Source{Host: "127.0.0.1", Port: srv.port, Password: "s3cret-pw"}, Options{})
	cache := &auth.Cache{Store: st}
	if err := auth.CheckHealth(ctxFor(t, 5*time.Second), cache); err != nil {
		t.Fatalf("live redis: %v", err)
	}
	srv.stop(t)
	defer srv.cont()
	err := auth.CheckHealth(ctxFor(t, 300*time.Millisecond), cache)
	if err == nil {
		t.Fatal("frozen redis passes the check")
	}
	if !strings.Contains(err.Error(), srv.addr()) || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error %q", err)
	}
}
