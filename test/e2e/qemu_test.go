package e2e

import (
	"fmt"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// startQEMUVNC starts a QEMU machine that is stopped before its first
// instruction, with no devices but a VGA card and its VNC server on a free loopback
// port: a real VNC console, as Nova's compute hosts serve them, that needs no
// disk image and no KVM. It returns the console's host:port.
func startQEMUVNC(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	if port < 5900 {
		t.Fatalf("free port %d below QEMU's VNC base 5900", port)
	}
	startQEMU(t, port, "-vga", "std", "-vnc", fmt.Sprintf("127.0.0.1:%d", port-5900))
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// startQEMU starts a halted QEMU machine (-S: no guest code runs, no disk
// image or KVM needed) with the devices and consoles in args, and waits
// until something listens on the loopback port.
func startQEMU(t *testing.T, port int, args ...string) {
	t.Helper()
	qemu := need(t, "qemu-system-x86_64")
	base := []string{"-display", "none", "-nodefaults", "-S", "-machine", "pc", "-m", "16"}
	startProc(t, &testutil.Buffer{}, qemu, append(base, args...)...)
	waitPort(t, fmt.Sprintf("127.0.0.1:%d", port))
}
