package novatest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// debianPython is the interpreter that sees Debian's python3-nova and
// python3-oslo.messaging; the python3 on PATH may be another one.
const debianPython = "/usr/bin/python3"

// ComputeStartTimeout bounds the wait for the stand-in to print "ready".
const ComputeStartTimeout = 90 * time.Second

//go:embed fake_compute.py
var fakeComputePy []byte

// needNovaPython fails tb, or skips it with VNCRELAY_E2E_OPTIONAL=1, when
// Debian's Python with Nova and oslo.messaging is missing.
func needNovaPython(tb testing.TB) {
	tb.Helper()
	for path, pkg := range map[string]string{
		debianPython:                                    "python3",
		"/usr/lib/python3/dist-packages/nova":           "python3-nova",
		"/usr/lib/python3/dist-packages/oslo_messaging": "python3-oslo.messaging",
	} {
		needPackage(tb, path, pkg)
	}
}

// needPackage fails tb, or skips it with VNCRELAY_E2E_OPTIONAL=1, when path
// (installed by Debian's package pkg) is missing.
func needPackage(tb testing.TB, path, pkg string) {
	tb.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("VNCRELAY_E2E_OPTIONAL") == "1" {
		tb.Skipf("%s not installed (Debian package %s)", path, pkg)
	}
	tb.Fatalf("%s not installed: install Debian's %s (make e2e-deps), or set VNCRELAY_E2E_OPTIONAL=1 to skip", path, pkg)
}

// ComputeCall is what the stand-in's validate_console_port received, after
// oslo.messaging and Nova's serializers turned the message back into
// Python objects.
type ComputeCall struct {
	Server         string   `json:"server"`        // the host whose queue it came from
	IsInstance     bool     `json:"is_instance"`   // instance was a nova.objects.Instance
	UUID           string   `json:"uuid"`          // instance.uuid
	InstanceHost   string   `json:"instance_host"` // instance.host
	Name           string   `json:"name"`          // instance.name (instance_name_template % id)
	FieldsSet      []string `json:"fields_set"`    // Instance fields present in the primitive
	Changes        []string `json:"changes"`       // fields the primitive marked changed
	Port           string   `json:"port"`
	PortType       string   `json:"port_type"` // Python type name of port: "str"
	ConsoleType    string   `json:"console_type"`
	ContextClass   string   `json:"context_class"`
	ContextIsAdmin bool     `json:"context_is_admin"`
	ContextReqID   string   `json:"context_request_id"`
	// LagMS is how long the call took to reach validate_console_port,
	// in milliseconds, from the _context_timestamp the caller stamped
	// when it built the message (publish, the broker's queue, the
	// stand-in's consumer and dispatch); negative or NaN if the clocks
	// disagree, 0 without a timestamp.
	LagMS float64 `json:"lag_ms"`
	// PrevEmitMS is how long the stand-in took to write the previous
	// event line to its stdout (a harness slow to read the pipe stalls
	// the whole stand-in), in milliseconds.
	PrevEmitMS float64 `json:"prev_emit_ms"`
}

// ComputeAnswer is how the stand-in answers validate_console_port for one
// instance. The zero answer is False.
type ComputeAnswer struct {
	Port  string        // True when the call's port equals this
	Hang  time.Duration // sleep this long before answering
	Error string        // "InstanceNotFound": raise it instead of answering
}

// FakeCompute is a running fake_compute.py: a nova-compute stand-in that
// serves the compute RPC topic for its hosts with Nova's own RPC server
// code. See fake_compute.py for what it checks.
type FakeCompute struct {
	Hosts       []string
	StartupTime time.Duration // exec to "ready" (Python, Nova imports, AMQP setup)

	answers string
	proc    *pyProc

	mu      sync.Mutex
	answerM map[string]map[string]any
}

