// Copyright (c) 2023 The Gnet Authors. All rights reserved.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//      http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//go:build (darwin || dragonfly || freebsd || linux || netbsd || openbsd) && !gc_opt

package gnet

import (
	"sync"
	"sync/atomic"
)

// connGFD is what a conn keeps of its gnet file descriptor: nothing with the
// descriptor table, which finds connections by fd (vncrelay patch: the
// 16-byte GFD was written and never read here; conn_matrix.go keeps it).
type connGFD struct{}

func newConnGFD(int, int) connGFD { return connGFD{} }

// The vncrelay patch replaces each loop's map[int]*conn with one
// descriptor-indexed table for the process (fdConns): a descriptor names one
// socket at a time, so the loops' entries never overlap, and a slot costs 8
// bytes where a map entry cost about 30 (measured: 60 bytes per console of
// two connections, against 16). A loop writes only its own connections'
// slots; it finds a slot of another loop's connection (an event for a
// descriptor it no longer owns, which another loop took after a close in the
// same epoll_wait batch) and treats it as the map treated a missing key.

// fdChunkBits sizes the table's chunks: 4096 slots, 32 KiB.
const fdChunkBits = 12

type fdChunk [1 << fdChunkBits]atomic.Pointer[conn]

// fdTable is the descriptor → connection table. Chunks are allocated when a
// descriptor in their range is first added and are never freed or moved, so
// the table holds at most 8 bytes per descriptor the process may open
// (RLIMIT_NOFILE), rounded up to a chunk. The list of chunks is copied when
// it grows (under mu) and published atomically: readers take no lock.
type fdTable struct {
	mu     sync.Mutex
	chunks atomic.Pointer[[]*fdChunk]
}

var fdConns fdTable

func (t *fdTable) slot(fd int, grow bool) *atomic.Pointer[conn] {
	if fd < 0 {
		return nil
	}
	i := fd >> fdChunkBits
	if cs := t.chunks.Load(); cs != nil && i < len(*cs) && (*cs)[i] != nil {
		return &(*cs)[i][fd&(1<<fdChunkBits-1)]
	}
	if !grow {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var cs []*fdChunk
	if p := t.chunks.Load(); p != nil {
		cs = *p
	}
	if i >= len(cs) || cs[i] == nil {
		n := len(cs)
		if i >= n {
			n = i + 1
		}
		grown := make([]*fdChunk, n)
		copy(grown, cs)
		grown[i] = new(fdChunk)
		t.chunks.Store(&grown)
		cs = grown
	}
	return &cs[i][fd&(1<<fdChunkBits-1)]
}

// connMatrix is a loop's view of fdConns: its own connections, and their
// count.
type connMatrix struct {
	connCount int32
}

func (cm *connMatrix) init() {}

// iterate calls f for every connection of the loop, until f returns false.
// It walks the whole table: it runs when a loop stops.
func (cm *connMatrix) iterate(f func(*conn) bool) {
	cs := fdConns.chunks.Load()
	if cs == nil {
		return
	}
	for _, ch := range *cs {
		if ch == nil {
			continue
		}
		for i := range ch {
			if c := ch[i].Load(); c != nil && &c.loop.connections == cm {
				if !f(c) {
					return
				}
			}
		}
	}
}

func (cm *connMatrix) incCount(_ int, delta int32) {
	atomic.AddInt32(&cm.connCount, delta)
}

func (cm *connMatrix) loadCount() (n int32) {
	return atomic.LoadInt32(&cm.connCount)
}

func (cm *connMatrix) addConn(c *conn, _ int) {
	fdConns.slot(c.fd, true).Store(c)
	cm.incCount(0, 1)
}

func (cm *connMatrix) delConn(c *conn) {
	if s := fdConns.slot(c.fd, false); s != nil {
		s.CompareAndSwap(c, nil)
	}
	cm.incCount(0, -1)
}

// getConn returns the loop's connection on fd; nil when fd has none, or
// belongs to another loop's connection.
func (cm *connMatrix) getConn(fd int) *conn {
	s := fdConns.slot(fd, false)
	if s == nil {
		return nil
	}
	if c := s.Load(); c != nil && &c.loop.connections == cm {
		return c
	}
	return nil
}
