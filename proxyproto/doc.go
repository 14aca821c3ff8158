// Package proxyproto is vncrelay's codec for the PROXY protocol, versions 1
// (text) and 2 (binary), as HAProxy's specification defines them
// (doc/proxy-protocol.txt in HAProxy's sources, "The PROXY protocol, Versions
// 1 & 2"). A load balancer that speaks it sends one header at the very start
// of each connection, before any byte of its client, saying where the
// connection came from.
//
// Parse reads a header from a caller's buffer, bytes as they arrived: it says
// how long the header is when the buffer holds it whole, how many bytes it
// needs at least when the buffer holds a valid beginning, and why not when
// the bytes cannot be a header. It keeps no reference to the buffer, and
// allocates nothing for a v2 header (a v1 header's address texts are copied
// once, for net/netip). Header.Client gives the address to use: the header's source,
// or none when the header says to keep the socket's own (v2 LOCAL, v1
// UNKNOWN, v2 UNSPEC and UNIX families).
//
// Bounds: a v1 header is at most MaxV1Len (107) bytes, the specification's
// own limit; a v2 header at most 16 + MaxV2Payload bytes (the specification
// allows 16 + 65535; real TLV sets, a client certificate included, fit in
// 4 KiB). v2 TLVs are checked to lie within the header and are skipped: the
// relay uses none of them.
//
// Errors are one typed family, *Error, with a Code; the values are
// preallocated, so a refusal does not allocate either.
//
// What it does not do: read sockets, decide whom to trust (the engine does:
// only listed sources may send a header), write headers, or give TLV values.
package proxyproto
