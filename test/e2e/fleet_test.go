package e2e

import (
	"bufio"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// The fleet: N relay processes sharing one redis-server (TokenRedis)
// behind a real HAProxy (Debian's) on loopback, as docs/FLEET.md describes.

// fleetRevokeSecs is the relays' --revoke-check in the fleet tests.
const fleetRevokeSecs = 1

var fleetAdminRE = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)

// fleetRelay is one relay process of the fleet.
type fleetRelay struct {
	name  string
	addr  string // the relay's port
	admin string // its admin listener (/readyz), "" when the binary has none
	cmd   *exec.Cmd
	done  chan struct{}
	logs  *testutil.Buffer
	store *storeLink // its path to Redis, which a test can cut
}

// fleet is the whole set-up.
type fleet struct {
	t       *testing.T
	redis   *testutil.Redis
	console string
	relays  []*fleetRelay
	front   string // HAProxy's frontend address
	sock    string // HAProxy's stats socket
	httpchk bool   // HAProxy checks /readyz (else a TCP check)

	mu      sync.Mutex
	secrets []string // tokens made: never in a log
}

// relayHasAdmin reports whether the built binary has the admin listener
// (/readyz); until it has, HAProxy checks the relay's port over TCP.
func relayHasAdmin(t *testing.T) bool {
	out, _ := exec.Command(relayBin, "--help").CombinedOutput()
	return strings.Contains(string(out), "--admin")
}

// startFleet starts Redis, an echo console, n relays and HAProxy, and
// waits until HAProxy sees every relay up.
func startFleet(t *testing.T, n int) *fleet {
	t.Helper()
	need(t, "haproxy")
	f := &fleet{t: t, redis: testutil.StartRedis(t), console: echoConsole(t), httpchk: relayHasAdmin(t)}
	for i := range n {
		f.relays = append(f.relays, f.startRelay(fmt.Sprintf("r%d", i+1), "127.0.0.1:0", "127.0.0.1:0"))
	}
	f.startHAProxy()
	f.waitStatus(10*time.Second, func(st map[string]string) bool {
		for _, r := range f.relays {
			if !strings.HasPrefix(st[r.name], "UP") {
				return false
			}
		}
		return true
	})
	return f
}

// token makes a new token for the echo console, written once to Redis.
func (f *fleet) token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	tok := "fleet-" + hex.EncodeToString(b[:])
	f.mu.Lock()
	f.secrets = append(f.secrets, tok)
	f.mu.Unlock()
	f.redis.Do(f.t, "SET", tok, f.console)
	return tok
}

// startRelay runs one relay of the fleet listening on listen, its admin
// listener (when the binary has one) on admin. Unlike startRelay, a relay
// may be killed by the test: its exit status is not checked.
func (f *fleet) startRelay(name, listen, admin string) *fleetRelay {
	t := f.t
	t.Helper()
	link := newStoreLink(t, f.redis.Addr())
	args := []string{"--token-plugin", "TokenRedis", "--token-source", link.addr(),
		"--revoke-check", strconv.Itoa(fleetRevokeSecs), "--connect-timeout", "2s",
		"--trusted-proxy", "127.0.0.1"} // HAProxy's option forwardfor: limits count browsers, not HAProxy
	if f.httpchk {
		args = append(args, "--admin", admin)
	}
	cmd := exec.Command(relayBin, append(args, listen)...)
	r := &fleetRelay{name: name, cmd: cmd, done: make(chan struct{}), logs: &testutil.Buffer{}, store: link}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(r.logs, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); _ = pw.Close(); close(r.done) }()
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := fleetAdminRE.FindStringSubmatch(sc.Text()); m != nil {
				r.admin = m[1]
			}
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				r.addr = m[1]
				close(found)
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("relay %s did not exit on SIGTERM", name)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.secrets {
			if strings.Contains(r.logs.String(), s) {
				t.Errorf("a token reached relay %s's log", name)
			}
		}
		if t.Failed() {
			t.Logf("relay %s log:\n%s", name, r.logs.String())
		}
	})
	select {
	case <-found:
	case <-r.done:
		t.Fatalf("relay %s exited:\n%s", name, r.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("relay %s did not start:\n%s", name, r.logs.String())
	}
	return r
}

