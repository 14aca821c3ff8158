// Package tokenapi is websockify's BaseTokenAPI and JSONTokenApi token
// plugins: a token is looked up with an HTTP GET of the source URL with the
// token in place of its "%s", and the answer names the console
// ("host:port" text, or JSON {"host": ..., "port": ...}).
//
// Unlike websockify, the token is percent-encoded before it goes into the
// URL (every byte but RFC 3986's unreserved characters), so a token cannot
// add path segments, a query or a fragment to the request; "." and ".." are
// never sent. Each lookup runs under the caller's deadline on one shared
// client whose connections to the API are bounded. Answers map to
// auth.ErrUnknownToken (403) or a store error (503) as API.Resolve says;
// put an auth.Cache in front. docs/STORES.md lists every difference.
package tokenapi
