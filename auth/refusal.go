package auth

import "errors"

// RefusedError is ErrUnknownToken with a reason an operator may read: a
// resolver returns it (possibly wrapped) instead of a bare ErrUnknownToken
// when it knows why it refused the token, and the engine logs the reason
// beside the token's mask. The browser still gets the same 403 as for any
// unknown token. errors.Is(err, ErrUnknownToken) holds for it.
type RefusedError struct {
	// Reason is a fixed phrase chosen by the resolver, such as "expired"
	// or "signature invalid". It never holds token bytes, a claim's value
	// or anything else taken from the request: it is logged as it is.
	Reason string
}

// Error returns "unknown token: " and the reason.
func (e *RefusedError) Error() string { return ErrUnknownToken.Error() + ": " + e.Reason }

// Unwrap returns ErrUnknownToken.
func (e *RefusedError) Unwrap() error { return ErrUnknownToken }

// RefusalReason returns the Reason of the first *RefusedError in err's
// chain, or "" when there is none (a bare ErrUnknownToken, or another
// error). It is safe to log.
func RefusalReason(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}
