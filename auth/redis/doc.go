// Package redis is websockify's TokenRedis token plugin: tokens are keys in
// a Redis database and their values name the console.
//
// The source (--token-source) is websockify's: ParseSource reads
// "host[:port[:db[:password[:namespace]]]]" with 0.13's quoting (a field in
// double quotes may hold ':'), which covers 0.10's "host:port". A value is
// JSON {"host": "host:port"} or plain "host:port", as 0.12 and later read
// it (0.10 reads only the JSON form). See docs/STORES.md for the differences.
//
// A Store holds one go-redis client with a bounded pool for the life of the
// process, and every command runs under the caller's deadline. A missing key
// is auth.ErrUnknownToken (403); Redis unreachable, slow, refusing the
// password, or a value that names no console is another error (the engine's
// 503). Put an auth.Cache in front of a Store: it does not cache.
//
// Beyond websockify: a source "redis-sentinel://..." (see ParseSource) finds
// the master through Redis Sentinel and follows its failovers, with
// go-redis's universal client; a source "redis-cluster://..." reads the
// slot map of a Redis Cluster from its seed nodes and sends each lookup to
// the master of the key's slot (the universal client in cluster mode).
package redis
