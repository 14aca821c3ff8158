package wsframe

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// clientFrame builds a masked client frame with a fixed mask.
func clientFrame(fin bool, op Opcode, payload []byte) []byte {
	var hdr [MaxHeaderSize]byte
	n := PutHeader(hdr[:], fin, op, len(payload))
	hdr[1] |= 0x80
	mask := [4]byte{0x11, 0x22, 0x33, 0x44}
	out := append(append([]byte(nil), hdr[:n]...), mask[:]...)
	p := append([]byte(nil), payload...)
	Unmask(p, mask, 0)
	return append(out, p...)
}

// streamResult is everything a stream produced: the data bytes, the control
// frames, and the error that ended it.
type streamResult struct {
	data    []byte
	control []string
	err     error
}

// runStream feeds input to a ClientStream in chunks of the given sizes (the
// last repeated), keeping unconsumed bytes as a socket buffer would.
func runStream(input []byte, chunks []int, maxMessage int64) streamResult {
	var r streamResult
	s := ClientStream{MaxMessage: maxMessage}
	var buf []byte
	pos, ci := 0, 0
	for {
		step, err := s.Next(buf)
		if err != nil {
			r.err = err
			return r
		}
		switch step.Kind {
		case StepData:
			r.data = append(r.data, step.Payload...)
		case StepControl:
			r.control = append(r.control, fmt.Sprintf("%s:%x", step.Op, step.Payload))
		case StepMore:
			if pos == len(input) {
				return r
			}
			n := len(input) - pos
			if len(chunks) > 0 {
				n = min(n, max(1, chunks[min(ci, len(chunks)-1)]))
				ci++
			}
			buf = append(buf, input[pos:pos+n]...)
			pos += n
			continue
		}
		buf = buf[step.N:]
	}
}

func TestClientStream(t *testing.T) {
	in := bytes.Join([][]byte{
		clientFrame(false, OpBinary, []byte("hello ")),
		clientFrame(true, OpPing, []byte("p")),
		clientFrame(true, OpContinuation, []byte("world")),
		clientFrame(true, OpBinary, bytes.Repeat([]byte{7}, 300)),
		clientFrame(true, OpClose, []byte{0x03, 0xe8}),
	}, nil)
	want := runStream(in, nil, 0)
	if want.err != nil || string(want.data[:11]) != "hello world" || len(want.data) != 311 ||
		fmt.Sprint(want.control) != "[ping:70 close:03e8]" {
		t.Fatalf("whole: %q %v %v", want.data, want.control, want.err)
	}
	for _, chunk := range []int{1, 2, 3, 7, 13, 64} {
		got := runStream(in, []int{chunk}, 0)
		if !bytes.Equal(got.data, want.data) || fmt.Sprint(got.control) != fmt.Sprint(want.control) || got.err != nil {
			t.Fatalf("chunks of %d: %q %v %v", chunk, got.data, got.control, got.err)
		}
	}
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"text", clientFrame(true, OpText, []byte("x")), ErrTextFrame},
		{"continuation first", clientFrame(true, OpContinuation, nil), ErrContinuation},
		{"binary in message", append(clientFrame(false, OpBinary, nil), clientFrame(true, OpBinary, nil)...), ErrMessageOpen},
		{"too big", clientFrame(true, OpBinary, make([]byte, 101)), ErrTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := runStream(tt.in, nil, 100); !errors.Is(r.err, tt.err) {
				t.Fatalf("err %v, want %v", r.err, tt.err)
			}
		})
	}
}

func TestClientStreamZeroAllocs(t *testing.T) {
	f := clientFrame(true, OpBinary, make([]byte, 1000))
	var s ClientStream
	allocs := testing.AllocsPerRun(100, func() {
		b := f
		for len(b) > 0 {
			step, err := s.Next(b)
			if err != nil || step.Kind == StepMore {
				panic(fmt.Sprint(step, err))
			}
			b = b[step.N:]
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

// FuzzFrameStream feeds arbitrary bytes in arbitrary chunkings: the stream
// never panics, never consumes more than it is given, and produces the same
// data, control frames and error as when fed whole.
func FuzzFrameStream(f *testing.F) {
	f.Add(clientFrame(true, OpBinary, []byte("abc")), uint8(1), uint8(5))
	f.Add(append(clientFrame(false, OpBinary, []byte("ab")), clientFrame(true, OpPing, nil)...), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, c1, c2 uint8) {
		whole := runStream(in, nil, 1<<16)
		split := runStream(in, []int{int(c1), int(c2)}, 1<<16)
		if !bytes.Equal(whole.data, split.data) || fmt.Sprint(whole.control) != fmt.Sprint(split.control) {
			t.Fatalf("whole %q %v, split %q %v", whole.data, whole.control, split.data, split.control)
		}
		if (whole.err == nil) != (split.err == nil) || (whole.err != nil && whole.err.Error() != split.err.Error()) {
			t.Fatalf("errors differ: %v vs %v", whole.err, split.err)
		}
		if len(whole.data) > len(in) {
			t.Fatalf("more data out (%d) than in (%d)", len(whole.data), len(in))
		}
	})
}

// TestClientStreamFragments: a fragmented message may have at most
// MaxFragments frames, counting its first; empty continuations count too, so
// a flood of them ends with 1009 instead of holding the message open for ever.
func TestClientStreamFragments(t *testing.T) {
	message := func(frames int, payload []byte) []byte {
		out := clientFrame(frames == 1, OpBinary, payload)
		for i := 2; i <= frames; i++ {
			out = append(out, clientFrame(i == frames, OpContinuation, payload)...)
		}
		return out
	}
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"at the cap", message(8, []byte("ab")), nil},
		{"at the cap, twice", append(message(8, nil), message(8, nil)...), nil},
		{"one over", message(9, []byte("ab")), ErrTooManyFragments},
		{"empty continuation flood", append(clientFrame(false, OpBinary, []byte("x")),
			bytes.Repeat(clientFrame(false, OpContinuation, nil), 1000)...), ErrTooManyFragments},
		{"control frames between fragments do not count", bytes.Join([][]byte{
			clientFrame(false, OpBinary, nil), bytes.Repeat(clientFrame(true, OpPing, nil), 20),
			clientFrame(true, OpContinuation, nil)}, nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ClientStream{MaxFragments: 8}
			buf := tt.in
			for len(buf) > 0 {
				step, err := s.Next(buf)
				if err != nil {
					if !errors.Is(err, tt.err) {
						t.Fatalf("err %v, want %v", err, tt.err)
					}
					return
				}
				if step.Kind == StepMore {
					t.Fatalf("stuck with %d bytes left", len(buf))
				}
				buf = buf[step.N:]
			}
			if tt.err != nil {
				t.Fatalf("no error, want %v", tt.err)
			}
		})
	}
}
