//go:build linux

package rfb

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// startQEMUX509 starts QEMU's VNC server with VeNCrypt x509 credentials made
// by ca: QEMU reads ca-cert.pem, server-cert.pem and server-key.pem from the
// directory named by tls-creds-x509's dir (QEMU's "TLS setup for network
// services" documentation; GnuTLS takes the PKCS#8 key), and with
// verify-peer=yes it wants a client certificate issued by the same CA.
func startQEMUX509(t *testing.T, ca *testutil.TestCA) net.Conn {
	t.Helper()
	// Not t.TempDir: its name holds the test's, and a comma there would
	// split QEMU's option list.
	dir, err := os.MkdirTemp("", "rfb-x509")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ca.WriteCA(t, dir, "ca-cert.pem")
	ca.Server(t, "localhost", "127.0.0.1").Write(t, dir, "server")
	return startQEMU(t, ",tls-creds=tls0",
		"-object", "tls-creds-x509,id=tls0,dir="+dir+",endpoint=server,verify-peer=yes")
}

// prefixConn reads pre before the connection's own bytes: what the
// handshake left unused is the start of the TLS stream.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// driveVeNCrypt runs the console side over c as the engine does with
// VeNCrypt: the plain part, then TLS with cfg from the first unused byte,
// then SecurityResult through TLS. It returns the TLS connection, ready for
// ClientInit.
func driveVeNCrypt(c net.Conn, h *ConsoleHandshake, cfg *tls.Config) (*tls.Conn, error) {
	rest, err := driveHandshake(c, h, func() bool { return h.NeedsTLS() || h.Done() })
	if err != nil {
		return nil, err
	}
	if !h.NeedsTLS() {
		return nil, errors.New("handshake ended without TLS, chose " + h.Chosen().String())
	}
	tc := tls.Client(&prefixConn{Conn: c, pre: rest}, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, h.TLSFailed(err)
	}
	h.TLSEstablished()
	var buf [64]byte
	for i := 0; i < 100 && !h.Done(); i++ {
		n, rerr := tc.Read(buf[:])
		if _, err := h.Feed(buf[:n]); err != nil {
			return nil, err
		}
		switch {
		case h.Done():
		case errors.Is(rerr, io.EOF):
			return nil, h.PeerClosed()
		case rerr != nil:
			return nil, h.TLSFailed(rerr)
		}
	}
	if !h.Done() {
		return nil, errors.New("SecurityResult did not come in 100 reads")
	}
	return tc, nil
}