// StartFakeCompute runs the stand-in for hosts against transportURL and
// stops it when t ends.
func StartFakeCompute(t testing.TB, transportURL string, hosts ...string) *FakeCompute {
	t.Helper()
	needNovaPython(t)
	dir := t.TempDir()
	f := &FakeCompute{Hosts: hosts, answers: filepath.Join(dir, "answers.json"), answerM: map[string]map[string]any{}}
	if err := f.writeAnswers(); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--answers", f.answers}
	for _, h := range hosts {
		args = append(args, "--host", h)
	}
	p, err := startPy(dir, transportURL, "", args...)
	if err != nil {
		t.Fatalf("start fake compute %v: %v", hosts, err)
	}
	f.proc = p
	f.StartupTime = p.startup
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Errorf("stop fake compute: %v", err)
		}
	})
	t.Logf("fake compute %v up in %v", hosts, f.StartupTime.Round(time.Millisecond))
	return f
}

// SetAnswer sets how the stand-in answers for one instance from now on.
func (f *FakeCompute) SetAnswer(uuid string, a ComputeAnswer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]any{"port": a.Port}
	if a.Hang > 0 {
		m["hang"] = a.Hang.Seconds()
	}
	if a.Error != "" {
		m["error"] = a.Error
	}
	f.answerM[uuid] = m
	return f.writeAnswers()
}

// writeAnswers replaces the answers file atomically; f.mu held or unshared.
func (f *FakeCompute) writeAnswers() error {
	b, err := json.Marshal(f.answerM)
	if err != nil {
		return err
	}
	tmp := f.answers + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.answers)
}

// Calls returns the calls received so far, oldest first.
func (f *FakeCompute) Calls() []ComputeCall {
	return decodeEvents[ComputeCall](f.proc, "call")
}

