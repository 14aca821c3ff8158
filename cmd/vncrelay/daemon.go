package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/vncrelay/vncrelay/engine"
	"golang.org/x/sys/unix"
)

// Daemon mode (websockify's -D/--daemon). Go cannot fork a running
// program, so the process starts itself again, detached: a new session
// (setsid, no controlling terminal), stdin and stdout on /dev/null, the same
// arguments and working directory (websockify moves to / and so needs
// absolute paths; vncrelay keeps relative paths meaning what they meant).
// Until the child listens, its stderr is a pipe the parent reads: start-up
// errors reach the terminal and the parent's exit status, instead of
// vanishing as websockify's do. Then the child puts /dev/null on its stderr
// (log with --log-file or --syslog) and the parent exits 0, printing the
// daemon's PID.
const (
	daemonEnv       = "VNCRELAY_DAEMON_CHILD" // set in the child's environment
	daemonReadyLine = "vncrelay: daemon ready"
	daemonStartWait = 60 * time.Second
)

// isDaemonChild reports whether this process is the detached child of -D.
func isDaemonChild() bool { return os.Getenv(daemonEnv) == "1" }

// daemonize starts the detached child and waits until it listens or fails.
// It returns the error to exit with (nil: the daemon runs).
func daemonize(stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0] // keep the name: nova-novncproxy and siblings are told apart by it
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return fmt.Errorf("--daemon: start: %w", err)
	}
	_ = w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == daemonReadyLine {
				ready <- true
				return
			}
			fmt.Fprintln(stderr, sc.Text()) // the child's start-up output
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if ok {
			fmt.Fprintf(stderr, "vncrelay: daemon started, pid %d\n", cmd.Process.Pid)
			return nil
		}
		err := <-exited
		return fmt.Errorf("--daemon: the daemon did not start: %v", err)
	case <-time.After(daemonStartWait):
		_ = cmd.Process.Kill()
		return fmt.Errorf("--daemon: the daemon did not start listening within %v", daemonStartWait)
	}
}

// daemonReady tells the waiting parent that the child listens, then puts
// /dev/null on the child's stderr: the parent is about to exit and close the
// pipe's other end.
func daemonReady() error {
	if _, err := fmt.Fprintln(os.Stderr, daemonReadyLine); err != nil {
		return fmt.Errorf("--daemon: tell the parent: %w", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	defer null.Close()
	if err := unix.Dup2(int(null.Fd()), 2); err != nil {
		return errors.Join(errors.New("--daemon: stderr to /dev/null"), err)
	}
	return nil
}

// startServer starts the relay on cfg, hands it to the admin listener, and,
// in a daemon's child, tells the parent that it is serving (daemonReady).
func startServer(cfg engine.Config, adm *admin) (*engine.Server, error) {
	srv, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	adm.start(srv, cfg.Resolver)
	if isDaemonChild() {
		if err := daemonReady(); err != nil {
			return nil, err
		}
	}
	return srv, nil
}
