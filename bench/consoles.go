package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// Consoles is a set of fake RFB servers on loopback ports, in this process or
// in a child process (so that their sockets count against another process's
// descriptor limit: at 9,900 consoles the harness's clients need the whole
// limit of one process).
type Consoles struct {
	addrs   []string
	servers []*rfb.Server
	proc    *exec.Cmd
	stdin   io.Closer
}

// ModeName is the command-line name of an rfb.Mode.
func ModeName(m rfb.Mode) string {
	switch m {
	case rfb.ModeStream:
		return "stream"
	case rfb.ModeEcho:
		return "echo"
	}
	return "draw"
}

// ParseMode reads a ModeName.
func ParseMode(s string) (rfb.Mode, error) {
	for _, m := range []rfb.Mode{rfb.ModeDraw, rfb.ModeStream, rfb.ModeEcho} {
		if ModeName(m) == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("console mode %q: want draw, stream or echo", s)
}

// StartConsoles starts n RFB servers in mode in this process; updateBytes
// sets the size of each stream-mode update.
func StartConsoles(n int, mode rfb.Mode, updateBytes int) (*Consoles, error) {
	c := &Consoles{}
	for range max(1, n) {
		s := &rfb.Server{Mode: mode, UpdateBytes: updateBytes}
		if err := s.Listen("127.0.0.1:0"); err != nil {
			c.Close()
			return nil, err
		}
		c.servers = append(c.servers, s)
		c.addrs = append(c.addrs, s.Addr())
	}
	return c, nil
}

// SpawnConsoles runs command (such as "vncrelay-bench consoles") with
// --count, --mode and --update-bytes, and reads the addresses it prints, one a
// line, until "ready". The child stops when its standard input closes.
func SpawnConsoles(command []string, n int, mode rfb.Mode, updateBytes int) (*Consoles, error) {
	args := append(append([]string(nil), command[1:]...), "--count", strconv.Itoa(max(1, n)),
		"--mode", ModeName(mode), "--update-bytes", strconv.Itoa(updateBytes))
	cmd := exec.Command(command[0], args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start consoles: %w", err)
	}
	c := &Consoles{proc: cmd, stdin: stdin}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			switch {
			case !ok:
				c.Close()
				return nil, fmt.Errorf("consoles process ended before it was ready")
			case l == "ready":
				go func() {
					for range lines { // keep draining
					}
				}()
				return c, nil
			default:
				c.addrs = append(c.addrs, strings.TrimSpace(l))
			}
		case <-timeout:
			c.Close()
			return nil, fmt.Errorf("consoles process not ready in 20s")
		}
	}
}

// Addr returns the address of console i (modulo the count).
func (c *Consoles) Addr(i int) string { return c.addrs[i%len(c.addrs)] }

// Token is the token the harness uses for console session i.
func Token(i int) string { return fmt.Sprintf("bench-%d", i) }

// WriteTokenFile writes a websockify token file mapping Token(0..n-1) to the
// consoles in turn, in dir, and returns its path.
func (c *Consoles) WriteTokenFile(dir string, n int) (string, error) {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s: %s\n", Token(i), c.Addr(i))
	}
	path := filepath.Join(dir, "tokens.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write token file: %w", err)
	}
	return path, nil
}

// Close stops every console.
func (c *Consoles) Close() {
	for _, s := range c.servers {
		_ = s.Close()
	}
	if c.proc != nil {
		_ = c.stdin.Close()
		done := make(chan struct{})
		go func() { _ = c.proc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-c.proc.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// ServeConsoles is the body of "vncrelay-bench consoles": it starts count
// consoles, prints their addresses and "ready", and runs until in closes.
func ServeConsoles(count int, mode rfb.Mode, updateBytes int, in io.Reader, out io.Writer) error {
	RaiseNoFile()
	c, err := StartConsoles(count, mode, updateBytes)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, a := range c.addrs {
		fmt.Fprintln(out, a)
	}
	fmt.Fprintln(out, "ready")
	_, _ = io.Copy(io.Discard, in)
	return nil
}
