package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortControl is a net.ListenConfig Control that sets SO_REUSEPORT, so
// that the admin listener, like the relay's (engine Config.ReusePort), can
// be shared by the old and the new process of a handover (docs/FLEET.md).
func reusePortControl(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// closeForHandover closes the admin listener as a handover starts, so that
// the new process's listener on the same port (SO_REUSEPORT) answers every
// health check and scrape from then on. A nil admin does nothing.
func (a *admin) closeForHandover() {
	if a == nil {
		return
	}
	a.close()
	a.log.Info("admin listener closed for the handover")
}
