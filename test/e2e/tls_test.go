package e2e

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/bench/rfb"
	"github.com/vncrelay/vncrelay/internal/testutil"
)

// tlsSetup is a test CA, a relay certificate for 127.0.0.1 written as
// websockify's --cert takes it, and the CA file for clients.
type tlsSetup struct {
	ca     *testutil.TestCA
	leaf   *testutil.IssuedCert
	dir    string
	cert   string // combined PEM: certificate and key
	caFile string
}

func newTLSSetup(t *testing.T) *tlsSetup {
	t.Helper()
	ca := testutil.NewTestCA(t, "vncrelay e2e CA")
	leaf := ca.Server(t, "127.0.0.1", "localhost")
	dir := t.TempDir()
	return &tlsSetup{ca: ca, leaf: leaf, dir: dir,
		cert: leaf.WriteCombined(t, dir, "relay.pem"), caFile: ca.WriteCA(t, dir, "ca.pem")}
}

// runClientEnv is runClient with extra environment variables.
func runClientEnv(t *testing.T, env []string, name string, args ...string) clientResult {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var res clientResult
	if jerr := json.Unmarshal(lastLine(out), &res); jerr != nil || err != nil || !res.OK {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v; output %q; stderr %s", name, err, out, stderr)
	}
	return res
}

// TestTLSNodeAndPython: wss sessions with Node's ws and Python's websockets,
// each trusting the test CA the way its platform does (NODE_EXTRA_CA_CERTS,
// SSL_CERT_FILE), megabytes echoed byte for byte; on the same port plain ws
// still works (first-byte sniffing, as websockify).
func TestTLSNodeAndPython(t *testing.T) {
	node := need(t, "node")
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = need(t, "python3")
	}
	ts := newTLSSetup(t)
	addr := startRelay(t, "--cert", ts.cert, "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	const total = 4 << 20
	wss := "wss://" + addr + "/websockify?token=" + canary
	res := runClientEnv(t, []string{"NODE_EXTRA_CA_CERTS=" + ts.caFile}, node, "ws_client.mjs", wss, fmt.Sprint(total))
	if res.Code != 1000 || res.Bytes != total {
		t.Fatalf("node over wss: %+v", res)
	}
	res = runClientEnv(t, []string{"SSL_CERT_FILE=" + ts.caFile}, py, "ws_client.py", wss, fmt.Sprint(total))
	if res.Code != 1000 || res.Bytes != total {
		t.Fatalf("python over wss: %+v", res)
	}
	res = runClientEnv(t, nil, node, "ws_client.mjs", "ws://"+addr+"/websockify?token="+canary, "65536")
	if res.Code != 1000 {
		t.Fatalf("node over plain ws on the TLS port: %+v", res)
	}
}

// TestTLSOnlyPlainRefused: --ssl-only answers a plain request with a 400
// head saying TLS is required, and closes.
func TestTLSOnlyPlainRefused(t *testing.T) {
	ts := newTLSSetup(t)
	addr := startRelay(t, "--cert", ts.cert, "--ssl-only", "--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, upgradeReq("/websockify?token="+canary, "x"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil || !bytes.HasPrefix(out, []byte("HTTP/1.1 400 ")) || !bytes.Contains(out, []byte("TLS required")) {
		t.Fatalf("plain request to --ssl-only: %q, %v", out, err)
	}
}

// sClient runs `openssl s_client` against addr with args and returns its
// output and whether the handshake succeeded.
func sClient(t *testing.T, openssl, addr, caFile string, args ...string) (string, bool) {
	t.Helper()
	argv := append([]string{"s_client", "-connect", addr, "-servername", "localhost", "-CAfile", caFile, "-verify_return_error"}, args...)
	cmd := exec.Command(openssl, argv...)
	cmd.Stdin = strings.NewReader("Q\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		s := out.String()
		return s, err == nil && strings.Contains(s, "Verify return code: 0 (ok)") && !strings.Contains(s, "Cipher is (NONE)")
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("openssl %v hung:\n%s", args, out.String())
	}
	return "", false
}

