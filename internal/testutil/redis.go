package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server (Debian's) on a loopback port, started by
// a test and killed at its end: no persistence, no daemon.
type Redis struct {
	cmd      *exec.Cmd
	Port     int
	dir      string
	conf     []string
	sentinel bool
}

// StartRedis starts redis-server on a free 127.0.0.1 port with extra
// config lines (e.g. "requirepass x"). It fails the test when redis-server
// is not installed, unless VNCRELAY_E2E_OPTIONAL=1 (then it skips).
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	return startRedis(t, false, extra)
}

// StartSentinel starts redis-server in Sentinel mode (--sentinel; Debian's
// redis-sentinel package is only that) with extra config lines, the
// "sentinel monitor ..." lines among them.
func StartSentinel(t testing.TB, extra ...string) *Redis {
	t.Helper()
	return startRedis(t, true, extra)
}

func startRedis(t testing.TB, sentinel bool, extra []string) *Redis {
	t.Helper()
	const name = "redis-server"
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
			t.Skipf("%s not installed", name)
		}
		t.Fatalf("%s not installed: apt-get install redis-server (or set VNCRELAY_E2E_OPTIONAL=1 to skip)", name)
	}
	dir := t.TempDir()
	for range 3 {
		r := &Redis{Port: FreePort(t), dir: dir, conf: extra, sentinel: sentinel}
		if err := r.start(bin); err != nil {
			t.Fatal(err)
		}
		if r.waitReady(5 * time.Second) {
			t.Cleanup(r.Kill)
			return r
		}
		r.Kill() // the port was taken meanwhile: try another
	}
	t.Fatalf("%s did not start", name)
	return nil
}

