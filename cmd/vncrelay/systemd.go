package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/vncrelay/vncrelay/engine"
)

// readyWait bounds the wait for the engine to start serving before READY=1.
const readyWait = 5 * time.Second

// sdNotify sends state to the service manager's notification socket
// (NOTIFY_SOCKET: systemd's Type=notify, sd_notify(3)); without one it does
// nothing. A failure is logged, never fatal: the relay serves either way.
func sdNotify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// sdReady tells the service manager the relay is up, once srv serves: READY=1
// with a STATUS line. With WatchdogSec= set it then starts the watchdog
// (sdWatchdog); the returned function stops it.
func sdReady(srv *engine.Server, log *slog.Logger) (stop func()) {
	deadline := time.Now().Add(readyWait)
	for srv.Ready() != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sdNotify(log, fmt.Sprintf("READY=1\nSTATUS=relaying on %s", srv.Addr()))
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings unreadable; no watchdog", "err", err)
	}
	if err != nil || interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sdWatchdog(ctx, srv, interval, log)
	}()
	return func() {
		cancel()
		<-done
	}
}

// sdWatchdog sends WATCHDOG=1 every half interval while every event loop
// answers a snapshot request within a quarter of it: a stuck loop stops the
// pings, and systemd restarts the relay (WatchdogSec=, Restart=).
func sdWatchdog(ctx context.Context, srv *engine.Server, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, interval/4)
		_, err := srv.Loops(lctx)
		cancel()
		if err != nil {
			if srv.Ready() == nil { // stopping: the loops end with the drain
				log.Error("event loops not answering; withholding the systemd watchdog ping", "err", err)
			}
			continue
		}
		sdNotify(log, "WATCHDOG=1")
	}
}

// sdStopping tells the service manager the relay is draining.
func sdStopping(log *slog.Logger) {
	sdNotify(log, "STOPPING=1\nSTATUS=draining consoles")
}

// activatedListener returns the listening socket systemd handed over
// (socket activation: LISTEN_PID, LISTEN_FDS, as sd_listen_fds(3)), as a
// descriptor the engine owns (engine.Config.ListenFD), or 0 when there is
// none. It reads the environment once per process (the variables are then
// unset, so a program the relay starts does not take them); a reload gets
// the same answer. With several sockets, the first is used and the count
// is logged by the caller.
var activatedListener = sync.OnceValues(func() (fd, count int) {
	files := activation.Files(true)
	if len(files) == 0 {
		return 0, 0
	}
	// The engine owns its descriptor and closes it; an *os.File would close
	// its own when collected, so the engine gets a duplicate.
	fd, err := unix.Dup(int(files[0].Fd()))
	for _, f := range files {
		_ = f.Close()
	}
	if err != nil {
		return 0, len(files)
	}
	unix.CloseOnExec(fd)
	return fd, len(files)
})

// useActivatedListener puts the socket systemd handed over, if any, into
// cfg, and says so.
func useActivatedListener(cfg *engine.Config, log *slog.Logger) {
	fd, n := activatedListener()
	switch {
	case n == 0:
		return
	case fd == 0:
		log.Warn("socket activation: the handed socket could not be taken; binding the address instead", "sockets", n)
		return
	case n > 1:
		log.Warn("socket activation: several sockets handed over; the first is used", "sockets", n)
	}
	cfg.ListenFD = fd
	log.Info("socket activation: serving the socket systemd handed over", "fd", fd)
}
