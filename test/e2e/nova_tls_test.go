package e2e

import (
	"crypto/tls"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/vncrelay/vncrelay/internal/novatest"
)

// TestNovaTLS: nova-novncproxy with Nova's TLS options in nova.conf
// ([DEFAULT] ssl_only, cert, key; [console] ssl_minimum_version) serves
// wss: a console opens over TLS to QEMU through Nova's token table, with an
// https page Origin matching the token's https access_url_base; a plain
// request is refused (ssl_only); TLS 1.2 is refused when the minimum is 1.3.
func TestNovaTLS(t *testing.T) {
	need(t, "python3")
	e := startNovaEnv(t)
	ts := newTLSSetup(t)
	certPath, keyPath := ts.leaf.Write(t, ts.dir, "nova")
	port := freePort(t)
	conf := e.novaConf(t, port, "\n[DEFAULT]\nssl_only = true\ncert = "+certPath+"\nkey = "+keyPath+
		"\n\n[console]\nssl_minimum_version = tlsv1_3\n")
	var made []string
	base := "https://127.0.0.1:" + strconv.Itoa(port) + "/vnc_lite.html"
	tok := e.token(t, novatest.TokenSpec{AccessURLBase: base}, nil)
	made = append(made, tok)
	addr := startNovaProxy(t, "nova-novncproxy", func() []string { return made }, "--config-file", conf)

	t.Run("wss console through Nova's token", func(t *testing.T) {
		w := dialWSSPath(t, addr, ts.ca.Pool, "/?token="+tok, "Origin: https://127.0.0.1:"+strconv.Itoa(port)+"\r\n")
		_ = w // the RFB handshake through the security proxy to QEMU's ServerInit is done
	})
	t.Run("plain request refused (ssl_only)", func(t *testing.T) {
		if s := rawUpgrade(t, addr, "/?token="+tok); s != 400 {
			t.Fatalf("plain upgrade on an ssl_only proxy: status %d", s)
		}
	})
	t.Run("TLS 1.2 refused by ssl_minimum_version", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ts.ca.Pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
		if err == nil {
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
			_ = c.Close()
			t.Fatalf("TLS 1.2 handshake accepted (%v)", err)
		}
		if !strings.Contains(err.Error(), "protocol version") {
			t.Fatalf("TLS 1.2: %v", err)
		}
	})
}
