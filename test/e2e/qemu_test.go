package e2e

import (
	"fmt"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// startQEMUVNC starts a QEMU machine that is stopped before its first
// instruction (-S), with no devices but a VGA card and its VNC server on a free loopback
// port: a real VNC console, as Nova's compute hosts serve them, that needs no
// disk image and no KVM. It returns the console's host:port.
func startQEMUVNC(t *testing.T) string {
	t.Helper()
	qemu := need(t, "qemu-system-x86_64")
	port := freePort(t)
	if port < 5900 {
		t.Fatalf("free port %d below QEMU's VNC base 5900", port)
	}
	out := &testutil.Buffer{}
	startProc(t, out, qemu, "-display", "none", "-nodefaults", "-S", "-machine", "pc", "-m", "16", "-vga", "std",
		"-vnc", fmt.Sprintf("127.0.0.1:%d", port-5900))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitPort(t, addr)
	return addr
}
