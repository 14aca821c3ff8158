package nova

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vncrelay/vncrelay/auth"
	"github.com/vncrelay/vncrelay/internal/novatest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := novatest.CloseShared(); err != nil {
		fmt.Fprintln(os.Stderr, "close Nova's database:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// newStore opens a TokenStore on the shared Nova database.
func newStore(t testing.TB, n *novatest.Nova, cfg TokenStoreConfig) *TokenStore {
	t.Helper()
	if cfg.Connection == "" {
		cfg.Connection = n.DatabaseURL
	}
	s, err := NewTokenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func resolve(s *TokenStore, token string) (auth.Target, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Resolve(ctx, token)
}

func TestTokenStoreResolve(t *testing.T) {
	n := novatest.Shared(t)
	vm := n.CreateInstance(t, novatest.InstanceSpec{Host: "cmp-7"})
	vencrypt := &tls.Config{MinVersion: tls.VersionTLS12}
	tests := []struct {
		name     string
		proxy    Proxy
		security auth.SecurityProxy // the store's, with vencrypt when it needs it
		spec     novatest.TokenSpec
		want     auth.Target // Expires checked apart
	}{
		{"novnc", ProxyNoVNC, 0,
			novatest.TokenSpec{Port: 5901, InstanceUUID: vm.UUID, AccessURLBase: "https://cloud.example.org:6080/vnc_lite.html"},
			auth.Target{Network: "tcp", Address: "127.0.0.1:5901", SecurityProxy: auth.SecurityProxyRFBNone, AccessScheme: "https", InstanceUUID: vm.UUID}},
		{"internal_access_path", ProxyNoVNC, 0,
			novatest.TokenSpec{Host: "10.0.0.21", Port: 443, InstanceUUID: vm.UUID, InternalAccessPath: "/vnc/?token=abc"},
			auth.Target{Network: "tcp", Address: "10.0.0.21:443", TunnelPath: "/vnc/?token=abc", SecurityProxy: auth.SecurityProxyRFBNone, AccessScheme: "http", InstanceUUID: vm.UUID}},
		{"IPv6 console host", ProxyNoVNC, 0,
			novatest.TokenSpec{Host: "fd00::21", Port: 5900, InstanceUUID: vm.UUID},
			auth.Target{Network: "tcp", Address: "[fd00::21]:5900", SecurityProxy: auth.SecurityProxyRFBNone, AccessScheme: "http", InstanceUUID: vm.UUID}},
		{"no access_url_base", ProxyNoVNC, 0,
			novatest.TokenSpec{Port: 5902, InstanceUUID: vm.UUID, AccessURLBase: "-"},
			auth.Target{Network: "tcp", Address: "127.0.0.1:5902", SecurityProxy: auth.SecurityProxyRFBNone, InstanceUUID: vm.UUID}},
		{"novnc with auth_schemes = vencrypt,none", ProxyNoVNC, auth.SecurityProxyRFBVeNCryptOrNone,
			novatest.TokenSpec{Port: 5903, InstanceUUID: vm.UUID},
			auth.Target{Network: "tcp", Address: "127.0.0.1:5903", SecurityProxy: auth.SecurityProxyRFBVeNCryptOrNone,
				VeNCrypt: vencrypt, AccessScheme: "http", InstanceUUID: vm.UUID}},
		{"serial over wss (the security proxy is novnc's only)", ProxySerial, auth.SecurityProxyRFBVeNCrypt,
			novatest.TokenSpec{ConsoleType: "serial", Port: 10001, InstanceUUID: vm.UUID, AccessURLBase: "wss://cloud.example.org:6083/"},
			auth.Target{Network: "tcp", Address: "127.0.0.1:10001", AccessScheme: "https", InstanceUUID: vm.UUID}},
		{"spice-html5", ProxySpiceHTML5, 0,
			novatest.TokenSpec{ConsoleType: "spice-html5", Port: 5930, InstanceUUID: vm.UUID, AccessURLBase: "http://cloud.example.org:6082/spice_auto.html"},
			auth.Target{Network: "tcp", Address: "127.0.0.1:5930", AccessScheme: "http", InstanceUUID: vm.UUID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := TokenStoreConfig{Proxy: tt.proxy, Security: tt.security}
			if tt.security.UsesVeNCrypt() {
				cfg.VeNCrypt = vencrypt
			}
			s := newStore(t, n, cfg)
			before := time.Now().Truncate(time.Second)
			tok := n.CreateToken(t, tt.spec)
			got, err := resolve(s, tok)
			if err != nil {
				t.Fatal(err)
			}
			exp := got.Expires
			got.Expires = time.Time{}
			if got != tt.want {
				t.Errorf("target %+v\nwant   %+v", got, tt.want)
			}
			if lo, hi := before.Add(600*time.Second), time.Now().Add(601*time.Second); exp.Before(lo) || exp.After(hi) {
				t.Errorf("expires %v, want within [%v, %v] (ttl 600 s)", exp, lo, hi)
			}
		})
	}
}

func TestTokenStoreRefuses(t *testing.T) {
	n := novatest.Shared(t)
	s := newStore(t, n, TokenStoreConfig{Proxy: ProxyNoVNC})
	gone := n.CreateInstance(t, novatest.InstanceSpec{})
	goneTok := n.CreateToken(t, novatest.TokenSpec{InstanceUUID: gone.UUID})
	n.SoftDeleteInstanceRow(t, gone.UUID)
	deleted := n.CreateInstance(t, novatest.InstanceSpec{})
	deletedTok := n.CreateToken(t, novatest.TokenSpec{InstanceUUID: deleted.UUID})
	n.DeleteInstance(t, deleted.UUID)

	tests := []struct {
		name  string
		token string
		// nova says whether Nova's own ConsoleAuthToken.validate takes the
		// token (its proxy refuses some of those later).
		nova bool
	}{
		{"unknown", "4f7c4a5e-0d4b-4c36-9d3c-2d1f0c1e9a77", false},
		{"empty", "", false},
		{"expired", n.CreateToken(t, novatest.TokenSpec{TTL: -5}), false},
		{"serial token at the novnc proxy", n.CreateToken(t, novatest.TokenSpec{ConsoleType: "serial"}), true},
		{"spice token at the novnc proxy", n.CreateToken(t, novatest.TokenSpec{ConsoleType: "spice-html5"}), true},
		{"instance row soft-deleted, token left", goneTok, true},
		{"instance deleted by Nova (its tokens too)", deletedTok, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(s, tt.token)
			if !errors.Is(err, auth.ErrUnknownToken) {
				t.Fatalf("err = %v, want ErrUnknownToken", err)
			}
			if errors.Is(err, ErrDatabase) {
				t.Errorf("refusal also wraps ErrDatabase: %v", err)
			}
			if tt.token != "" {
				if got := n.NovaValidates(t, tt.token); got != tt.nova {
					t.Errorf("Nova's validate says %v, the test expects %v", got, tt.nova)
				}
			}
		})
	}
}

func TestTokenStoreExpiryBoundary(t *testing.T) {
	n := novatest.Shared(t)
	tok := n.CreateToken(t, novatest.TokenSpec{TTL: 30})
	target, err := resolve(newStore(t, n, TokenStoreConfig{}), tok)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		now   time.Time
		valid bool
	}{
		{"a second before expiry", target.Expires.Add(-time.Second), true},
		{"at expiry", target.Expires, false},
		{"after expiry", target.Expires.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, n, TokenStoreConfig{Now: func() time.Time { return tt.now }})
			_, err := resolve(s, tok)
			if tt.valid && err != nil || !tt.valid && !errors.Is(err, auth.ErrUnknownToken) {
				t.Fatalf("err = %v, valid %v", err, tt.valid)
			}
		})
	}
}

