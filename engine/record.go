package engine

// ConsoleRecorder receives a copy of one console's traffic (websockify's
// --record; see Config.Recorder and package record). Its methods run on the
// console's event loop.
type ConsoleRecorder interface {
	// Record is given payload bytes as they are relayed, at now (unix ns):
	// fromBrowser for bytes the browser sent, else the console's. p is valid
	// only during the call.
	Record(now int64, fromBrowser bool, p []byte)
	// Close is called once, when the console ends.
	Close()
}

// startRecording asks Config.Recorder for the console's recorder as it starts
// relaying.
func (s *session) startRecording() {
	if f := s.srv.cfg.Recorder; f != nil {
		if rec := f(s.loop.now); rec != nil {
			s.extra().rec = rec
		}
	}
}

// stopRecording ends the console's recording, once.
func (s *session) stopRecording() {
	if x := s.ext; x != nil && x.rec != nil {
		x.rec.Close()
		x.rec = nil
	}
}
