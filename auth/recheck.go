package auth

import "context"

// Rechecker is a Resolver that keeps answers (a Cache) and can also ask its
// store directly. The engine's revocation check (engine.Config.RevokeCheck)
// uses it so that a token deleted from the store is seen at the next check,
// not only once the kept answer has expired.
type Rechecker interface {
	Resolver
	// Recheck resolves token from the store itself, never from a kept
	// answer, and keeps the store's answer as Resolve would (so that new
	// lookups see a revocation at once). Errors are those of Resolve.
	Recheck(ctx context.Context, token string) (Target, error)
}

// Recheck resolves token from r's store: r.Recheck when r is a Rechecker,
// else r.Resolve (resolvers without a cache ask their store on every lookup).
func Recheck(ctx context.Context, r Resolver, token string) (Target, error) {
	if rc, ok := r.(Rechecker); ok {
		return rc.Recheck(ctx, token)
	}
	return r.Resolve(ctx, token)
}

// SameConsole reports whether a and b send a console to the same place:
// the same network, address and CONNECT tunnel path. Expiry, scheme and the
// other fields do not change where the bytes go.
func SameConsole(a, b Target) bool {
	return a.Network == b.Network && a.Address == b.Address && a.TunnelPath == b.TunnelPath
}