func TestTokenStoreMultiUse(t *testing.T) {
	n := novatest.Shared(t)
	s := newStore(t, n, TokenStoreConfig{})
	tok := n.CreateToken(t, novatest.TokenSpec{Port: 5905})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 10 {
		wg.Go(func() {
			for range 10 {
				if _, err := resolve(s, tok); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 100 lookups of one token failed", failed.Load())
	}
	if !n.NovaValidates(t, tok) {
		t.Error("the token is gone after use")
	}
}

// portCheckerFunc adapts a function to PortChecker.
type portCheckerFunc func(ctx context.Context, instance InstanceInfo, port, consoleType string) (bool, error)

func (f portCheckerFunc) ValidateConsolePort(ctx context.Context, instance InstanceInfo, port, consoleType string) (bool, error) {
	return f(ctx, instance, port, consoleType)
}

func TestTokenStorePortChecker(t *testing.T) {
	n := novatest.Shared(t)
	vm := n.CreateInstance(t, novatest.InstanceSpec{Host: "cmp-9", Node: "cmp-9.example.org", ProjectID: "p9", UserID: "u9", TaskState: "powering-off", DisplayName: "web-1"})
	homeless := n.CreateInstance(t, novatest.InstanceSpec{NoHost: true})
	tok := n.CreateToken(t, novatest.TokenSpec{Port: 5907, InstanceUUID: vm.UUID})
	homelessTok := n.CreateToken(t, novatest.TokenSpec{InstanceUUID: homeless.UUID})
	brokerDown := errors.New("broker down")

	type call struct {
		inst              InstanceInfo
		port, consoleType string
	}
	tests := []struct {
		name    string
		token   string
		answer  bool
		err     error
		want    error // nil: resolved
		wantErr error // also wrapped
		calls   int
	}{
		{"compute confirms", tok, true, nil, nil, nil, 1},
		{"compute denies", tok, false, nil, auth.ErrUnknownToken, nil, 1},
		{"compute unreachable", tok, false, brokerDown, ErrComputeCheck, brokerDown, 1},
		{"instance without a host", homelessTok, true, nil, auth.ErrUnknownToken, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []call
			s := newStore(t, n, TokenStoreConfig{Ports: portCheckerFunc(func(ctx context.Context, inst InstanceInfo, port, ct string) (bool, error) {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("no deadline on the compute check")
				}
				mu.Lock()
				calls = append(calls, call{inst, port, ct})
				mu.Unlock()
				return tt.answer, tt.err
			})})
			_, err := resolve(s, tt.token)
			switch {
			case tt.want == nil && err != nil:
				t.Fatal(err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v does not wrap %v", err, tt.wantErr)
			case errors.Is(err, ErrComputeCheck) && errors.Is(err, auth.ErrUnknownToken):
				t.Fatalf("a failed check is reported as an unknown token: %v", err)
			}
			if len(calls) != tt.calls {
				t.Fatalf("%d calls, want %d", len(calls), tt.calls)
			}
			if tt.calls == 0 {
				return
			}
			c := calls[0]
			wantInst := InstanceInfo{ID: vm.ID, UUID: vm.UUID}
			if c.inst.ID != wantInst.ID || c.inst.UUID != wantInst.UUID || c.inst.Host.String != "cmp-9" ||
				c.inst.Node.String != "cmp-9.example.org" || c.inst.ProjectID.String != "p9" || c.inst.UserID.String != "u9" ||
				c.inst.VMState.String != "active" || c.inst.TaskState.String != "powering-off" || c.inst.PowerState.Int64 != 1 ||
				c.inst.DisplayName.String != "web-1" || !c.inst.AvailabilityZone.Valid {
				t.Errorf("instance passed %+v", c.inst)
			}
			if c.port != "5907" || c.consoleType != "novnc" {
				t.Errorf("port %q type %q, want 5907 novnc", c.port, c.consoleType)
			}
		})
	}
}

func TestTokenStoreFromNovaConf(t *testing.T) {
	n := novatest.Shared(t)
	conf := filepath.Join(t.TempDir(), "nova.conf")
	// The URL's password is percent-encoded: "%" means nothing to oslo.
	content := "[DEFAULT]\ntransport_url = rabbit://\n[database]\nconnection = " + n.DatabaseURL + "\nconnection_recycle_time = 60\n"
	if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	c, err := Load(LoadOptions{Proxy: ProxySerial, Args: []string{"--config-file", conf}, SearchDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewTokenStore(TokenStoreConfigFrom(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok := n.CreateToken(t, novatest.TokenSpec{ConsoleType: "serial", Port: 10002})
	if target, err := resolve(s, tok); err != nil || target.Address != "127.0.0.1:10002" {
		t.Fatalf("target %v, err %v", target, err)
	}
}

// TestTokenStoreDatabaseOutage stops the database under a store: lookups
// fail at once with ErrDatabase (never ErrUnknownToken), and the same store
// works again when the database is back.
func TestTokenStoreDatabaseOutage(t *testing.T) {
	n := novatest.Shared(t)
	s := newStore(t, n, TokenStoreConfig{})
	tok := n.CreateToken(t, novatest.TokenSpec{})
	if _, err := resolve(s, tok); err != nil {
		t.Fatal(err)
	}
	if err := n.DB.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = n.DB.Start()
		}
	})
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		begin := time.Now()
		_, err := s.Resolve(ctx, tok)
		took := time.Since(begin)
		expired := ctx.Err() != nil
		cancel()
		if !errors.Is(err, ErrDatabase) || errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("lookup %d with the database down: err = %v, want ErrDatabase", i, err)
		}
		if expired {
			t.Errorf("lookup %d waited for its whole deadline (%v) with the database down", i, took)
		}
		t.Logf("lookup %d with the database down failed in %v: %v", i, took.Round(time.Microsecond), err)
	}
	if err := n.DB.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if _, err := resolve(s, tok); err != nil {
		t.Fatalf("first lookup after the restart: %v", err)
	}
}

// TestTokenStoreHungDatabase pauses the database (SIGSTOP): lookups end at
// their deadline with ErrDatabase, and work again once it resumes.
func TestTokenStoreHungDatabase(t *testing.T) {
	n := novatest.Shared(t)
	s := newStore(t, n, TokenStoreConfig{})
	tok := n.CreateToken(t, novatest.TokenSpec{})
	if _, err := resolve(s, tok); err != nil {
		t.Fatal(err)
	}
	if err := n.DB.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = n.DB.Resume()
		}
	})
	// Both the pooled connection (a query sent, no answer) and new ones
	// (connected by the kernel, no greeting) hang.
	var wg sync.WaitGroup
	errs := make([]error, 12)
	durations := make([]time.Duration, 12)
	for i := range errs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			begin := time.Now()
			_, errs[i] = s.Resolve(ctx, tok)
			durations[i] = time.Since(begin)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrDatabase) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("lookup %d: err = %v, want ErrDatabase with the deadline", i, err)
		}
		if durations[i] > 10*time.Second {
			t.Errorf("lookup %d took %v with a 500 ms deadline", i, durations[i])
		}
	}
	t.Logf("12 lookups against the hung database, 500 ms deadline, ended after %v (longest)", slices.Max(durations).Round(time.Millisecond))
	if err := n.DB.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	if _, err := resolve(s, tok); err != nil {
		t.Fatalf("first lookup after resuming: %v", err)
	}
}

