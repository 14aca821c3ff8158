package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/novatest"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// startQEMUX509 starts a halted QEMU whose VNC server on a free loopback
// port speaks VeNCrypt with x509 credentials issued by ca and requires a
// client certificate from it (verify-peer=yes), as a compute host with
// libvirt's vnc_tls and vnc_tls_x509_verify does. It returns the port.
func startQEMUX509(t *testing.T, ca *testutil.TestCA) int {
	t.Helper()
	// QEMU reads ca-cert.pem, server-cert.pem and server-key.pem from dir;
	// a short path without commas (QEMU's option syntax), so not t.TempDir.
	dir, err := os.MkdirTemp("", "e2e-x509")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ca.WriteCA(t, dir, "ca-cert.pem")
	ca.Server(t, "compute1.example.test").Write(t, dir, "server")
	port := freePort(t)
	if port < 5900 {
		t.Fatalf("free port %d below QEMU's VNC base 5900", port)
	}
	startQEMU(t, port, "-vga", "std",
		"-object", "tls-creds-x509,id=tls0,dir="+dir+",endpoint=server,verify-peer=yes",
		"-vnc", fmt.Sprintf("127.0.0.1:%d,tls-creds=tls0", port-5900))
	return port
}

// TestNovaVeNCrypt runs nova-novncproxy with [vnc] auth_schemes =
// vencrypt against QEMU with x509 credentials, the certificates written
// where nova.conf names them: tempest's client gets through to QEMU's
// ServerInit (security type None on its side, VeNCrypt X509None on the
// console's), and noVNC in headless Chromium reaches Connected. A proxy trusting another CA, and a proxy without a client
// certificate, each refuse the console with a 502 before the 101, a reason
// header and a log line that say which.
func TestNovaVeNCrypt(t *testing.T) {
	need(t, "python3")
	need(t, "rabbitmq-server")
	e := &novaEnv{nova: novatest.Shared(t), rabbit: rabbitMQ(t)}
	e.compute = novatest.StartFakeCompute(t, e.rabbit.URL(), "compute1")
	ca := testutil.NewTestCA(t, "compute hosts CA")
	e.port = startQEMUX509(t, ca)
	e.console = net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))

	dir := t.TempDir()
	caFile := ca.WriteCA(t, dir, "vnc-ca.pem")
	certFile, keyFile := ca.Client(t, "nova-novncproxy").Write(t, dir, "vnc-client")
	otherCA := testutil.NewTestCA(t, "another CA").WriteCA(t, dir, "other-ca.pem")

	var made []string
	tokens := func() []string { return made }
	tok := e.token(t, novatest.TokenSpec{}, nil)
	made = append(made, tok)

	tests := []struct {
		name   string
		vnc    string // the [vnc] options added to nova.conf
		status int
		reason string // the refusal's Vncrelay-Reason
		log    string // in the proxy's log
	}{
		{"vencrypt with the deployment's certificates",
			"auth_schemes = vencrypt\nvencrypt_client_key = " + keyFile + "\nvencrypt_client_cert = " + certFile +
				"\nvencrypt_ca_certs = " + caFile + "\n", 101, "", ""},
		{"vencrypt,none: QEMU offers VeNCrypt only",
			"auth_schemes = vencrypt,none\nvencrypt_client_key = " + keyFile + "\nvencrypt_client_cert = " + certFile +
				"\nvencrypt_ca_certs = " + caFile + "\n", 101, "", ""},
		{"the proxy trusts another CA",
			"auth_schemes = vencrypt\nvencrypt_client_key = " + keyFile + "\nvencrypt_client_cert = " + certFile +
				"\nvencrypt_ca_certs = " + otherCA + "\n", 502, "console TLS certificate not trusted", "code=tls_untrusted"},
		{"no client certificate",
			"auth_schemes = vencrypt\nvencrypt_ca_certs = " + caFile + "\n", 502,
			"console refused the relay's TLS client certificate", "code=closed_after_tls"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// [vnc] options appended to the fixture's own [vnc] section.
			conf := e.novaConf(t, freePort(t), "\n[vnc]\n"+tt.vnc)
			bin := t.TempDir() + "/nova-novncproxy"
			if err := os.Symlink(relayBin, bin); err != nil {
				t.Fatal(err)
			}
			addr, _, logs := startListening(t, []string{bin, "--config-file", conf}, tokens)
			if tt.status == 101 {
				if got := tempest(t, "good", "http://"+addr+"/?token="+tok); got != "HTTP/1.1 101 Switching Protocols" {
					t.Fatalf("status %q", got)
				}
				if i == 0 {
					noVNCConnected(t, addr, tok)
				}
				return
			}
			status, head := rawStatus(t, addr, upgradeReq("/?token="+tok, addr))
			if status != tt.status || !strings.Contains(head, "Vncrelay-Reason: "+tt.reason+"\r\n") {
				t.Fatalf("status %d, want %d with reason %q:\n%s", status, tt.status, tt.reason, head)
			}
			if got := tempest(t, "bad", "http://"+addr+"/?token="+tok); got != "HTTP/1.1 502 Bad Gateway" {
				t.Fatalf("tempest saw %q", got)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Fatalf("no %q in the log:\n%s", tt.log, logs.String())
			}
		})
	}
	t.Run("vencrypt without vencrypt_ca_certs: refused at start", func(t *testing.T) {
		conf := e.novaConf(t, freePort(t), "\n[vnc]\nauth_schemes = vencrypt\n")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, relayBin, "nova", "novnc", "--config-file", conf).CombinedOutput()
		if err == nil || ctx.Err() != nil || !strings.Contains(string(out), "[vnc] vencrypt_ca_certs: required") {
			t.Fatalf("exit %v: %s", err, out)
		}
	})
}
