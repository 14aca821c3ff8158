package redis

import (
	"path/filepath"
	"testing"

	"github.com/vncrelay/vncrelay/internal/testutil"
)

// runWebsockifyPlugin resolves tokens with websockify's own plugin class
// (testutil.RunWebsockifyPlugin over auth's anchor script).
func runWebsockifyPlugin(t *testing.T, module, plugin, source string, tokens []string) (version, initErr string, res []testutil.WebsockifyResult) {
	t.Helper()
	return testutil.RunWebsockifyPlugin(t, filepath.Join("..", "testdata", "anchors", "websockify_plugins.py"), module, plugin, source, tokens)
}

// newerWebsockify is testutil.NewerWebsockify.
func newerWebsockify() string { return testutil.NewerWebsockify() }
