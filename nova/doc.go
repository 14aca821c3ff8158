// Package nova lets vncrelay stand in for OpenStack Nova's console proxies
// (nova-novncproxy, nova-serialproxy, nova-spicehtml5proxy) with the same
// nova.conf, command lines, token table and URLs.
//
// Its parts, each following Nova 26 (Debian bookworm's 26.2.2) and newer
// Nova where noted:
//
//   - Load reads nova.conf and the command line as oslo.config does for the
//     proxy (several --config-file, --config-dir, [DEFAULT] options, oslo's
//     booleans and lists, deprecated spellings, $substitution) into Config,
//     and refuses options vncrelay reads but does not implement yet.
//   - ParseDatabaseURL turns [database] connection, an SQLAlchemy URL, into a
//     go-sql-driver/mysql configuration.
//   - TokenStore is an auth.Resolver over Nova's console_auth_tokens table:
//     the lookup Nova's ConsoleAuthToken.validate and the proxy's instance
//     check make, on a small bounded pool, each query under a deadline. A
//     PortChecker (ComputeAPI, Nova's validate_console_port over
//     oslo.messaging) may confirm the port with the compute node.
//   - ParseTransportURL and ComputeAPI speak to the compute nodes over
//     RabbitMQ as oslo.messaging does.
//   - Config.ConsoleSecurity turns [vnc] auth_schemes into the RFB security
//     proxy's mode and, with vencrypt, VeNCryptTLS builds the TLS client
//     configuration towards the compute hosts from the vencrypt_* options.
//
// The package imports auth and nothing of the engine; cmd wires a Config into
// the engine's configuration. It does not write to Nova's database, serve
// HTTP or relay bytes.
//
// Tests run against a private MariaDB with Nova's schema created by Nova's
// own nova-manage, tokens made by Nova's own code (internal/novatest), and
// compare Load with Nova's oslo.config parsing (testdata/oslo_dump.py).
package nova
