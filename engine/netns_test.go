package engine

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// testNetns is a network namespace this test creates, joined to the host by
// a veth pair on a /30 of its own: a browser "across a network" whose
// packets the test can drop by taking the link down.
type testNetns struct {
	name, hostIP, nsIP, hostIf string
}

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal("iproute2's ip is needed for the half-open test")
	}
	id := os.Getpid() % 60000
	n := &testNetns{
		name:   fmt.Sprintf("vrtest%d", id),
		hostIf: fmt.Sprintf("vrh%d", id),
		hostIP: fmt.Sprintf("10.213.%d.%d", id/64%256, (id%64)*4+1),
		nsIP:   fmt.Sprintf("10.213.%d.%d", id/64%256, (id%64)*4+2),
	}
	nsIf := fmt.Sprintf("vrn%d", id)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	run("netns", "add", n.name)
	t.Cleanup(func() { _ = exec.Command(ipBin, "netns", "del", n.name).Run() })
	run("link", "add", n.hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { _ = exec.Command(ipBin, "link", "del", n.hostIf).Run() })
	run("link", "set", nsIf, "netns", n.name)
	run("addr", "add", n.hostIP+"/30", "dev", n.hostIf)
	run("link", "set", n.hostIf, "up")
	run("netns", "exec", n.name, "ip", "addr", "add", n.nsIP+"/30", "dev", nsIf)
	run("netns", "exec", n.name, "ip", "link", "set", nsIf, "up")
	run("netns", "exec", n.name, "ip", "link", "set", "lo", "up")
	return n
}

// dial connects to addr from inside the namespace. The socket is created on a
// thread that has joined the namespace; that thread is never reused.
func (n *testNetns) dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/var/run/netns/" + n.name)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("dial from namespace: %v", r.err)
	}
	t.Cleanup(func() { _ = r.c.Close() })
	return r.c
}

func (n *testNetns) linkDown(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", n.hostIf, "down").CombinedOutput(); err != nil {
		t.Fatalf("link down: %v %s", err, out)
	}
}

// TestHalfOpenBrowser: a browser whose packets stop arriving (no FIN, no
// RST: true half-open) is found by the heartbeat and pong timeout; its console
// is closed and every counter goes back.
func TestHalfOpenBrowser(t *testing.T) {
	ns := newTestNetns(t)
	e := newEnv(t, rfb.ModeEcho, func(c *Config) {
		c.Listen = ns.hostIP + ":0"
		c.Heartbeat = 200 * time.Millisecond
		c.PongTimeout = 400 * time.Millisecond
		c.CloseTimeout = 500 * time.Millisecond
	})
	c := ns.dial(t, e.addr)
	if _, err := io.WriteString(c, upgradeRequest("/?token="+canary)); err != nil {
		t.Fatal(err)
	}
	w := readResponse(t, c)
	if w.status != 101 {
		t.Fatalf("status %d", w.status)
	}
	w.rfbHandshake()
	w.send([]byte("alive"))
	if got := w.readData(5); string(got) != "alive" {
		t.Fatalf("got %q", got)
	}
	consoles := e.console.Accepted()
	ns.linkDown(t)
	start := time.Now()
	waitFor(t, "the half-open console to close", func() bool {
		s := e.srv.Stats()
		return s.Connections == 0 && s.Consoles == 0
	})
	t.Logf("half-open browser detected and closed after %v", time.Since(start).Round(10*time.Millisecond))
	if s := e.srv.Stats(); s.Closed[ReasonPongTimeout] != 1 {
		t.Fatalf("closed for %+v, want one pong timeout", s.Closed)
	}
	if e.console.Accepted() != consoles {
		t.Fatal("console redialed")
	}
}
