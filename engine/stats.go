package engine

import "sync/atomic"

// Stats are the server's counters. They are read with Server.Stats; fields are
// updated atomically so a reader on another goroutine sees consistent values.
type Stats struct {
	Accepted     uint64 // browser connections accepted
	Consoles     int64  // consoles relaying now
	Connections  int64  // browser connections open now (all states)
	Pending      int64  // connections in handshake or connecting
	Opened       uint64 // consoles that reached relaying
	Refused      uint64 // requests refused with an HTTP status
	BusyRefused  uint64 // connections refused 503 at accept (limits)
	Dials        uint64 // console dials started
	DialFailures uint64 // console dials that failed
	AcceptErrors uint64 // accept errors (such as EMFILE) backed off from
	BytesIn      uint64 // payload bytes browser → console, of consoles that have closed
	BytesOut     uint64 // payload bytes console → browser, of consoles that have closed
	TLS          TLSStats
	RevokeChecks uint64 // tokens asked of the store by the revocation check (Config.RevokeCheck)
	RevokeErrors uint64 // of those, lookups the store did not answer (consoles kept)
	Closed       [reasonCount]uint64
	// Refusals counts Refused by HTTP status: Refusals[i] is for
	// RefusalStatuses[i].
	Refusals [refusalSlots]uint64
	// PausesConsole counts the times a console's reads were paused because
	// its browser was slow; PausesBrowser the times a browser's reads were
	// paused because its console was slow (backpressure, Config.HighWater).
	PausesConsole, PausesBrowser uint64
	// LookupErrors counts token lookups that failed for another reason than
	// an unknown token (store down, timeout): answered 503.
	LookupErrors uint64
}

// counters is the live form of Stats.
type counters struct {
	accepted, opened, refused, busyRefused atomic.Uint64
	dials, dialFailures, acceptErrors      atomic.Uint64
	bytesIn, bytesOut                      atomic.Uint64
	tlsHandshakes, tlsFailures             atomic.Uint64
	tlsRecordLayer                         atomic.Uint64 // tlstakeover.go
	revokeChecks, revokeErrors             atomic.Uint64
	consoles, connections, pending         atomic.Int64
	closed                                 [reasonCount]atomic.Uint64
	refusals                               [refusalSlots]atomic.Uint64
	pausesConsole, pausesBrowser           atomic.Uint64
	lookupErrors                           atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Accepted: c.accepted.Load(), Consoles: c.consoles.Load(), Connections: c.connections.Load(),
		Pending: c.pending.Load(), Opened: c.opened.Load(), Refused: c.refused.Load(),
		BusyRefused: c.busyRefused.Load(), Dials: c.dials.Load(), DialFailures: c.dialFailures.Load(),
		AcceptErrors: c.acceptErrors.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		RevokeChecks: c.revokeChecks.Load(), RevokeErrors: c.revokeErrors.Load(),
		TLS: TLSStats{Handshakes: c.tlsHandshakes.Load(), HandshakeFailures: c.tlsFailures.Load(),
			RecordLayer: c.tlsRecordLayer.Load()},
	}
	for i := range s.Closed {
		s.Closed[i] = c.closed[i].Load()
	}
	for i := range s.Refusals {
		s.Refusals[i] = c.refusals[i].Load()
	}
	s.PausesConsole, s.PausesBrowser = c.pausesConsole.Load(), c.pausesBrowser.Load()
	s.LookupErrors = c.lookupErrors.Load()
	return s
}