// TestTokenStoreBoundedPool makes 200 lookups at once through a store whose
// account has only SELECT on the two tables, and watches the server's
// process list: the store never holds more than MaxOpenConns connections.
func TestTokenStoreBoundedPool(t *testing.T) {
	n := novatest.Shared(t)
	const user, password = "vncrelay_pool", "p@ss w%rd"
	if err := n.DB.CreateUser(user, password, "SELECT", "nova.console_auth_tokens", "nova.instances"); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, n, TokenStoreConfig{Connection: n.DB.SQLAlchemyURL(user, password, "nova")})
	tok := n.CreateToken(t, novatest.TokenSpec{})

	stop := make(chan struct{})
	var peak atomic.Int64
	sampled := make(chan error, 1)
	go func() {
		defer close(sampled)
		for {
			c, err := n.DB.Connections(user)
			if err != nil {
				sampled <- err
				return
			}
			if int64(c) > peak.Load() {
				peak.Store(int64(c))
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 200 {
		wg.Go(func() {
			for range 5 {
				if _, err := resolve(s, tok); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-sampled; err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("1000 lookups by 200 goroutines: peak %d server connections, pool %d open, %d waits (%v waiting)",
		peak.Load(), st.OpenConnections, st.WaitCount, st.WaitDuration)
	if failed.Load() != 0 {
		t.Errorf("%d lookups failed", failed.Load())
	}
	if peak.Load() > DefaultMaxOpenConns || st.OpenConnections > DefaultMaxOpenConns || st.MaxOpenConnections != DefaultMaxOpenConns {
		t.Errorf("peak %d, open %d, max %d; want at most %d", peak.Load(), st.OpenConnections, st.MaxOpenConnections, DefaultMaxOpenConns)
	}
	if peak.Load() == 0 {
		t.Error("the sampler never saw a connection")
	}
}

// BenchmarkResolve measures one lookup (valid token, no compute check)
// against the local MariaDB, one goroutine at a time and 4 per CPU, and
// reports the latency percentiles and the process's CPU time per lookup.
func BenchmarkResolve(b *testing.B) {
	n := novatest.Shared(b)
	s := newStore(b, n, TokenStoreConfig{})
	tok := n.CreateToken(b, novatest.TokenSpec{})
	for _, par := range []int{0, 4} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			run := func(next func() bool) {
				local := make([]time.Duration, 0, 1024)
				for next() {
					begin := time.Now()
					if _, err := s.Resolve(context.Background(), tok); err != nil {
						b.Error(err)
						return
					}
					local = append(local, time.Since(begin))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}
			b.ResetTimer()
			cpu := startCPU()
			if par == 0 {
				i := 0
				run(func() bool { i++; return i <= b.N })
			} else {
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
			}
			b.StopTimer()
			cpu.report(b, b.N)
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}
