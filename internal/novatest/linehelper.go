package novatest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// lineHelper is a Python helper process that loads Nova's code once and then
// answers one JSON line on standard output for each JSON request line on
// standard input (nova_helper.py, nova_bulk.py). Its standard error goes to
// <name>.log in its directory, shown when it fails. One request at a time.
type lineHelper struct {
	name    string // the script's file name, for errors
	logPath string
	timeout time.Duration // per answer

	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
}

// startLineHelper writes script to dir as name, runs it with novaPython and
// args, and waits for its {"ready": true} line. maxLine bounds one answer.
func startLineHelper(dir, name string, script []byte, timeout time.Duration, maxLine int, args ...string) (*lineHelper, error) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, script, 0o600); err != nil {
		return nil, err
	}
	h := &lineHelper{name: name, logPath: filepath.Join(dir, name+".log"), timeout: timeout}
	cmd := exec.Command(novaPython, append([]string{path}, args...)...)
	cmd.Dir = dir
	stderr, err := os.Create(h.logPath)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	h.cmd = cmd
	h.lines = make(chan string, 1)
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, maxLine)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		_ = cmd.Wait()
	}()
	var ready struct{ Ready bool }
	if err := h.receive(&ready); err != nil {
		_ = h.close()
		return nil, fmt.Errorf("%s did not start: %w", name, err)
	}
	return h, nil
}

// call sends one request and decodes its answer into resp.
func (h *lineHelper) call(req map[string]any, resp any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		return fmt.Errorf("%s not running", h.name)
	}
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := h.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	if err := h.receive(resp); err != nil {
		return fmt.Errorf("%s %s: %w", h.name, req["op"], err)
	}
	return nil
}

// receive reads one answer line into v, skipping a library's stray prints.
func (h *lineHelper) receive(v any) error {
	timeout := time.NewTimer(h.timeout)
	defer timeout.Stop()
	for {
		select {
		case line := <-h.lines:
			if len(line) == 0 || line[0] != '{' {
				continue
			}
			var e struct{ Error string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Error != "" {
				return errors.New(e.Error)
			}
			return json.Unmarshal([]byte(line), v)
		case <-h.done:
			return fmt.Errorf("%s exited:\n%s", h.name, h.log())
		case <-timeout.C:
			return fmt.Errorf("%s did not answer within %v:\n%s", h.name, h.timeout, h.log())
		}
	}
}

// log returns the end of the helper's standard error.
func (h *lineHelper) log() []byte {
	b, _ := os.ReadFile(h.logPath)
	return tail(b)
}

// close ends the helper's input (it exits at the end of it), and kills its
// process group if it has not exited 10 s later.
func (h *lineHelper) close() error {
	h.mu.Lock()
	cmd := h.cmd
	h.cmd = nil
	h.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-h.done
	}
	return nil
}