func (r *Redis) start(bin string) error {
	conf := []string{
		"bind 127.0.0.1", "port " + strconv.Itoa(r.Port), "save \"\"", "appendonly no",
		"dir " + r.dir, "daemonize no", "loglevel warning", "logfile \"\"",
	}
	conf = append(conf, r.conf...)
	// Sentinel rewrites its config file: it needs a real file.
	path := fmt.Sprintf("%s/redis-%d.conf", r.dir, r.Port)
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	r.cmd = exec.Command(bin, path)
	if r.sentinel {
		r.cmd.Args = append(r.cmd.Args, "--sentinel")
	}
	return r.cmd.Start()
}

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady waits until the server answers PING (any reply) or exits.
func (r *Redis) waitReady(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if r.cmd.ProcessState != nil {
			return false
		}
		if _, err := r.try("PING"); err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Addr returns "127.0.0.1:port".
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Kill stops the server for good (SIGKILL) and waits for it.
func (r *Redis) Kill() {
	if r.cmd != nil && r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// Freeze stops the process (SIGSTOP): a Redis that accepts connections
// and never answers. Thaw lets it run again.
func (r *Redis) Freeze(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

// Thaw undoes Freeze.
func (r *Redis) Thaw() { _ = r.cmd.Process.Signal(syscall.SIGCONT) }

// Do runs one command over a plain RESP connection, independent of any
// client under test, and returns the reply: a bulk string's content, else
// the first line of the reply (":1", "+OK"); an error reply fails the test.
func (r *Redis) Do(t testing.TB, args ...string) string {
	t.Helper()
	line, err := r.try(args...)
	if err != nil {
		t.Fatalf("redis %s: %v", args[0], err)
	}
	return line
}

// DoAll runs cmds in order over one plain RESP connection, so that AUTH
// and SELECT hold for the commands after them, independent of any client
// under test, and returns their replies as Do does; an error reply fails
// the test.
func (r *Redis) DoAll(t testing.TB, cmds ...[]string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	replies := make([]string, len(cmds))
	for i, args := range cmds {
		if replies[i], err = roundTrip(c, br, args); err != nil {
			t.Fatalf("redis %s: %v", args[0], err)
		}
	}
	return replies
}

func (r *Redis) try(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	return roundTrip(c, bufio.NewReader(c), args)
}

// roundTrip writes one command to c and reads its reply from br: a bulk
// string's content, else the reply's first line; an error reply is an
// error, except to PING (a server that answers at all is up).
func roundTrip(c net.Conn, br *bufio.Reader, args []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") && args[0] != "PING" {
		return line, fmt.Errorf("%s", line[1:])
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(line, "$")); err == nil && line[0] == '$' && n >= 0 && n < 1<<20 {
		body := make([]byte, n+2)
		if _, err := io.ReadFull(br, body); err != nil {
			return "", err
		}
		return string(body[:n]), nil
	}
	return line, nil
}

// SentinelSet is a Redis master, one replica and three Sentinels (quorum 2,
// down-after 1 s) watching it under one master name, all on loopback.
type SentinelSet struct {
	Name      string
	Master    *Redis // the first master; after a failover, Replica is
	Replica   *Redis
	Sentinels []*Redis
}

// StartSentinelSet starts a SentinelSet for master name and waits until
// every Sentinel knows the replica and the other Sentinels, so that a
// failover can happen.
func StartSentinelSet(t testing.TB, name string) *SentinelSet {
	t.Helper()
	s := &SentinelSet{Name: name, Master: StartRedis(t)}
	s.Replica = StartRedis(t, "replicaof 127.0.0.1 "+strconv.Itoa(s.Master.Port))
	for range 3 {
		s.Sentinels = append(s.Sentinels, StartSentinel(t,
			"sentinel monitor "+name+" 127.0.0.1 "+strconv.Itoa(s.Master.Port)+" 2",
			"sentinel down-after-milliseconds "+name+" 1000",
			"sentinel failover-timeout "+name+" 10000",
			"sentinel parallel-syncs "+name+" 1"))
	}
	waitEach(t, s.Sentinels, 20*time.Second, 100*time.Millisecond, "Sentinel set not formed",
		func(sn *Redis) (string, bool) {
			info := sn.Do(t, "INFO", "sentinel")
			return info, strings.Contains(info, "slaves=1,sentinels=3")
		})
	return s
}

// waitEach waits until ok holds for every node in turn, all within limit,
// asking again every pause; past limit it fails the test with what and the
// node's last answer.
func waitEach(t testing.TB, nodes []*Redis, limit, pause time.Duration, what string, ok func(*Redis) (answer string, ok bool)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for _, n := range nodes {
		for {
			answer, done := ok(n)
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", what, answer)
			}
			time.Sleep(pause)
		}
	}
}

// addrs returns the nodes' "127.0.0.1:port" addresses, comma-separated.
func addrs(nodes []*Redis) string {
	a := make([]string, len(nodes))
	for i, n := range nodes {
		a[i] = n.Addr()
	}
	return strings.Join(a, ",")
}

// Source is the TokenRedis source naming the set (auth/redis's
// redis-sentinel:// form).
func (s *SentinelSet) Source() string {
	return "redis-sentinel://" + addrs(s.Sentinels) + "/" + s.Name
}

// WaitReplicated waits up to 10 s for key to reach the replica.
func (s *SentinelSet) WaitReplicated(t testing.TB, key string) {
	t.Helper()
	waitEach(t, []*Redis{s.Replica}, 10*time.Second, 20*time.Millisecond, "the replica never got the key",
		func(r *Redis) (string, bool) {
			exists := r.Do(t, "EXISTS", key)
			return exists, exists == ":1"
		})
}

// WaitPromoted waits up to 30 s for the Sentinels to name the replica as
// the master.
func (s *SentinelSet) WaitPromoted(t testing.TB) {
	t.Helper()
	waitEach(t, []*Redis{s.Replica}, 30*time.Second, 50*time.Millisecond, "the replica was never promoted",
		func(r *Redis) (string, bool) {
			info := r.Do(t, "INFO", "replication")
			return info, strings.Contains(info, "role:master")
		})
}