// kill ends a relay at once (SIGKILL): its consoles end without a close
// frame.
func (r *fleetRelay) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

// live returns the consoles the relay's log shows open now; none once the
// process has exited.
func (r *fleetRelay) live() int {
	select {
	case <-r.done:
		return 0
	default:
	}
	l := r.logs.String()
	return strings.Count(l, `msg="console open"`) - strings.Count(l, `msg="console closed"`)
}

// opened returns the consoles the relay's log shows opened.
func (r *fleetRelay) opened() int { return strings.Count(r.logs.String(), `msg="console open"`) }

// haproxyConfig is the fleet's HAProxy configuration (docs/FLEET.md shows
// the same, with production timeouts).
func (f *fleet) haproxyConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096
    stats socket %s mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h
    retries 2
    option redispatch
    option forwardfor

frontend consoles
    bind %s
    default_backend relays

backend relays
    balance leastconn
`, f.sock, f.front)
	if f.httpchk {
		b.WriteString("    option httpchk GET /readyz\n")
	}
	b.WriteString("    default-server check inter 300ms fall 2 rise 2\n")
	for _, r := range f.relays {
		fmt.Fprintf(&b, "    server %s %s", r.name, r.addr)
		if r.admin != "" {
			_, port, _ := net.SplitHostPort(r.admin)
			fmt.Fprintf(&b, " port %s", port)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// startHAProxy runs haproxy in the foreground with the fleet's config.
func (f *fleet) startHAProxy() {
	t := f.t
	t.Helper()
	dir := t.TempDir()
	f.sock = filepath.Join(dir, "stats.sock")
	f.front = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(f.haproxyConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	cmd := exec.Command("haproxy", "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGUSR1) // soft stop
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy config:\n%s\nhaproxy log:\n%s", f.haproxyConfig(), logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", f.sock); err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("haproxy exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// status asks HAProxy for each relay's check status ("UP", "DOWN", "UP 1/2"...).
func (f *fleet) status() map[string]string {
	st, err := f.tryStatus()
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fleet) tryStatus() (map[string]string, error) {
	c, err := net.Dial("unix", f.sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	out, _ := io.ReadAll(c)
	st := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		cols := strings.Split(line, ",")
		if len(cols) > 17 && cols[0] == "relays" {
			st[cols[1]] = cols[17]
		}
	}
	return st, nil
}

// waitStatus polls HAProxy's view until cond holds, for up to d.
func (f *fleet) waitStatus(d time.Duration, cond func(map[string]string) bool) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := f.status()
		if cond(st) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("HAProxy's view never matched: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storeLink is a relay's own TCP path to the shared Redis, which a test can
// cut (the relay's Redis becomes unreachable: connections refused) and
// restore on the same port.
type storeLink struct {
	t        *testing.T
	upstream string
	port     int

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newStoreLink(t *testing.T, upstream string) *storeLink {
	l := &storeLink{t: t, upstream: upstream, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.port = ln.Addr().(*net.TCPAddr).Port
	l.serve(ln)
	t.Cleanup(l.cut)
	return l
}

func (l *storeLink) addr() string { return "127.0.0.1:" + strconv.Itoa(l.port) }

func (l *storeLink) serve(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.DialTimeout("tcp", l.upstream, 2*time.Second)
			if err != nil {
				_ = c.Close()
				continue
			}
			l.mu.Lock()
			l.conns[c], l.conns[u] = struct{}{}, struct{}{}
			l.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
}

// cut closes the listener and every connection through it.
func (l *storeLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		_ = c.Close()
		delete(l.conns, c)
	}
}

// restore listens again on the same port.
func (l *storeLink) restore() {
	ln, err := net.Listen("tcp", l.addr())
	if err != nil {
		l.t.Fatalf("store link: listen again: %v", err)
	}
	l.serve(ln)
}

// fleetConsole is one console opened through HAProxy.
type fleetConsole struct {
	token string
	s     *echoSession
}

// open opens a console with token through HAProxy, retrying for up to d
// (a relay just killed may still be chosen until HAProxy sees it down).
func (f *fleet) open(token string, d time.Duration) (*fleetConsole, time.Duration) {
	f.t.Helper()
	start := time.Now()
	for {
		if s, ok := tryOpenEchoToken(f.front, token); ok {
			f.t.Cleanup(func() { _ = s.c.Close() })
			return &fleetConsole{token: token, s: s}, time.Since(start)
		}
		if time.Since(start) > d {
			f.t.Fatalf("no console through HAProxy in %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closeCodes waits up to d on every console at once and returns the close
// code each saw (0: still open at d).
func closeCodes(cs []*fleetConsole, d time.Duration) []int {
	codes := make([]int, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = c.s.closeCode(d) }()
	}
	wg.Wait()
	return codes
}

// fleetFigures are what a fleet run measures (docs/bench/fleet.txt).
type fleetFigures struct {
	consoles, lost, wrongClose int
	reroute                    time.Duration // kill → the last lost console open again through HAProxy (its browser reconnecting at once)
	downSeen                   time.Duration // kill → HAProxy marks the relay down
	revoke                     time.Duration // DEL → the last console of the token closed with 1008
	refuseNew                  time.Duration // DEL → a new console with the token refused through HAProxy
	unready                    time.Duration // a relay's Redis cut → HAProxy marks it down (/readyz; 0 untested)
}

func (m fleetFigures) String() string {
	s := fmt.Sprintf("consoles=%d lost=%d (other codes %d) reroute=%v down_seen=%v revoke=%v refuse_new=%v",
		m.consoles, m.lost, m.wrongClose, m.reroute.Round(time.Millisecond), m.downSeen.Round(time.Millisecond),
		m.revoke.Round(time.Millisecond), m.refuseNew.Round(time.Millisecond))
	if m.unready > 0 {
		s += fmt.Sprintf(" store_cut_unready=%v", m.unready.Round(time.Millisecond))
	}
	return s
}

// waitLogged waits until the relays' logs, written asynchronously, show n
// consoles open in all.
func (f *fleet) waitLogged(n int) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		live := 0
		for _, r := range f.relays {
			live += r.live()
		}
		if live == n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("relay logs show %d consoles open, want %d", live, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killAndReroute opens consoles through HAProxy, kills the relay victim,
// and checks that exactly its consoles end (1006) while the others keep
// relaying, and that each lost console opens again through HAProxy.
func (f *fleet) killAndReroute(victim *fleetRelay, cs []*fleetConsole, m *fleetFigures) []*fleetConsole {
	t := f.t
	t.Helper()
	for _, c := range cs { // every console relays before the kill
		c.s.roundTrip(t, []byte("before"))
	}
	f.waitLogged(len(cs))
	want := victim.live()
	killed := time.Now()
	victim.kill(t)
	downSeen := make(chan time.Duration, 1)
	go func() { // when HAProxy's checks see it
		for time.Since(killed) < 10*time.Second {
			if st, err := f.tryStatus(); err == nil && strings.HasPrefix(st[victim.name], "DOWN") {
				downSeen <- time.Since(killed)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		downSeen <- 0
	}()
	// Each console waits for its end as a browser does; one that ends
	// reconnects through HAProxy at once (noVNC's reconnect), retrying
	// while HAProxy still picks the dead relay.
	codes := make([]int, len(cs))
	again := make([]*echoSession, len(cs))
	took := make([]time.Duration, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if codes[i] = c.s.closeCode(3 * time.Second); codes[i] != 1006 {
				return
			}
			for time.Since(killed) < 10*time.Second {
				if s, ok := tryOpenEchoToken(f.front, c.token); ok {
					again[i], took[i] = s, time.Since(killed)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	var kept []*fleetConsole
	lost := 0
	for i, code := range codes {
		switch code {
		case 0:
			kept = append(kept, cs[i])
		case 1006:
			lost++
			if again[i] == nil {
				t.Errorf("a console lost with %s did not open again through HAProxy", victim.name)
				continue
			}
			t.Cleanup(func() { _ = again[i].c.Close() })
			again[i].roundTrip(t, []byte("rerouted"))
			kept = append(kept, &fleetConsole{token: cs[i].token, s: again[i]})
			m.reroute = max(m.reroute, took[i])
		default:
			m.wrongClose++
			t.Errorf("console closed with %d when a relay was killed, want 1006 or nothing", code)
		}
	}
	m.lost += lost
	if lost != want {
		t.Errorf("%d consoles ended when %s was killed; its log showed %d open", lost, victim.name, want)
	}
	for _, c := range kept {
		c.s.roundTrip(t, []byte("survivor"))
	}
	d := <-downSeen
	if d == 0 {
		t.Errorf("HAProxy never marked %s down", victim.name)
	}
	m.downSeen = max(m.downSeen, d)
	return kept
}

// revoke deletes token from Redis and checks that every console of it, on
// whatever relay, gets 1008 and the others stay; and that new consoles
// with it are refused through HAProxy.
func (f *fleet) revoke(token string, cs []*fleetConsole, m *fleetFigures) []*fleetConsole {
	t := f.t
	t.Helper()
	var of, rest []*fleetConsole
	for _, c := range cs {
		if c.token == token {
			of = append(of, c)
		} else {
			rest = append(rest, c)
		}
	}
	start := time.Now()
	f.redis.Do(t, "DEL", token)
	// Bound: the revocation interval, plus a round's lookups, plus slack
	// for a loaded machine; a failure here is a revocation that never came.
	for i, code := range closeCodes(of, time.Duration(fleetRevokeSecs)*time.Second+10*time.Second) {
		if code != 1008 {
			t.Errorf("console %d of the revoked token: close %d, want 1008", i, code)
		}
	}
	m.revoke = max(m.revoke, time.Since(start))
	for {
		st, _, _ := upgradeMaybe(f.front, token)
		if st == 403 {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("a revoked token still opens consoles (%d)", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.refuseNew = max(m.refuseNew, time.Since(start))
	for _, c := range rest {
		c.s.roundTrip(t, []byte("other tokens stay"))
	}
	return rest
}

// upgradeMaybe sends an upgrade and returns the status (0 when the
// connection failed).
func upgradeMaybe(addr, token string) (int, net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, upgradeReq("/websockify?token="+token, "x"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, nil, err
	}
	var st int
	_, _ = fmt.Sscanf(line, "HTTP/1.1 %d", &st)
	return st, nil, nil
}

// TestFleet: three relays sharing one Redis behind HAProxy. A token
// written once opens a console through any relay; consoles spread over the
// relays (leastconn); killing one relay ends only its consoles (1006), and
// they open again through HAProxy on a survivor; deleting a token from
// Redis closes its consoles on every relay with 1008 and refuses new ones.
// With the admin listener, a relay whose Redis is unreachable reports
// unready and HAProxy stops sending it consoles.
func TestFleet(t *testing.T) {
	f := startFleet(t, 3)
	if !f.httpchk {
		t.Log("the binary has no admin listener: HAProxy checks the relays over TCP, which cannot see the store")
	}
	tokens := []string{f.token(), f.token(), f.token()}

	// A token written once works through every relay, directly.
	for _, r := range f.relays {
		s, ok := tryOpenEchoToken(r.addr, tokens[0])
		if !ok {
			t.Fatalf("token refused by relay %s", r.name)
		}
		s.roundTrip(t, []byte("direct"))
		_ = s.c.Close()
	}

	var m fleetFigures
	var cs []*fleetConsole
	for i := range 9 {
		c, _ := f.open(tokens[i%len(tokens)], 5*time.Second)
		cs = append(cs, c)
	}
	m.consoles = len(cs)
	f.waitLogged(len(cs))
	for _, r := range f.relays {
		if r.live() == 0 {
			t.Errorf("leastconn sent no console to %s", r.name)
		}
		t.Logf("%s: %d consoles", r.name, r.live())
	}

	cs = f.killAndReroute(f.relays[1], cs, &m)
	cs = f.revoke(tokens[0], cs, &m)

	if f.httpchk {
		m.unready = f.unreachableStore(f.relays[2], tokens[1])
	}
	t.Logf("fleet figures: %v", m)
	if m.lost == 0 {
		t.Error("the killed relay had no console: the test proved nothing")
	}
	_ = cs
}

// unreachableStore cuts one relay's path to Redis: HAProxy sees it unready
// (/readyz) and sends new consoles elsewhere; restored, it is up again.
func (f *fleet) unreachableStore(r *fleetRelay, token string) time.Duration {
	t := f.t
	t.Helper()
	r.store.cut()
	cut := time.Now()
	f.waitStatus(15*time.Second, func(st map[string]string) bool { return strings.HasPrefix(st[r.name], "DOWN") })
	took := time.Since(cut)
	before := r.opened()
	for range 3 {
		c, _ := f.open(token, 5*time.Second)
		c.s.roundTrip(t, []byte("elsewhere"))
		_ = c.s.c.Close()
	}
	if r.opened() != before {
		t.Errorf("HAProxy sent consoles to %s while its store was unreachable", r.name)
	}
	r.store.restore()
	f.waitStatus(15*time.Second, func(st map[string]string) bool { return strings.HasPrefix(st[r.name], "UP") })
	return took
}

// TestFleetSoak is the long fleet run (make fleet-soak): rounds of
// consoles through HAProxy, one relay killed and started again on its port
// each round, one token revoked each round, and (with the admin listener)
// another relay's Redis cut and restored. VNCRELAY_FLEET_SOAK=N runs N
// rounds (at most 100), within 10 minutes; unset, the test is skipped.
func TestFleetSoak(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("VNCRELAY_FLEET_SOAK"))
	if rounds <= 0 {
		t.Skip("set VNCRELAY_FLEET_SOAK=rounds (make fleet-soak)")
	}
	rounds = min(rounds, 100)
	const perRound = 30
	f := startFleet(t, 3)
	stop := time.Now().Add(10 * time.Minute)
	var total fleetFigures
	for round := range rounds {
		if time.Now().After(stop) {
			t.Logf("time is up after %d rounds", round)
			break
		}
		tokens := []string{f.token(), f.token(), f.token()}
		var cs []*fleetConsole
		for i := range perRound {
			c, _ := f.open(tokens[i%len(tokens)], 10*time.Second)
			cs = append(cs, c)
		}
		var m fleetFigures
		m.consoles = len(cs)
		victim := f.relays[round%len(f.relays)]
		cs = f.killAndReroute(victim, cs, &m)
		cs = f.revoke(tokens[0], cs, &m)
		if f.httpchk { // another relay loses its Redis: HAProxy takes it out and back
			m.unready = f.unreachableStore(f.relays[(round+1)%len(f.relays)], tokens[1])
		}
		for _, c := range cs {
			_ = c.s.c.Close()
		}
		f.waitLogged(0) // the next round counts from none
		// The killed relay comes back on its port; HAProxy takes it in again.
		f.relays[round%len(f.relays)] = f.startRelay(victim.name, victim.addr, cmp.Or(victim.admin, "127.0.0.1:0"))
		f.waitStatus(15*time.Second, func(st map[string]string) bool { return strings.HasPrefix(st[victim.name], "UP") })
		t.Logf("round %d: %v", round+1, m)
		total.consoles += m.consoles
		total.lost += m.lost
		total.wrongClose += m.wrongClose
		total.reroute = max(total.reroute, m.reroute)
		total.downSeen = max(total.downSeen, m.downSeen)
		total.revoke = max(total.revoke, m.revoke)
		total.refuseNew = max(total.refuseNew, m.refuseNew)
		total.unready = max(total.unready, m.unready)
		if t.Failed() {
			break
		}
	}
	t.Logf("fleet soak, worst of every round: %v", total)
}
