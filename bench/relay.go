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
}

// ParseRelaySpec reads "name=command template", "name=ws://..." or
// "name=raw:command template" (a plain TCP relay, such as the forwarder).
func ParseRelaySpec(s string) (RelaySpec, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return RelaySpec{}, fmt.Errorf("relay %q: want name=command or name=ws://url", s)
	}
	spec := RelaySpec{Name: name}
	if r, ok := strings.CutPrefix(rest, "raw:"); ok {
		spec.Raw, rest = true, r
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
	cmd  *exec.Cmd
	log  *os.File
	// exited is closed when the process has been waited for.
	exited chan struct{}
}

// StartRelay starts the relay of spec (or attaches to its URL) and waits
// until it accepts connections. A relay that exits before it listens (the
// free port it was given was taken meanwhile, say) is started again on
// another port, up to three times.
func StartRelay(ctx context.Context, spec RelaySpec, tokenFile, target, logPath string) (*Running, error) {
	if spec.URL != "" {
		host, path, _ := strings.Cut(strings.TrimPrefix(spec.URL, "ws://"), "/")
		return &Running{Spec: spec, Addr: host, Path: "/" + path, PID: spec.PID}, nil
	}
	var err error
	for range 3 {
		var r *Running
		if r, err = startOnce(ctx, spec, tokenFile, target, logPath); err == nil {
			return r, nil
		}
	}
	return nil, err
}

func startOnce(ctx context.Context, spec RelaySpec, tokenFile, target, logPath string) (*Running, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	self, _ := os.Executable()
	repl := strings.NewReplacer("{listen}", "127.0.0.1:"+strconv.Itoa(port), "{port}", strconv.Itoa(port),
		"{tokens}", tokenFile, "{target}", target, "{self}", self)
	args := strings.Fields(repl.Replace(spec.Command))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r := &Running{Spec: spec, Addr: "127.0.0.1:" + strconv.Itoa(port), Path: "/websockify", cmd: cmd, exited: make(chan struct{})}
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
