//go:build linux

package rfb

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// novaProxy runs Nova's own RFBSecurityProxy.connect (Debian's python3-nova)
// between a tenant and a compute socket, then passes on what Nova leaves to
// websockify's relay: the compute's SecurityResult to the tenant and the
// tenant's ClientInit to the compute.
const novaProxy = `
import socket, sys
import nova.conf
from nova.console.securityproxy import rfb
nova.conf.CONF([], project='nova', default_config_files=[])
tenant = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
compute = socket.create_connection(('127.0.0.1', int(sys.argv[2])))
compute = rfb.RFBSecurityProxy().connect(tenant, compute)

def relay(src, dst, n):
    got = b''
    while len(got) < n:
        b = src.recv(n - len(got))
        if not b:
            sys.exit('peer closed during relay')
        got += b
    dst.sendall(got)

relay(compute, tenant, 4)
relay(tenant, compute, 1)
print('nova ok')
`

// TestNovaSecurityProxy puts Nova's security proxy between the two machines:
// ConsoleHandshake as Nova's tenant (an RFB client, as the relay is to a
// console) and BrowserHandshake as Nova's compute node (an RFB server, as the
// relay is to a browser). Both ends must finish, and the ClientInit sent
// after them must arrive through Nova.
func TestNovaSecurityProxy(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, with python3-nova
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s: %v: this test runs Nova's code; install Debian's python3-nova (.ci/deps.sh does)", python, err)
	}
	script := filepath.Join(t.TempDir(), "novaproxy.py")
	if err := os.WriteFile(script, []byte(novaProxy), 0o600); err != nil {
		t.Fatal(err)
	}
	tenantL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tenantL.Close()
	computeL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer computeL.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script,
		strconv.Itoa(tenantL.Addr().(*net.TCPAddr).Port),
		strconv.Itoa(computeL.Addr().(*net.TCPAddr).Port))
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pyDone := make(chan error, 1)
	go func() { pyDone <- cmd.Wait() }()

	type result struct {
		name string
		err  error
	}
	results := make(chan result, 2)
	var clientInit []byte
	go func() { // Nova's tenant: the relay's console side
		c, err := accept(tenantL)
		if err != nil {
			results <- result{"tenant", err}
			return
		}
		defer c.Close()
		var h ConsoleHandshake
		rest, err := driveHandshake(c, &h, h.Done)
		if err == nil && len(rest) != 0 {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			_, err = c.Write([]byte{1}) // ClientInit, shared
		}
		results <- result{"tenant", err}
	}()
	go func() { // Nova's compute node: the relay's browser side
		c, err := accept(computeL)
		if err != nil {
			results <- result{"compute", err}
			return
		}
		defer c.Close()
		var h BrowserHandshake
		rest, err := driveHandshake(c, &h, h.Done)
		if err == nil && len(rest) == 0 {
			rest = make([]byte, 1)
			_, err = io.ReadFull(c, rest)
		}
		clientInit = rest
		results <- result{"compute", err}
	}()
	var pyErr error
	pyEnded := false
	for got := 0; got < 2; {
		select {
		case r := <-results:
			got++
			if r.err != nil {
				t.Errorf("%s side: %v", r.name, r.err)
			}
		case pyErr = <-pyDone:
			pyEnded = true
			if pyErr != nil {
				t.Fatalf("Nova's proxy failed (%v): %s", pyErr, output.String())
			}
			pyDone = nil // a nil channel: no second receive
		}
	}
	if !pyEnded {
		pyErr = <-pyDone
	}
	if pyErr != nil || !bytes.Contains(output.Bytes(), []byte("nova ok")) {
		t.Fatalf("Nova's proxy: %v: %s", pyErr, output.String())
	}
	if !bytes.Equal(clientInit, []byte{1}) {
		t.Fatalf("ClientInit through Nova: %q", clientInit)
	}
}

func accept(l net.Listener) (net.Conn, error) {
	_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(peerTimeout))
	c, err := l.Accept()
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(peerTimeout))
	return c, nil
}
