package engine

import "github.com/vncrelay/vncrelay/auth"

// logRefusalReason logs why the resolver refused the token, when its error
// says (auth.RefusalReason: a fixed phrase such as "expired", never token
// bytes), at Info beside the token's mask; the "request refused" line that
// follows gives the status. A bare unknown token logs nothing here.
func (s *session) logRefusalReason(err error) {
	if why := auth.RefusalReason(err); why != "" {
		s.srv.log.Info("token refused", "client", s.logClient(), "token_mask", s.tokenMask, "reason", why)
	}
}
