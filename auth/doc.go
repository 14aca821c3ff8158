// Package auth decides where a console request goes: it extracts the token
// from a parsed upgrade request (query, cookie or Host header) and resolves it
// to a Target through a Resolver.
//
// Resolvers may block (they read files, and later stores query Redis or SQL),
// so the engine calls them off its event loops, on a bounded worker pool with a
// deadline carried by the context.
//
// Tokens are secrets: nothing in this package puts one in an error message, and
// Mask gives the form that logs use. Stores that bring their own dependency
// (Redis, SQL, JWT) live in subpackages so that the core binary does not pull
// them in unless it uses them.
package auth
