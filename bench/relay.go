package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RelaySpec says how to reach a relay under test.
type RelaySpec struct {
	// Name labels the relay in reports.
	Name string
	// Command is a command line template the harness starts and stops, with
	// placeholders {listen} (127.0.0.1:PORT), {port}, {tokens} (token file),
	// {workdir} (the run's scratch directory, for generated configs),
	// {target} (the first console, for fixed-target relays) and {self} (this
	// program, for its built-in forwarder).
	Command string
	// URL is the base address of a relay already running, such as
	// "ws://127.0.0.1:6080/websockify"; "?token=" is appended. PID, if set,
	// is the process to measure.
	URL string
	PID int
	// Raw: the relay is a plain TCP forwarder; clients skip the WebSocket
	// upgrade and speak RFB directly.
	Raw bool
	// TLS: clients connect with TLS (wss), trusting the harness's
	// certificate, which the command gets as {cert} (see TLSCertFile).
	TLS bool
	// Path is the request path clients send before "?token="; empty means
	// "/websockify" (Nova's proxies take "/", as Nova's console URLs use).
	Path string
	// Tokens, when set, makes the tokens of each run instead of the token
	// file (which is still written, for {tokens}): it is called once the
	// run's consoles are up, before the relay starts, with the number of
	// sessions the run opens. See RunTokens.
	Tokens func(ctx context.Context, cons *Consoles, n int) (RunTokens, error)
	// Probe, when set, returns figures about the relay's backends (such as
	// its database and broker connections); the idle scenario adds them to
	// its metrics at each step, the connect scenario at its end.
	Probe func(ctx context.Context) map[string]float64
	// BackendCPU, when set, returns the CPU seconds used so far by the
	// servers the relay calls per console (database, broker, compute node):
	// the connect scenario reports their CPU per console beside the relay's.
	BackendCPU func() float64
	// Explain, when set, reads the relay's log after a run in which
	// consoles failed and says why they failed, for the result's Note.
	Explain func(logPath string) string
}

// ParseRelaySpec reads "name=command template", "name=ws://..." or
// "name=raw:command template" (a plain TCP relay, such as the forwarder),
// or "name=tls:command template" (a relay clients reach over TLS).
func ParseRelaySpec(s string) (RelaySpec, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return RelaySpec{}, fmt.Errorf("relay %q: want name=command or name=ws://url", s)
	}
	spec := RelaySpec{Name: name}
	if r, ok := strings.CutPrefix(rest, "raw:"); ok {
		spec.Raw, rest = true, r
	}
	if r, ok := strings.CutPrefix(rest, "tls:"); ok {
		spec.TLS, rest = true, r
	}
	if strings.HasPrefix(rest, "ws://") {
		spec.URL = rest
	} else {
		spec.Command = rest
	}
	return spec, nil
}

// Running is a relay being measured.
type Running struct {
	Spec RelaySpec
	Addr string // host:port clients connect to
	Path string // request path for the upgrade, before "?token="
	PID  int    // process measured; 0 when unknown
	// LogPath is the file the relay's output goes to ("" when none).
	LogPath string
	tokens  []string // from Spec.Tokens; nil means Token(i)
	cmd     *exec.Cmd
	log     *os.File
	// exited is closed when the process has been waited for.
	exited chan struct{}
}

// StartRelay starts the relay of spec (or attaches to its URL) and waits
// until it accepts connections. A relay that exits before it listens (the
// free port it was given was taken meanwhile, say) is started again on
// another port, up to three times.
func StartRelay(ctx context.Context, spec RelaySpec, tokenFile, target, logPath string) (*Running, error) {
	return startRelay(ctx, spec, map[string]string{"tokens": tokenFile, "target": target}, logPath)
}

// startRelay is StartRelay with the template's placeholders given by name
// (without braces); {listen}, {port} and {self} are added.
func startRelay(ctx context.Context, spec RelaySpec, vars map[string]string, logPath string) (*Running, error) {
	if spec.URL != "" {
		host, path, _ := strings.Cut(strings.TrimPrefix(spec.URL, "ws://"), "/")
		return &Running{Spec: spec, Addr: host, Path: "/" + path, PID: spec.PID}, nil
	}
	var err error
	for range 3 {
		var r *Running
		if r, err = startOnce(ctx, spec, vars, logPath); err == nil {
			return r, nil
		}
	}
	return nil, err
}

func startOnce(ctx context.Context, spec RelaySpec, vars map[string]string, logPath string) (*Running, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	self, _ := os.Executable()
	pairs := []string{"{listen}", "127.0.0.1:" + strconv.Itoa(port), "{port}", strconv.Itoa(port), "{self}", self}
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	args := strings.Fields(strings.NewReplacer(pairs...).Replace(spec.Command))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	path := spec.Path
	if path == "" {
		path = "/websockify"
	}
	r := &Running{Spec: spec, Addr: "127.0.0.1:" + strconv.Itoa(port), Path: path, LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	if logPath != "" {
		if r.log, err = os.Create(logPath); err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = r.log, r.log
	} else {
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	r.PID = cmd.Process.Pid
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.Addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return r, nil
		}
		select {
		case <-r.exited:
			r.Stop()
			return nil, fmt.Errorf("%s exited before listening on %s (log: %s)", spec.Name, r.Addr, logPath)
		default:
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("%s did not start listening on %s (log: %s)", spec.Name, r.Addr, logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends a relay the harness started: SIGTERM, then SIGKILL to its
// process group after 5 s.
func (r *Running) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	// Children left in the group (websockify forks one per console).
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	if r.log != nil {
		_ = r.log.Close()
	}
}

// Token returns the token of session i: the run's own (RelaySpec.Tokens,
// reused in turn past the end), else Token(i) of the token file.
func (r *Running) Token(i int) string {
	if len(r.tokens) > 0 {
		return r.tokens[i%len(r.tokens)]
	}
	return Token(i)
}

// CPU returns the relay's CPU seconds so far (0 when its PID is unknown).
func (r *Running) CPU() float64 {
	if r.PID == 0 {
		return 0
	}
	c, err := TreeCPU(r.PID)
	if err != nil {
		return 0
	}
	return c
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Forward is the reference forwarder: it accepts on listen and copies bytes
// both ways to target with io.Copy (splice between TCP sockets on Linux),
// a goroutine pair per connection. It returns when ctx ends.
func Forward(ctx context.Context, listen, target string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: back off
			continue
		}
		go func() {
			defer c.Close()
			up, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				return
			}
			defer up.Close()
			go func() {
				_, _ = io.Copy(up, c)
				_ = up.(*net.TCPConn).CloseWrite()
			}()
			_, _ = io.Copy(c, up)
		}()
	}
}
