package rfb

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
)

// VeNCryptSubtype is a VeNCrypt sub-type, a big-endian U32 on the wire
// (rfbproto, "VeNCrypt" under security types; numbers from the VeNCrypt
// 0.2 extension as QEMU, GTK-VNC and TigerVNC implement it).
type VeNCryptSubtype uint32

// VeNCrypt sub-types. The relay chooses only X509None: TLS with
// certificates checks that the console is the one the CA vouches for,
// and no second authentication runs inside it. The anonymous TLS*
// sub-types use anonymous Diffie-Hellman, which anyone on the path can
// intercept, and Plain sends a password in the clear; Nova refuses them
// all, and so does the relay.
const (
	VeNCryptPlain     VeNCryptSubtype = 256 // user name and password, no TLS
	VeNCryptTLSNone   VeNCryptSubtype = 257 // anonymous TLS, no authentication
	VeNCryptTLSVNC    VeNCryptSubtype = 258 // anonymous TLS, VNC authentication
	VeNCryptTLSPlain  VeNCryptSubtype = 259 // anonymous TLS, user name and password
	VeNCryptX509None  VeNCryptSubtype = 260 // TLS with certificates, no further authentication
	VeNCryptX509VNC   VeNCryptSubtype = 261 // TLS with certificates, VNC authentication
	VeNCryptX509Plain VeNCryptSubtype = 262 // TLS with certificates, user name and password
	VeNCryptX509SASL  VeNCryptSubtype = 263 // TLS with certificates, SASL
	VeNCryptTLSSASL   VeNCryptSubtype = 264 // anonymous TLS, SASL
)

// VeNCrypt version bytes: the relay speaks 0.2, which lists sub-types as
// U32 values (0.1 used U8 codes and is obsolete).
const (
	veNCryptMajor = 0
	veNCryptMinor = 2
)

// String returns the sub-type's number and name, e.g. "260 (X509None)".
func (s VeNCryptSubtype) String() string {
	return strconv.FormatUint(uint64(s), 10) + " (" + s.name() + ")"
}

func (s VeNCryptSubtype) name() string {
	switch s {
	case VeNCryptPlain:
		return "Plain"
	case VeNCryptTLSNone:
		return "TLSNone"
	case VeNCryptTLSVNC:
		return "TLSVNC"
	case VeNCryptTLSPlain:
		return "TLSPlain"
	case VeNCryptX509None:
		return "X509None"
	case VeNCryptX509VNC:
		return "X509VNC"
	case VeNCryptX509Plain:
		return "X509Plain"
	case VeNCryptX509SASL:
		return "X509SASL"
	case VeNCryptTLSSASL:
		return "TLSSASL"
	}
	if s < 256 {
		return SecurityType(s).name() // sub-types below 256 are security types
	}
	return "unknown"
}

// subtypesText lists the sub-types a console offered for Error.Peer:
// "offered 257 (TLSNone), 262 (X509Plain)", the first maxTypesText of them
// and a count of the rest (total).
func subtypesText(seen []uint32, total int) string {
	if total == 0 {
		return "offered no sub-types"
	}
	var sb strings.Builder
	sb.WriteString("offered ")
	for i, t := range seen {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(VeNCryptSubtype(t).String())
	}
	if total > len(seen) {
		sb.WriteString(" and " + strconv.Itoa(total-len(seen)) + " more")
	}
	return sb.String()
}

// acceptText lists the security types the relay accepts, for Error.Peer.
func acceptText(types []SecurityType) string {
	var sb strings.Builder
	sb.WriteString("accepts ")
	for i, t := range types {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(t.String())
	}
	return sb.String()
}

// tlsCode classifies an error of the TLS layer: a certificate that did not
// verify, an alert the console sent, or anything else.
func tlsCode(err error) Code {
	var (
		verr  *tls.CertificateVerificationError
		unk   x509.UnknownAuthorityError
		inval x509.CertificateInvalidError
		host  x509.HostnameError
		op    *net.OpError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &unk), errors.As(err, &inval), errors.As(err, &host):
		return CodeTLSUntrusted
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports an alert from the peer as a *net.OpError
		// with Op "remote error" (conn.go, readRecordOrCCS).
		return CodeTLSAlert
	}
	return CodeTLSFailed
}