// decodeEvents returns p's events of kind decoded as T, oldest first; an
// event that does not decode is left out.
func decodeEvents[T any](p *pyProc, kind string) []T {
	var out []T
	for _, ev := range p.eventsOf(kind) {
		var v T
		if json.Unmarshal(ev, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// WaitCalls waits up to timeout for at least n calls and returns them all.
func (f *FakeCompute) WaitCalls(n int, timeout time.Duration) []ComputeCall {
	f.proc.waitEvents("call", n, timeout)
	return f.Calls()
}

// Output returns what the stand-in wrote to stderr so far (oslo logs).
func (f *FakeCompute) Output() string { return f.proc.stderr() }

// Stop ends the stand-in (SIGTERM: its RPC servers stop as nova-compute's
// do) and waits for it; after 15 s it is killed. Stop may be called twice.
func (f *FakeCompute) Stop() error { return f.proc.stop() }

// Capture is fake_compute.py in capture mode: it holds the compute.<host>
// queue and records every message sent to it, never answering.
type Capture struct {
	StartupTime time.Duration
	proc        *pyProc
}

// CapturedMessage is one message as the broker delivered it.
type CapturedMessage struct {
	Properties   map[string]any    `json:"properties"`    // AMQP basic properties (kombu's names)
	Headers      map[string]any    `json:"headers"`       // application headers
	DeliveryInfo map[string]string `json:"delivery_info"` // exchange, routing_key
	EnvelopeKeys []string          `json:"envelope_keys"` // keys of the outer JSON object, in order
	Envelope     map[string]any    `json:"envelope"`      // the outer object
	Message      map[string]any    `json:"message"`       // oslo.message decoded
}

// StartCapture runs the stand-in in capture mode for host.
func StartCapture(t testing.TB, transportURL, host string) *Capture {
	t.Helper()
	needNovaPython(t)
	p, err := startPy(t.TempDir(), transportURL, "", "capture", "--host", host)
	if err != nil {
		t.Fatalf("start capture for %s: %v", host, err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("stop capture: %v", err)
		}
	})
	return &Capture{StartupTime: p.startup, proc: p}
}

// WaitMessages waits up to timeout for at least n messages and returns all.
func (c *Capture) WaitMessages(n int, timeout time.Duration) []CapturedMessage {
	c.proc.waitEvents("message", n, timeout)
	return decodeEvents[CapturedMessage](c.proc, "message")
}

// NovaCall calls validate_console_port through Nova 26's own client
// (nova.compute.rpcapi.ComputeAPI with an admin context, as nova-novncproxy
// does) for an instance with the given id, uuid and host. It returns "True"
// or "False", or the class name of the exception the call raised
// ("MessagingTimeout", "InstanceNotFound", ...). timeout is
// rpc_response_timeout in whole seconds (at least 1).
func NovaCall(t testing.TB, transportURL, host, uuid string, id int, port, consoleType string, timeout time.Duration) string {
	t.Helper()
	needNovaPython(t)
	secs := max(int(timeout/time.Second), 1)
	p, err := startPy(t.TempDir(), transportURL, fmt.Sprintf("rpc_response_timeout = %d\n", secs),
		"call", "--host", host, "--uuid", uuid, "--id", strconv.Itoa(id), "--port", port, "--console-type", consoleType)
	if err != nil {
		t.Fatalf("nova call: %v", err)
	}
	defer p.stop()
	p.waitEvents("result", 1, timeout+60*time.Second)
	evs := p.eventsOf("result")
	if len(evs) == 0 {
		t.Fatalf("nova call: no result; stderr:\n%s", p.stderr())
	}
	var r struct {
		Result    *bool  `json:"result"`
		Exception string `json:"exception"`
	}
	if err := json.Unmarshal(evs[0], &r); err != nil {
		t.Fatal(err)
	}
	switch {
	case r.Exception != "":
		return r.Exception
	case r.Result != nil && *r.Result:
		return "True"
	}
	return "False"
}

// pyProc is a running fake_compute.py and the JSON lines it printed.
type pyProc struct {
	cmd     *exec.Cmd
	done    chan struct{}
	startup time.Duration
	errBuf  *lockedWriter

	mu     sync.Mutex
	cond   *sync.Cond
	events []event
}

type event struct {
	kind string
	raw  json.RawMessage
}

// startPy writes a nova.conf naming transportURL (and extra [DEFAULT] lines)
// into dir, runs fake_compute.py with args and waits for its "ready" line.
func startPy(dir, transportURL, extra string, args ...string) (*pyProc, error) {
	script := filepath.Join(dir, "fake_compute.py")
	if err := os.WriteFile(script, fakeComputePy, 0o600); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nova.conf")
	body := fmt.Sprintf("[DEFAULT]\ntransport_url = %s\n%s", transportURL, extra)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(debianPython, append([]string{script, args[0], "--config-file", conf}, args[1:]...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	// The stand-in must not outlive a test binary that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &pyProc{cmd: cmd, done: make(chan struct{}), errBuf: &lockedWriter{w: &bytes.Buffer{}}}
	p.cond = sync.NewCond(&p.mu)
	cmd.Stderr = p.errBuf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", debianPython, err)
	}
	go p.read(stdout)
	if !p.waitEvents("ready", 1, ComputeStartTimeout) {
		_ = p.stop()
		return nil, fmt.Errorf("fake_compute.py %s not ready after %v; stderr:\n%s", args[0], ComputeStartTimeout, p.stderr())
	}
	p.startup = time.Since(begin)
	return p, nil
}

// read collects the JSON lines of stdout until EOF, then reaps the process.
func (p *pyProc) read(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var head struct{ Event string }
		line := slices.Clone(sc.Bytes())
		if json.Unmarshal(line, &head) != nil {
			continue
		}
		p.mu.Lock()
		p.events = append(p.events, event{head.Event, line})
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	_ = p.cmd.Wait()
	close(p.done)
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pyProc) eventsOf(kind string) []json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []json.RawMessage
	for _, e := range p.events {
		if e.kind == kind {
			out = append(out, e.raw)
		}
	}
	return out
}

// waitEvents waits until n events of kind arrived, the process ended, or
// timeout passed; it reports whether n arrived.
func (p *pyProc) waitEvents(kind string, n int, timeout time.Duration) bool {
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		count := 0
		for _, e := range p.events {
			if e.kind == kind {
				count++
			}
		}
		if count >= n {
			return true
		}
		select {
		case <-p.done:
			return false
		default:
		}
		if !time.Now().Before(deadline) {
			return false
		}
		p.cond.Wait()
	}
}

func (p *pyProc) stderr() string { return p.errBuf.String() }

// stop sends SIGTERM, waits up to 15 s, then kills the process.
func (p *pyProc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(15 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("fake_compute.py did not stop within 15 s; killed; stderr:\n%s", p.stderr())
}
