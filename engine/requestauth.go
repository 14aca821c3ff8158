package engine

import (
	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/wsframe"
)

// authenticate runs Config.RequestAuth (websockify's --auth-plugin) on a
// request, on the loop: the plugins only compare bytes. nil means the request
// may go on, or no plugin is configured.
func (s *session) authenticate(req *wsframe.Request) error {
	a := s.op.pol.requestAuth
	if a == nil {
		return nil
	}
	return a.Authenticate(req, s.peer())
}

// peer is what the request auth plugins know of the client besides its
// request: the common name of its verified TLS client certificate.
func (s *session) peer() auth.Peer {
	var p auth.Peer
	if w := s.btls(); w != nil {
		p.ClientCertCN = w.peerCN()
	}
	return p
}
