package rfb

import "strconv"

// VersionLen is the size of a ProtocolVersion message (RFC 6143 section 7.1.1).
const VersionLen = 12

// ProtocolVersion38 is the ProtocolVersion message for RFB 3.8, the only
// version the relay speaks on either side (RFC 6143 section 7.1.1).
const ProtocolVersion38 = "RFB 003.008\n"

// Version is an RFB protocol version as a ProtocolVersion message carries it:
// "RFB xxx.yyy\n" with a zero-padded three-digit major and minor number (RFC
// 6143 section 7.1.1). The zero value is no version.
type Version struct {
	Major, Minor uint16 // 0-999 each
}

// Protocol versions with a handshake of their own (RFC 6143 section 7.1.1 and
// appendix A). Servers and clients report others too: Apple's 3.889, RealVNC's
// 4.x and 5.x, 3.5 from old clients (which the RFC says to take as 3.3).
var (
	Version33 = Version{3, 3}
	Version37 = Version{3, 7}
	Version38 = Version{3, 8}
)

// ParseVersion parses a ProtocolVersion message. It is strict: b must be
// exactly VersionLen bytes of the form "RFB xxx.yyy\n" with decimal digits;
// ok is false otherwise. (Nova converts the two numbers with Python's int()
// and compares them as a float, so it also takes "RFB 003.080\n" for 3.8 and
// fails with an uncaught exception on non-digits; vncrelay refuses both.)
func ParseVersion(b []byte) (v Version, ok bool) {
	if len(b) != VersionLen || string(b[:4]) != "RFB " || b[7] != '.' || b[11] != '\n' {
		return Version{}, false
	}
	major, ok1 := digits3(b[4:7])
	minor, ok2 := digits3(b[8:11])
	if !ok1 || !ok2 {
		return Version{}, false
	}
	return Version{major, minor}, true
}

func digits3(b []byte) (uint16, bool) {
	var n uint16
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint16(c-'0')
	}
	return n, true
}

// String returns the version as "major.minor", e.g. "3.8".
func (v Version) String() string {
	return strconv.Itoa(int(v.Major)) + "." + strconv.Itoa(int(v.Minor))
}
