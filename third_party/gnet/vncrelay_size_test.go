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
