// Package novatest runs the real OpenStack pieces that vncrelay's Nova
// support talks to, for tests in nova/, cmd/ and test/e2e: a private MariaDB
// server with Nova's schema created by Nova's own nova-manage, console tokens
// and instances created by Nova's own Python code, a private RabbitMQ node,
// and a nova-compute stand-in answering validate_console_port over
// oslo.messaging.
//
// Everything runs as child processes of the test binary from Debian's
// packages (mariadb-server, python3-nova, nova-common, rabbitmq-server,
// python3-oslo.messaging), on 127.0.0.1 ports chosen free at start, with
// their files in temp directories; each has a Stop or Close that the test
// (or TestMain) must call, and StartXxx(t) forms register it with
// t.Cleanup. Nothing is mocked and nothing touches the machine's own
// services or /etc.
//
// A missing package fails the test, since CI installs them
// (.ci/deps.sh); VNCRELAY_E2E_OPTIONAL=1 skips instead.
//
// Python helpers run under /usr/bin/python3, Debian's interpreter, which
// sees the python3-nova modules (the python3 on PATH may be another). They
// are embedded in the test binary and written to a temp directory, so a
// test in any package can use them.
//
// The database side:
//
//	db := novatest.StartMariaDB(t)           // ~2 s
//	n := novatest.Shared(t)                  // MariaDB + Nova schema, once per test binary (~15 s)
//	tok := n.CreateToken(t, novatest.TokenSpec{ConsoleType: "novnc", Port: 5901})
//	db.Stop(); db.Start()                    // an outage
//
// Tokens are secrets even in tests: helpers never print them.
package novatest