// TestTLSOpenSSLProbes: OpenSSL's client finds TLS 1.0 and 1.1 refused and
// TLS 1.2 and 1.3 accepted by default, --ssl-version tlsv1_3 refusing 1.2,
// and --ssl-ciphers keeping TLS 1.2 to the suites named. The probes of old
// versions lower OpenSSL's own security level, so that a refusal is the
// relay's.
func TestTLSOpenSSLProbes(t *testing.T) {
	openssl := need(t, "openssl")
	ts := newTLSSetup(t)
	tokens := tokenFile(t, echoConsole(t))
	relay := func(args ...string) string {
		return startRelay(t, append(args, "--cert", ts.cert, "--token-plugin", "TokenFile", "--token-source", tokens)...)
	}
	def := relay()
	v13 := relay("--ssl-version", "tlsv1_3")
	ciph := relay("--ssl-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")
	for _, tc := range []struct {
		name string
		addr string
		args []string
		ok   bool
		why  string // the relay's alert, as OpenSSL prints it
	}{
		{"TLS 1.0 refused", def, []string{"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, false, "alert protocol version"},
		{"TLS 1.1 refused", def, []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, false, "alert protocol version"},
		{"TLS 1.2 accepted", def, []string{"-tls1_2"}, true, ""},
		{"TLS 1.3 accepted", def, []string{"-tls1_3"}, true, ""},
		{"tlsv1_3 minimum refuses 1.2", v13, []string{"-tls1_2"}, false, "alert protocol version"},
		{"tlsv1_3 minimum takes 1.3", v13, []string{"-tls1_3"}, true, ""},
		{"named suite accepted", ciph, []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, true, ""},
		{"other suite refused", ciph, []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"}, false, "alert handshake failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := sClient(t, openssl, tc.addr, ts.caFile, tc.args...)
			if ok != tc.ok || !strings.Contains(out, tc.why) {
				t.Fatalf("handshake ok=%v, want %v (%s):\n%s", ok, tc.ok, tc.why, out)
			}
		})
	}
}

// TestTLSCertificateRotationSIGHUP: SIGHUP reloads the certificate while a
// console is open; the console keeps relaying, new handshakes see the new
// certificate; a bad certificate is refused on the next SIGHUP, the log
// says why, and the good one stays in force.
func TestTLSCertificateRotationSIGHUP(t *testing.T) {
	ts := newTLSSetup(t)
	addr, proc, logs := startRelayLogged(t, nil, "--cert", ts.cert, "--token-plugin", "TokenFile",
		"--token-source", tokenFile(t, echoConsole(t)))
	live := dialWSS(t, addr, ts.ca.Pool)
	peer := func() *x509.Certificate {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ts.ca.Pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if !peer().Equal(ts.leaf.Cert) {
		t.Fatal("first certificate not served")
	}
	next := ts.ca.Server(t, "127.0.0.1", "localhost")
	next.WriteCombined(t, ts.dir, "relay.pem")
	if err := proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !peer().Equal(next.Cert) {
		if time.Now().After(deadline) {
			t.Fatalf("new certificate not served after SIGHUP:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	live.echo(t, 1<<20)

	if err := os.WriteFile(ts.cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = proc.cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(logs.String(), "TLS reload refused") {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("no log line for the refused certificate:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !peer().Equal(next.Cert) {
		t.Fatal("a bad certificate replaced the good one")
	}
	live.echo(t, 1<<20)
}

// wssConsole is a raw wss console session: RFB handshake done, then echo.
type wssConsole struct {
	c   *tls.Conn
	buf []byte // bytes read, not yet decoded
	pl  []byte // payload decoded, not yet used
}

// dialWSS opens a console over wss with a Go client and runs the RFB
// handshake.
func dialWSS(t *testing.T, addr string, roots *x509.CertPool) *wssConsole {
	t.Helper()
	return dialWSSPath(t, addr, roots, "/websockify?token="+canary, "")
}

// dialWSSPath is dialWSS with the request's path and extra header lines
// (each ending in CRLF).
func dialWSSPath(t *testing.T, addr string, roots *x509.CertPool, path, extra string) *wssConsole {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+extra+"\r\n")
	w := &wssConsole{c: c}
	head := w.readUntil(t, []byte("\r\n\r\n"))
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		t.Fatalf("upgrade over wss: %q", head)
	}
	if v := w.payload(t, 12); string(v) != rfb.Version {
		t.Fatalf("version %q", v)
	}
	w.send(t, []byte(rfb.Version))
	n := w.payload(t, 1)[0]
	w.payload(t, int(n))
	w.send(t, []byte{1})
	w.payload(t, 4)
	w.send(t, []byte{1})
	init := w.payload(t, 24)
	w.payload(t, int(init[20])<<24|int(init[21])<<16|int(init[22])<<8|int(init[23]))
	return w
}

func (w *wssConsole) readUntil(t *testing.T, sep []byte) []byte {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [4096]byte
	for !bytes.Contains(w.buf, sep) {
		n, err := w.c.Read(b[:])
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		w.buf = append(w.buf, b[:n]...)
	}
	i := bytes.Index(w.buf, sep) + len(sep)
	out := append([]byte(nil), w.buf[:i]...)
	w.buf = w.buf[i:]
	return out
}

// payload reads n bytes of binary frame payload.
func (w *wssConsole) payload(t *testing.T, n int) []byte {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [64 << 10]byte
	fill := func(k int) {
		for len(w.buf) < k {
			m, err := w.c.Read(b[:])
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			w.buf = append(w.buf, b[:m]...)
		}
	}
	for len(w.pl) < n {
		fill(2)
		hl, ln := 2, int(w.buf[1]&0x7f)
		switch ln {
		case 126:
			fill(4)
			hl, ln = 4, int(w.buf[2])<<8|int(w.buf[3])
		case 127:
			fill(10)
			hl, ln = 10, 0
			for _, x := range w.buf[2:10] {
				ln = ln<<8 | int(x)
			}
		}
		fill(hl + ln)
		if w.buf[0]&0x0f == 2 {
			w.pl = append(w.pl, w.buf[hl:hl+ln]...)
		}
		w.buf = w.buf[hl+ln:]
	}
	out := append([]byte(nil), w.pl[:n]...)
	w.pl = w.pl[n:]
	return out
}

// send writes p as one masked binary frame (zero mask: the bytes are as is).
func (w *wssConsole) send(t *testing.T, p []byte) {
	t.Helper()
	h := []byte{0x82}
	switch {
	case len(p) < 126:
		h = append(h, 0x80|byte(len(p)))
	case len(p) < 1<<16:
		h = append(h, 0x80|126, byte(len(p)>>8), byte(len(p)))
	default:
		h = append(h, 0x80|127, 0, 0, 0, 0, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
	}
	h = append(h, 0, 0, 0, 0)
	if _, err := w.c.Write(append(h, p...)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// echo sends n bytes in 32 KiB frames and checks they come back.
func (w *wssConsole) echo(t *testing.T, n int) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*13 + i>>11)
	}
	go func() {
		for off := 0; off < n; off += 32 << 10 {
			_, _ = w.c.Write(append([]byte{0x82, 0x80 | 126, 0x80, 0x00, 0, 0, 0, 0}, data[off:off+32<<10]...))
		}
	}()
	if got := w.payload(t, n); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("echo over wss differs")
	}
}

// spkiHash is Chromium's --ignore-certificate-errors-spki-list form of a
// certificate: base64 of the SHA-256 of its SubjectPublicKeyInfo.
func spkiHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestTLSNoVNCChromium: noVNC (Debian's novnc) in headless Chromium, page
// and WebSocket both over TLS from the relay (https, then wss), reaches
// Connected and draws the console's picture. Chromium trusts the relay's
// certificate by its key's hash.
func TestTLSNoVNCChromium(t *testing.T) {
	browserBin := need(t, "chromium")
	node := need(t, "node")
	needNoVNC(t)
	console := &rfb.Server{Mode: rfb.ModeDraw, Width: 320, Height: 200, Name: "tls-e2e"}
	if err := console.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = console.Close() })
	ts := newTLSSetup(t)
	addr := startRelay(t, "--cert", ts.cert, "--ssl-only", "--web", "/usr/share/novnc", "--token-plugin", "TokenFile",
		"--token-source", tokenFile(t, console.Addr()))
	cdpPort, blog := startChromium(t, browserBin, "--ignore-certificate-errors-spki-list="+spkiHash(ts.leaf.Cert))
	page := fmt.Sprintf("https://%s/vnc_lite.html?path=%s", addr, "websockify%3Ftoken%3D"+canary)
	res := runNoVNC(t, node, cdpPort, blog, page, canary, "10,10")
	if !strings.HasPrefix(res.Status, "Connected") || res.Width != 320 {
		t.Fatalf("status %q, canvas width %d", res.Status, res.Width)
	}
}

// tlsConsoleFront serves an echo console behind TLS with cert (a console
// reached with --ssl-target) and returns its address.
func tlsConsoleFront(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	console := echoConsole(t)
	return testutil.TLSFront(t, cert, func() string { return console })
}

// TestTLSSSLTarget: with --ssl-target and --target-cafile the binary speaks
// TLS to the console, wss on the browser's side, megabytes echoed through
// both; a console whose certificate another CA issued is answered 502.
func TestTLSSSLTarget(t *testing.T) {
	ts := newTLSSetup(t)
	consoleCA := testutil.NewTestCA(t, "console CA")
	good := tlsConsoleFront(t, consoleCA.Server(t, "127.0.0.1").TLS)
	bad := tlsConsoleFront(t, testutil.NewTestCA(t, "rogue CA").Server(t, "127.0.0.1").TLS)
	caFile := consoleCA.WriteCA(t, t.TempDir(), "console-ca.pem")
	addr := startRelay(t, "--cert", ts.cert, "--ssl-target", "--target-cafile", caFile,
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, good))
	dialWSS(t, addr, ts.ca.Pool).echo(t, 2<<20)

	addr = startRelay(t, "--cert", ts.cert, "--ssl-target", "--target-cafile", caFile,
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, bad))
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ts.ca.Pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, upgradeReq("/websockify?token="+canary, "x"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	head, _ := io.ReadAll(c)
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 502 ")) || !bytes.Contains(head, []byte("console TLS handshake failed")) {
		t.Fatalf("console with a rogue certificate: %q", head)
	}
}

// TestTLSFloodLowDescriptors: a flood of TLS connections that send the start
// of a ClientHello and then nothing, against a relay whose descriptor limit
// is below the flood's size (accept backs off when it runs out): the silent
// handshakes are cut at the TLS handshake deadline, a wss console open before the flood keeps relaying
// during it, and new consoles open once it has passed.
func TestTLSFloodLowDescriptors(t *testing.T) {
	prlimit := need(t, "prlimit")
	ts := newTLSSetup(t)
	addr, _, logs := startRelayLogged(t, []string{prlimit, "--nofile=96:96", "--"}, "--cert", ts.cert,
		"--max-connections", "500", "--tls-handshake-timeout", "2s",
		"--token-plugin", "TokenFile", "--token-source", tokenFile(t, echoConsole(t)))
	live := dialWSS(t, addr, ts.ca.Pool)
	var flood []net.Conn
	for range 200 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // the accept queue is full too
		}
		_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00})
		flood = append(flood, c)
	}
	defer func() {
		for _, c := range flood {
			_ = c.Close()
		}
	}()
	live.echo(t, 256<<10)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "TLS handshake failed") {
		if time.Now().After(deadline) {
			t.Fatalf("silent handshakes not cut:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range flood {
		_ = c.Close()
	}
	flood = nil
	var w *wssConsole
	for w == nil && time.Now().Before(deadline.Add(20*time.Second)) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ts.ca.Pool, ServerName: "localhost"})
		if err != nil {
			time.Sleep(200 * time.Millisecond) // the queue still drains
			continue
		}
		_ = c.Close()
		w = dialWSS(t, addr, ts.ca.Pool)
	}
	if w == nil {
		t.Fatalf("no TLS console after the flood:\n%s", logs.String())
	}
	w.echo(t, 256<<10)
	live.echo(t, 256<<10)
}
