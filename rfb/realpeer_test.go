//go:build linux

package rfb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// peerTimeout bounds every wait on a real peer.
const peerTimeout = 30 * time.Second

// startQEMU starts QEMU's VNC server on a unix socket with the given extra
// -vnc options (and extra arguments before them, such as -object),
// stopped (-S) and without devices, and returns a connection to it. QEMU is
// killed when the test ends.
func startQEMU(t *testing.T, vncOpts string, extra ...string) net.Conn {
	t.Helper()
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatalf("qemu-system-x86_64 not found (%v): this test needs a real VNC console; "+
			"install Debian's qemu-system-x86 (.ci/deps.sh does)", err)
	}
	dir, err := os.MkdirTemp("", "rfb-qemu") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "vnc.sock")
	var stderr bytes.Buffer
	args := append([]string{"-display", "none"}, extra...)
	args = append(args, "-vnc", "unix:"+sock+vncOpts, "-S", "-nodefaults", "-name", "rfbtest")
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(peerTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("qemu exited: %v: %s", err, stderr.String())
		default:
		}
		c, err := net.Dial("unix", sock)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(peerTimeout))
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu's VNC socket %s not there after %v: %v", sock, peerTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// handshaker is what driveHandshake needs of either machine.
type handshaker interface {
	Feed([]byte) (int, error)
	AppendOutput([]byte) []byte
	PeerClosed() error
}

// driveHandshake runs a machine over a connection as the engine does: send
// its output, read, feed, until done (done reports it). It returns the bytes
// read beyond the handshake.
func driveHandshake(c net.Conn, h handshaker, done func() bool) ([]byte, error) {
	buf := make([]byte, 4096)
	var pending, out []byte
	for i := 0; i < 1000; i++ {
		if out = h.AppendOutput(out[:0]); len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return nil, err
			}
		}
		if done() {
			return pending, nil
		}
		r, rerr := c.Read(buf)
		pending = append(pending, buf[:r]...)
		n, err := h.Feed(pending)
		pending = pending[n:]
		if err != nil {
			out = h.AppendOutput(out[:0])
			_, _ = c.Write(out)
			return nil, err
		}
		if rerr != nil && !done() {
			if errors.Is(rerr, io.EOF) {
				return nil, h.PeerClosed()
			}
			return nil, rerr
		}
	}
	return nil, errors.New("handshake did not end in 1000 reads")
}

// TestQEMUConsole runs the console side against QEMU's VNC server, then the
// browser side in memory, and sends the browser's ClientInit on to QEMU as
// the relay does: QEMU must answer with its ServerInit.
func TestQEMUConsole(t *testing.T) {
	console := startQEMU(t, "")
	var ch ConsoleHandshake
	rest, err := driveHandshake(console, &ch, ch.Done)
	if err != nil {
		t.Fatalf("console handshake with QEMU: %v", err)
	}
	if len(rest) != 0 || ch.Chosen() != SecurityNone {
		t.Fatalf("left over %q, chosen %s", rest, ch.Chosen())
	}

	// The browser: noVNC's answers, with its ClientInit (shared) right
	// behind the choice.
	var bh BrowserHandshake
	if out := bh.AppendOutput(nil); string(out) != ProtocolVersion38 {
		t.Fatalf("relay's version %q", out)
	}
	fromBrowser := wire("RFB 003.008\n", byte(1), byte(1))
	n, err := bh.Feed(fromBrowser)
	if err != nil || !bh.Done() {
		t.Fatalf("browser handshake: %v in state %s", err, bh.State())
	}
	if out := bh.AppendOutput(nil); !bytes.Equal(out, wire(byte(1), byte(1), u32be(0))) {
		t.Fatalf("relay's answers to the browser %q", out)
	}
	if _, err := console.Write(fromBrowser[n:]); err != nil {
		t.Fatal(err)
	}

	// ServerInit (RFC 6143 section 7.3.2): U16 width, U16 height,
	// 16-byte PIXEL_FORMAT, U32 name length, name.
	var head [24]byte
	if _, err := io.ReadFull(console, head[:]); err != nil {
		t.Fatalf("ServerInit: %v", err)
	}
	w, h := binary.BigEndian.Uint16(head[0:]), binary.BigEndian.Uint16(head[2:])
	nameLen := binary.BigEndian.Uint32(head[20:])
	if w == 0 || h == 0 || nameLen == 0 || nameLen > 256 {
		t.Fatalf("ServerInit % x", head)
	}
	name := make([]byte, nameLen)
	if _, err := io.ReadFull(console, name); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(name, []byte("rfbtest")) {
		t.Fatalf("ServerInit name %q", name)
	}
	t.Logf("ServerInit %dx%d %d bpp, name %q", w, h, head[4], name)
}

// TestQEMUConsolePassword: QEMU with a VNC password offers only VNC
// authentication, and the console side says so.
func TestQEMUConsolePassword(t *testing.T) {
	console := startQEMU(t, ",password=on")
	var ch ConsoleHandshake
	_, err := driveHandshake(console, &ch, ch.Done)
	wantErr(t, err, SideConsole, StageSecurity, CodeNoNone, "offered 2 (VNC)")
}
