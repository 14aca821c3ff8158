package wsframe

import "github.com/gobwas/ws"

// Unmask XORs p in place with mask, starting at byte offset of the payload,
// and returns the offset after p. Streaming a payload in pieces keeps the
// mask aligned by passing the returned offset to the next call.
// It uses gobwas' word-at-a-time cipher (assembly on amd64/arm64).
func Unmask(p []byte, mask [4]byte, offset int) int {
	ws.Cipher(p, mask, offset)
	return offset + len(p)
}
