// Copyright (c) 2026 The vncrelay authors. Licensed as the rest of this module (Apache-2.0).

//go:build linux && !poll_opt && !gc_opt

package gnet

import (
	"testing"
	"unsafe"
)

// TestConnSizeClass pins the size of a stream connection (vncrelay patch):
// a relay holds two per idle console, so a field added to conn costs memory
// on every console. 192 bytes is one of Go's malloc size classes (…, 176,
// 192, 208, …); going past it is a choice to make knowingly (PATCHES.md).
func TestConnSizeClass(t *testing.T) {
	if got, max := unsafe.Sizeof(conn{}), uintptr(192); got > max {
		t.Errorf("unsafe.Sizeof(conn{}) = %d bytes, over the %d-byte size class it is pinned to", got, max)
	}
}

// TestFdTable checks the descriptor table that replaced each loop's map
// (vncrelay patch, conn_map.go): a loop finds its own connections and not
// another loop's, a slot is cleared only by its own connection, chunks grow
// on demand, and iterate walks one loop's connections.
func TestFdTable(t *testing.T) {
	var a, b eventloop
	ca := &conn{fd: 7, loop: &a}
	cb := &conn{fd: 3*(1<<fdChunkBits) + 5, loop: &b} // a chunk of its own, past the first
	a.connections.addConn(ca, 0)
	b.connections.addConn(cb, 0)
	defer a.connections.delConn(ca)
	defer b.connections.delConn(cb)
	for _, tc := range []struct {
		name string
		cm   *connMatrix
		fd   int
		want *conn
	}{
		{"own", &a.connections, ca.fd, ca},
		{"own, in a later chunk", &b.connections, cb.fd, cb},
		{"another loop's", &b.connections, ca.fd, nil},
		{"empty slot", &a.connections, 8, nil},
		{"beyond the table", &a.connections, 1 << 24, nil},
		{"negative", &a.connections, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cm.getConn(tc.fd); got != tc.want {
				t.Errorf("getConn(%d) = %p, want %p", tc.fd, got, tc.want)
			}
		})
	}
	stale := &conn{fd: ca.fd, loop: &a}
	a.connections.delConn(stale) // an older connection on the same descriptor
	if a.connections.getConn(ca.fd) != ca {
		t.Error("delConn of another connection cleared the slot")
	}
	a.connections.incCount(0, 1) // balance the stale delConn's count
	var seen []*conn
	b.connections.iterate(func(c *conn) bool { seen = append(seen, c); return true })
	if len(seen) != 1 || seen[0] != cb {
		t.Errorf("iterate saw %v, want only %p", seen, cb)
	}
	if n := a.connections.loadCount(); n != 1 {
		t.Errorf("loadCount() = %d, want 1", n)
	}
}
