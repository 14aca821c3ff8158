package rfb

// outCap bounds what a machine queues between two AppendOutput calls. The
// browser side sends the most: its ProtocolVersion, the security types and a
// failed SecurityResult with its reason, should a client pipeline all its
// answers into one Feed.
const outCap = 96

// Compile-time checks that the largest queued sequences fit outCap.
const (
	_ = uint(outCap - (VersionLen + 2 + 4 + 4 + len(choiceRefusal)))
	_ = uint(outCap - (VersionLen + 4 + 4 + len(versionRefusal)))
)

// outBuf holds bytes a machine must send until the caller takes them. A
// handshake sends a bounded number of bytes, so a fixed array suffices and
// queuing never allocates.
type outBuf struct {
	b [outCap]byte
	n uint8
}

func (o *outBuf) add(s string) { o.n += uint8(copy(o.b[o.n:], s)) }

func (o *outBuf) addByte(c byte) { o.b[o.n] = c; o.n++ }

func (o *outBuf) addU32(v uint32) {
	o.b[o.n], o.b[o.n+1], o.b[o.n+2], o.b[o.n+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	o.n += 4
}

// addReason queues an RFB string: a U32 length and the bytes (RFC 6143
// sections 7.1.2 and 7.1.3).
func (o *outBuf) addReason(s string) {
	o.addU32(uint32(len(s)))
	o.add(s)
}

func (o *outBuf) appendTo(dst []byte) []byte {
	dst = append(dst, o.b[:o.n]...)
	o.n = 0
	return dst
}

// acc gathers a fixed-size field (a version line or a U32) that may arrive
// split over several Feed calls.
type acc struct {
	b [VersionLen]byte
	n uint8
}

// fill moves bytes from in until acc holds want bytes. It returns how many it
// took and whether the field is complete; take then returns it.
func (a *acc) fill(in []byte, want int) (int, bool) {
	k := copy(a.b[a.n:want], in)
	a.n += uint8(k)
	return k, int(a.n) == want
}

// take returns the complete field of want bytes and empties acc. The slice
// aliases acc and is valid until the next fill.
func (a *acc) take(want int) []byte {
	a.n = 0
	return a.b[:want]
}

func u32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
