package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// LighttpdConfig returns a lighttpd configuration (lighttpd 1.4.46 or newer)
// that relays WebSocket on listen ("127.0.0.1:PORT") to the TCP console at
// target ("host:port") with mod_wstunnel, the peer the bench measures as the
// fastest WebSocket-to-TCP tunnel written in C. Every URL goes to target:
// mod_wstunnel has one fixed backend per URL prefix, like websockify-js, so
// the token in the query is ignored.
//
// The configuration is lighttpd's fastest fair one for this job: one process
// (lighttpd is single-threaded by design; server.max-worker forks copies that
// share nothing, which is not how it is deployed as a tunnel), binary frames
// (wstunnel.frame-type "binary": no base64, as the bench clients ask for the
// "binary" subprotocol anyway), no keep-alive pings (wstunnel.ping-interval
// 0, as vncrelay runs without --heartbeat in the bench), idle limits raised
// so the idle scenario measures memory instead of lighttpd's 60 s
// server.max-read-idle, descriptors and connections raised to the machine's
// limit, no access log, and error logging to the bench's log file.
func LighttpdConfig(listen, target, docRoot string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("lighttpd listen address %q: %w", listen, err)
	}
	thost, tport, err := net.SplitHostPort(target)
	if err != nil {
		return "", fmt.Errorf("lighttpd target %q: %w", target, err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("lighttpd listen port %q: %w", port, err)
	}
	if _, err := strconv.Atoi(tport); err != nil {
		return "", fmt.Errorf("lighttpd target port %q: %w", tport, err)
	}
	return fmt.Sprintf(`server.document-root = %q
server.bind = %q
server.port = %s
server.modules = ( "mod_wstunnel" )
server.max-fds = 20000
server.max-connections = 9990
server.max-read-idle = 86400
server.max-write-idle = 86400
wstunnel.server = ( "" => ( ( "host" => %q, "port" => %s ) ) )
wstunnel.frame-type = "binary"
wstunnel.ping-interval = 0
`, docRoot, host, port, thost, tport), nil
}

// ExecLighttpd writes LighttpdConfig(listen, target) into dir and replaces
// the calling process with `lighttpd -D -f CONF`, so that the process the
// harness started and measures is lighttpd itself. It returns only on error
// (lighttpd not installed, config not written, exec refused).
func ExecLighttpd(dir, listen, target string) error {
	bin, err := exec.LookPath("lighttpd")
	if err != nil {
		bin = "/usr/sbin/lighttpd" // Debian installs it outside a user's PATH
		if _, serr := os.Stat(bin); serr != nil {
			return fmt.Errorf("lighttpd peer: %w (apt-get install lighttpd)", err)
		}
	}
	conf, err := LighttpdConfig(listen, target, dir)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "lighttpd-"+filepath.Base(listen)+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("lighttpd peer: write config: %w", err)
	}
	if err := syscall.Exec(bin, []string{"lighttpd", "-D", "-f", path}, os.Environ()); err != nil {
		return fmt.Errorf("lighttpd peer: exec %s: %w", bin, err)
	}
	return nil
}
