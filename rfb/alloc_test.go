package rfb

import "testing"

var (
	qemuConsole = wire("RFB 003.008\n", byte(1), byte(1), u32be(0))
	noVNCBytes  = wire("RFB 003.008\n", byte(1), byte(1)) // version, None, ClientInit
	securityOK  = wire(u32be(0))
)

// TestFeedZeroAlloc: a successful handshake allocates nothing, in one piece
// or a byte at a time, output included.
func TestFeedZeroAlloc(t *testing.T) {
	var c ConsoleHandshake
	var b BrowserHandshake
	out := make([]byte, 0, 64)
	tests := []struct {
		name string
		run  func()
	}{
		{"console, whole", func() {
			c = ConsoleHandshake{}
			n, err := c.Feed(qemuConsole)
			out = c.AppendOutput(out[:0])
			if n != len(qemuConsole) || err != nil || !c.Done() {
				panic("console handshake failed")
			}
		}},
		{"console, byte by byte", func() {
			c = ConsoleHandshake{}
			for i := range qemuConsole {
				if _, err := c.Feed(qemuConsole[i : i+1]); err != nil {
					panic(err)
				}
				out = c.AppendOutput(out[:0])
			}
			if !c.Done() {
				panic("console handshake not done")
			}
		}},
		{"console, VeNCrypt", func() {
			c = ConsoleHandshake{}
			if err := c.Accept(SecurityVeNCrypt, SecurityNone); err != nil {
				panic(err)
			}
			n, err := c.Feed(qemuX509)
			out = c.AppendOutput(out[:0])
			if n != len(qemuX509) || err != nil || !c.NeedsTLS() {
				panic("VeNCrypt handshake failed")
			}
			c.TLSEstablished()
			if _, err := c.Feed(securityOK); err != nil || !c.Done() {
				panic("SecurityResult inside TLS")
			}
		}},
		{"console, VeNCrypt byte by byte", func() {
			c = ConsoleHandshake{}
			if err := c.Accept(SecurityVeNCrypt); err != nil {
				panic(err)
			}
			for i := range qemuX509 {
				if _, err := c.Feed(qemuX509[i : i+1]); err != nil {
					panic(err)
				}
				out = c.AppendOutput(out[:0])
			}
			c.TLSEstablished()
			for i := range securityOK {
				if _, err := c.Feed(securityOK[i : i+1]); err != nil {
					panic(err)
				}
			}
			if !c.Done() {
				panic("VeNCrypt handshake not done")
			}
		}},
		{"browser, whole", func() {
			b = BrowserHandshake{}
			out = b.AppendOutput(out[:0])
			n, err := b.Feed(noVNCBytes)
			out = b.AppendOutput(out[:0])
			if n != len(noVNCBytes)-1 || err != nil || !b.Done() {
				panic("browser handshake failed")
			}
		}},
		{"browser, byte by byte", func() {
			b = BrowserHandshake{}
			out = b.AppendOutput(out[:0])
			for i := 0; i < len(noVNCBytes) && !b.Done(); i++ {
				if _, err := b.Feed(noVNCBytes[i : i+1]); err != nil {
					panic(err)
				}
				out = b.AppendOutput(out[:0])
			}
			if !b.Done() {
				panic("browser handshake not done")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(100, tt.run); a != 0 {
				t.Fatalf("%v allocations per handshake", a)
			}
		})
	}
}

func BenchmarkConsoleHandshake(b *testing.B) {
	var h ConsoleHandshake
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(qemuConsole)))
	for b.Loop() {
		h = ConsoleHandshake{}
		if _, err := h.Feed(qemuConsole); err != nil {
			b.Fatal(err)
		}
		out = h.AppendOutput(out[:0])
	}
}

func BenchmarkBrowserHandshake(b *testing.B) {
	var h BrowserHandshake
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(noVNCBytes)))
	for b.Loop() {
		h = BrowserHandshake{}
		out = h.AppendOutput(out[:0])
		if _, err := h.Feed(noVNCBytes); err != nil {
			b.Fatal(err)
		}
		out = h.AppendOutput(out[:0])
	}
}

func BenchmarkConsoleVeNCrypt(b *testing.B) {
	var h ConsoleHandshake
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(qemuX509) + len(securityOK)))
	for b.Loop() {
		h = ConsoleHandshake{}
		if err := h.Accept(SecurityVeNCrypt); err != nil {
			b.Fatal(err)
		}
		if _, err := h.Feed(qemuX509); err != nil {
			b.Fatal(err)
		}
		out = h.AppendOutput(out[:0])
		h.TLSEstablished()
		if _, err := h.Feed(securityOK); err != nil || !h.Done() {
			b.Fatal(err)
		}
	}
}