// TestQEMUVeNCrypt runs the console side against QEMU with x509
// credentials and verify-peer=yes: with the right certificates it reaches
// SecurityResult OK inside TLS and QEMU answers ClientInit with its
// ServerInit; a console certificate from another CA, and no client
// certificate, each end with their own error.
func TestQEMUVeNCrypt(t *testing.T) {
	ca := testutil.NewTestCA(t, "vncrelay test CA")
	client := ca.Client(t, "nova-novncproxy")
	other := testutil.NewTestCA(t, "another CA")

	tests := []struct {
		name   string
		accept []SecurityType
		cfg    *tls.Config
		stage  Stage
		code   Code
	}{
		{
			name:   "vencrypt: client certificate and CA right",
			accept: vencryptOnly,
			cfg:    &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", Certificates: []tls.Certificate{client.TLS}},
		},
		{
			name:   "vencrypt,none: QEMU offers VeNCrypt only",
			accept: vencryptOrNone,
			cfg:    &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", Certificates: []tls.Certificate{client.TLS}},
		},
		{
			name:   "the relay trusts another CA",
			accept: vencryptOnly,
			cfg:    &tls.Config{RootCAs: other.Pool, ServerName: "localhost", Certificates: []tls.Certificate{client.TLS}},
			stage:  StageTLS, code: CodeTLSUntrusted,
		},
		{
			name:   "no client certificate",
			accept: vencryptOnly,
			cfg:    &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"},
			stage:  StageSecurityResult, code: CodeClosedAfterTLS,
		},
		{
			name:   "a client certificate from another CA",
			accept: vencryptOnly,
			cfg: &tls.Config{RootCAs: ca.Pool, ServerName: "localhost",
				Certificates: []tls.Certificate{other.Client(t, "intruder").TLS}},
			stage: StageSecurityResult, code: CodeClosedAfterTLS,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			console := startQEMUX509(t, ca)
			h := newVeNCrypt(t, tt.accept)
			tc, err := driveVeNCrypt(console, h, tt.cfg)
			if tt.code != 0 {
				wantErr(t, err, SideConsole, tt.stage, tt.code, "*")
				t.Logf("refused as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("VeNCrypt with QEMU: %v", err)
			}
			if h.Chosen() != SecurityVeNCrypt {
				t.Fatalf("chosen %s", h.Chosen())
			}
			// ClientInit (shared), then ServerInit through TLS.
			_ = tc.SetDeadline(time.Now().Add(peerTimeout))
			if _, err := tc.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
			var head [24]byte
			if _, err := io.ReadFull(tc, head[:]); err != nil {
				t.Fatalf("ServerInit: %v", err)
			}
			w, ht := binary.BigEndian.Uint16(head[0:]), binary.BigEndian.Uint16(head[2:])
			if nameLen := binary.BigEndian.Uint32(head[20:]); w == 0 || ht == 0 || nameLen == 0 || nameLen > 256 {
				t.Fatalf("ServerInit % x", head)
			}
			st := tc.ConnectionState()
			t.Logf("ServerInit %dx%d over %s, %s", w, ht, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		})
	}
}

// novaVeNCrypt runs Nova's own VeNCrypt client (RFBAuthSchemeVeNCrypt,
// Debian's python3-nova) on a connection to QEMU (fd 3): the RFB steps
// before it, its security_handshake with the [vnc] options given, then
// SecurityResult read through the socket it returns. It prints one JSON line.
const novaVeNCrypt = `
import json, socket, struct, sys
import nova.conf
from nova.console.rfb import authvencrypt
CONF = nova.conf.CONF
CONF([], project='nova', default_config_files=[])
for name, value in zip(('vencrypt_ca_certs', 'vencrypt_client_cert', 'vencrypt_client_key'), sys.argv[1:4]):
    if value:
        CONF.set_override(name, value, group='vnc')
res = {'ok': False, 'error': ''}
try:
    s = socket.socket(fileno=3)
    s.settimeout(20)
    version = s.recv(12)
    s.sendall(version)
    n = s.recv(1)[0]
    types = s.recv(n)
    assert 19 in types, types
    s.sendall(bytes((19,)))
    s = authvencrypt.RFBAuthSchemeVeNCrypt().security_handshake(s)
    result = s.recv(4)
    if len(result) != 4:
        raise EOFError('connection closed before SecurityResult')
    res['ok'] = struct.unpack('!I', result)[0] == 0
except Exception as e:
    res['error'] = '%s: %s' % (type(e).__name__, e)
print(json.dumps(res))
`

// TestNovaVeNCryptQEMU pins what docs/NOVA.md says of Nova's own VeNCrypt
// client, against the same QEMU: it verifies the console's certificate
// chain and is given no server name to check (the socket here has none);
// without vencrypt_ca_certs it fails every console; with a client
// certificate but no key it sends none, and QEMU hangs up.
func TestNovaVeNCryptQEMU(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, with python3-nova
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s: %v: this test runs Nova's code; install Debian's python3-nova (.ci/deps.sh does)", python, err)
	}
	ca := testutil.NewTestCA(t, "vncrelay test CA")
	dir := t.TempDir()
	script := filepath.Join(dir, "novavencrypt.py")
	if err := os.WriteFile(script, []byte(novaVeNCrypt), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := ca.WriteCA(t, dir, "ca.pem")
	certFile, keyFile := ca.Client(t, "nova-novncproxy").Write(t, dir, "client")
	tests := []struct {
		name          string
		ca, cert, key string
		ok            bool
		errorHas      string
	}{
		{"CA, certificate and key: the chain checked, no name given", caFile, certFile, keyFile, true, ""},
		{"no vencrypt_ca_certs", "", certFile, keyFile, false, "CERTIFICATE_VERIFY_FAILED"},
		{"certificate without key: none sent, QEMU hangs up", caFile, certFile, "", false, "closed before SecurityResult"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			console := startQEMUX509(t, ca)
			f, err := console.(*net.UnixConn).File()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*peerTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, script, tt.ca, tt.cert, tt.key)
			cmd.ExtraFiles = []*os.File{f}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			var res struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil || jerr != nil {
				t.Fatalf("Nova's VeNCrypt: %v %v: %s %s", err, jerr, out, stderr.String())
			}
			if res.OK != tt.ok || !strings.Contains(res.Error, tt.errorHas) {
				t.Fatalf("Nova: ok %v, error %q; want ok %v, error with %q", res.OK, res.Error, tt.ok, tt.errorHas)
			}
			t.Logf("Nova: ok %v %s", res.OK, res.Error)
		})
	}
}
