package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vncrelay/vncrelay/bench/rfb"
)

// Consoles is a set of fake RFB servers on loopback ports.
type Consoles struct {
	Servers []*rfb.Server
}

// StartConsoles starts n RFB servers in mode; updateBytes sets the size of
// each stream-mode update.
func StartConsoles(n int, mode rfb.Mode, updateBytes int) (*Consoles, error) {
	c := &Consoles{}
	for range max(1, n) {
		s := &rfb.Server{Mode: mode, UpdateBytes: updateBytes}
		if err := s.Listen("127.0.0.1:0"); err != nil {
			c.Close()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	return c, nil
}

// Addr returns the address of console i (modulo the count).
func (c *Consoles) Addr(i int) string { return c.Servers[i%len(c.Servers)].Addr() }

// Token is the token the harness uses for console session i.
func Token(i int) string { return fmt.Sprintf("bench-%d", i) }

// WriteTokenFile writes a websockify token file mapping Token(0..n-1) to the
// consoles in turn, in dir, and returns its path.
func (c *Consoles) WriteTokenFile(dir string, n int) (string, error) {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s: %s\n", Token(i), c.Addr(i))
	}
	path := filepath.Join(dir, "tokens.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write token file: %w", err)
	}
	return path, nil
}

// Close stops every console.
func (c *Consoles) Close() {
	for _, s := range c.Servers {
		_ = s.Close()
	}
}
