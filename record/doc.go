// Package record writes consoles' traffic to files in websockify's --record
// format, which noVNC's playback page (tests/playback-ui.html) replays.
//
// One file per console, named PREFIX.N with N counting consoles from 1. The
// file is a JavaScript array literal:
//
//	var VNC_frame_data = [
//	'{12{RFB 003.008\n',     console → browser, 12 ms after the console opened
//	'}15}RFB 003.008\n',     browser → console
//	'EOF'];
//
// Each entry's data is the payload bytes as a JavaScript string in which a
// character's code is the byte's value: bytes outside printable ASCII are
// written as \xHH (and \t, \n, \r, \\, \' as those escapes), as websockify
// writes them (Python's unicode_escape of the bytes read as ISO-8859-1).
//
// The engine hands payloads over on its event loop; they are copied into a
// bounded queue and written by one goroutine, so a slow disk never stalls a
// console. When the queue is full, payloads are dropped and counted, and the
// file says so with a comment line where the gap is. What it does not do:
// encrypt, rotate or upload recordings; they hold everything the console
// showed and the user typed (passwords included), so the directory must be
// private.
package record
