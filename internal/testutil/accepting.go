package testutil

import (
	"net"
	"testing"
	"time"
)

// ExpectAccepting fails the test unless ln still takes a connection: the
// check that a listening socket shared with a relay that has stopped (socket
// activation) is still listening for its other holder.
func ExpectAccepting(t testing.TB, ln net.Listener) {
	t.Helper()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.Close()
		}
		accepted <- err
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatalf("the shared socket stopped listening: %v", err)
	}
	_ = c.Close()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no accept on the shared socket")
	}
}
