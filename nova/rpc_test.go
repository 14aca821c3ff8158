package nova

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vncrelay/vncrelay/internal/novatest"
)

// testInstance returns an instance row on host with id and uuid.
func testInstance(id int64, uuid, host string) InstanceInfo {
	return InstanceInfo{
		ID:               id,
		UUID:             uuid,
		Host:             sql.NullString{String: host, Valid: host != ""},
		Node:             sql.NullString{String: host + ".example", Valid: host != ""},
		ProjectID:        sql.NullString{String: "6f70656e737461636b20342065766572", Valid: true},
		UserID:           sql.NullString{String: "fake-user", Valid: true},
		VMState:          sql.NullString{String: "active", Valid: true},
		PowerState:       sql.NullInt64{Int64: 1, Valid: true},
		DisplayName:      sql.NullString{String: "vm café", Valid: true},
		Hostname:         sql.NullString{String: "vm", Valid: true},
		LaunchedOn:       sql.NullString{String: host, Valid: host != ""},
		AvailabilityZone: sql.NullString{String: "nova", Valid: true},
	}
}

// newTestClient makes a ComputeAPI for transportURL, closed when t ends.
func newTestClient(t testing.TB, transportURL string, tweak func(*ComputeAPIConfig)) *ComputeAPI {
	t.Helper()
	u, err := ParseTransportURL(transportURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ComputeAPIConfig{URL: u, RetryInterval: 100 * time.Millisecond, RetryMax: time.Second, DialTimeout: 3 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := NewComputeAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRPC runs the compute port check against a private RabbitMQ node and
// a nova-compute stand-in built from Nova's own RPC server code, serving
// two hosts.
func TestRPC(t *testing.T) {
	r := novatest.StartRabbitMQ(t)
	fc := novatest.StartFakeCompute(t, r.URL(), "cmp-1", "cmp-2")
	leaks := goleak.IgnoreCurrent()
	connName := "vncrelay-test-" + uuid4()
	c := newTestClient(t, r.URL(), func(cfg *ComputeAPIConfig) { cfg.ConnectionName = connName })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}

	const (
		uuid1 = "11111111-2f1b-4b7e-9a51-5b1d3c7c0a11"
		uuid2 = "22222222-2f1b-4b7e-9a51-5b1d3c7c0a22"
		uuid3 = "33333333-2f1b-4b7e-9a51-5b1d3c7c0a33"
	)
	for uuid, port := range map[string]string{uuid1: "5901", uuid2: "5902"} {
		if err := fc.SetAnswer(uuid, novatest.ComputeAnswer{Port: port}); err != nil {
			t.Fatal(err)
		}
	}
	inst1 := testInstance(42, uuid1, "cmp-1")
	inst2 := testInstance(43, uuid2, "cmp-2")

	t.Run("answers", func(t *testing.T) {
		tests := []struct {
			name  string
			inst  InstanceInfo
			port  string
			ctype string
			want  bool
		}{
			{name: "true", inst: inst1, port: "5901", ctype: "novnc", want: true},
			{name: "wrong port", inst: inst1, port: "5900", ctype: "novnc", want: false},
			{name: "false for an instance the compute does not know", inst: testInstance(44, uuid3, "cmp-1"), port: "5901", ctype: "novnc"},
			{name: "second host true", inst: inst2, port: "5902", ctype: "serial", want: true},
			{name: "second host wrong port", inst: inst2, port: "5901", ctype: "spice-html5", want: false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				before := len(fc.Calls())
				ok, err := c.ValidateConsolePort(ctx, tt.inst, tt.port, tt.ctype)
				if err != nil || ok != tt.want {
					t.Fatalf("ValidateConsolePort = %v, %v; want %v\nstand-in stderr:\n%s", ok, err, tt.want, fc.Output())
				}
				calls := fc.WaitCalls(before+1, 5*time.Second)
				if len(calls) != before+1 {
					t.Fatalf("stand-in saw %d calls, want %d", len(calls), before+1)
				}
				checkCall(t, calls[before], tt.inst, tt.port, tt.ctype)
			})
		}
	})

	t.Run("remote exception", func(t *testing.T) {
		const uuid = "44444444-2f1b-4b7e-9a51-5b1d3c7c0a44"
		if err := fc.SetAnswer(uuid, novatest.ComputeAnswer{Error: "InstanceNotFound"}); err != nil {
			t.Fatal(err)
		}
		ok, err := c.ValidateConsolePort(context.Background(), testInstance(45, uuid, "cmp-2"), "5900", "novnc")
		var re *RemoteError
		if ok || !errors.As(err, &re) || re.Module != "nova.exception" || re.Class != "InstanceNotFound" ||
			!strings.Contains(re.Message, uuid) || len(re.Traceback) == 0 {
			t.Fatalf("got %v, %v (%+v)", ok, err, re)
		}
	})

	t.Run("timeout when the compute hangs", func(t *testing.T) {
		const uuid = "55555555-2f1b-4b7e-9a51-5b1d3c7c0a55"
		if err := fc.SetAnswer(uuid, novatest.ComputeAnswer{Port: "5900", Hang: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		late := c.Stats().LateReply
		const limit = 1500 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		start := time.Now()
		ok, err := c.ValidateConsolePort(ctx, testInstance(46, uuid, "cmp-1"), "5900", "novnc")
		took := time.Since(start)
		if ok || !errors.Is(err, ErrRPCTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, %v", ok, err)
		}
		// Bounded by the caller's deadline, whatever the compute does.
		if took > limit+time.Second {
			t.Errorf("returned after %v with a %v deadline", took, limit)
		}
		// The compute answers later; the reply is dropped, nobody waits.
		waitFor(t, 10*time.Second, "late reply counted", func() bool { return c.Stats().LateReply > late })
		if c.Stats().Pending != 0 {
			t.Errorf("pending = %d after the call ended", c.Stats().Pending)
		}
	})

	t.Run("host with no compute queue", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		ok, err := c.ValidateConsolePort(ctx, testInstance(47, uuid1, "cmp-absent"), "5901", "novnc")
		if ok || !errors.Is(err, ErrNoComputeQueue) {
			t.Fatalf("got %v, %v", ok, err)
		}
		t.Logf("refused after %v (the broker returns the unroutable call)", time.Since(start).Round(time.Millisecond))
	})

	t.Run("instance without host", func(t *testing.T) {
		ok, err := c.ValidateConsolePort(context.Background(), testInstance(48, uuid1, ""), "5901", "novnc")
		if ok || !errors.Is(err, ErrNoHost) {
			t.Fatalf("got %v, %v", ok, err)
		}
	})

	t.Run("matches Nova's message", func(t *testing.T) {
		// One call from Nova's own client and one from ours to a host
		// whose queue only records: the two messages must agree.
		capture := novatest.StartCapture(t, r.URL(), "cmp-capture")
		instc := testInstance(49, uuid1, "cmp-capture")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.ValidateConsolePort(ctx, instc, "5901", "novnc"); !errors.Is(err, ErrRPCTimeout) {
			t.Fatalf("call to the capture: %v", err)
		}
		if got := novatest.NovaCall(t, r.URL(), "cmp-capture", uuid1, 49, "5901", "novnc", time.Second); got != "MessagingTimeout" {
			t.Fatalf("Nova's call: %s", got)
		}
		msgs := capture.WaitMessages(2, 20*time.Second)
		if len(msgs) != 2 {
			t.Fatalf("captured %d messages", len(msgs))
		}
		compareMessages(t, msgs[0], msgs[1])
	})

	t.Run("concurrent calls share one connection", func(t *testing.T) {
		const n = 200
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst, port := inst1, "5901"
				if i%2 == 1 {
					inst, port = inst2, "5902"
				}
				ok, err := c.ValidateConsolePort(ctx, inst, port, "novnc")
				if err == nil && !ok {
					err = errors.New("answered false")
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		conns, chans := brokerUsage(t, r, connName)
		if conns != 1 || chans != 2 {
			t.Errorf("%d calls used %d connections with %d channels; want 1 and 2", n, conns, chans)
		}
	})

	t.Run("close", func(t *testing.T) {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ValidateConsolePort(context.Background(), inst1, "5901", "novnc"); !errors.Is(err, ErrRPCClosed) {
			t.Fatalf("after Close: %v", err)
		}
		goleak.VerifyNone(t, leaks)
		queues, err := r.Table("list_queues", "-p", r.VHost, "name")
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queues {
			if q[0] == c.ReplyQueue() {
				t.Errorf("reply queue %s left behind", q[0])
			}
		}
		if conns, _ := brokerUsage(t, r, connName); conns != 0 {
			t.Errorf("%d connections left after Close", conns)
		}
	})
}

// checkCall checks what the stand-in's validate_console_port received.
func checkCall(t *testing.T, got novatest.ComputeCall, inst InstanceInfo, port, ctype string) {
	t.Helper()
	want := novatest.ComputeCall{
		Server: inst.Host.String, IsInstance: true, UUID: inst.UUID, InstanceHost: inst.Host.String,
		Name: fmt.Sprintf("instance-%08x", inst.ID), Port: port, PortType: "str", ConsoleType: ctype,
		ContextClass: "nova.context.RequestContext", ContextIsAdmin: true, ContextReqID: got.ContextReqID,
		FieldsSet: []string{"availability_zone", "display_name", "host", "hostname", "id", "launched_on", "node",
			"power_state", "project_id", "task_state", "user_id", "uuid", "vm_state"},
		Changes: got.Changes,
		// Timings of the stand-in, not of the call.
		LagMS: got.LagMS, PrevEmitMS: got.PrevEmitMS,
	}
	if len(got.Changes) != 0 || !strings.HasPrefix(got.ContextReqID, "req-") {
		t.Errorf("changes %v, request id %q", got.Changes, got.ContextReqID)
	}
	if got.LagMS <= 0 {
		// The stand-in read our _context_timestamp as a time before the call
		// reached it: the timestamp is UTC, as Nova's.
		t.Errorf("lag_ms %v: the stand-in did not read our context timestamp as the past", got.LagMS)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stand-in got\n %+v\nwant\n %+v", got, want)
	}
}

// compareMessages checks our call against Nova's, field by field where
// they must be equal and by shape where they vary per call.
func compareMessages(t *testing.T, ours, nova novatest.CapturedMessage) {
	t.Helper()
	t.Logf("ours: properties %v headers %v delivery %v", ours.Properties, ours.Headers, ours.DeliveryInfo)
	t.Logf("nova: properties %v headers %v delivery %v", nova.Properties, nova.Headers, nova.DeliveryInfo)
	for _, k := range []string{"content_type", "content_encoding", "delivery_mode"} {
		if fmt.Sprint(ours.Properties[k]) != fmt.Sprint(nova.Properties[k]) {
			t.Errorf("property %s: ours %v, Nova's %v", k, ours.Properties[k], nova.Properties[k])
		}
	}
	// Both expire when the caller stops waiting (ms as a decimal string).
	for _, m := range []novatest.CapturedMessage{ours, nova} {
		if e, _ := m.Properties["expiration"].(string); e == "" || strings.Trim(e, "0123456789") != "" {
			t.Errorf("expiration %v", m.Properties["expiration"])
		}
	}
	if fmt.Sprint(ours.DeliveryInfo) != fmt.Sprint(nova.DeliveryInfo) {
		t.Errorf("delivery: ours %v, Nova's %v", ours.DeliveryInfo, nova.DeliveryInfo)
	}
	if fmt.Sprint(ours.EnvelopeKeys) != fmt.Sprint(nova.EnvelopeKeys) || ours.Envelope["oslo.version"] != nova.Envelope["oslo.version"] {
		t.Errorf("envelope: ours %v, Nova's %v", ours.EnvelopeKeys, nova.EnvelopeKeys)
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if a, b := keys(ours.Message), keys(nova.Message); !slices.Equal(a, b) {
		t.Errorf("message keys:\n ours %v\n Nova %v", a, b)
	}
	same := []string{"method", "version", "_timeout",
		"_context_user", "_context_project_id", "_context_system_scope", "_context_project", "_context_domain",
		"_context_user_domain", "_context_project_domain", "_context_is_admin", "_context_read_only",
		"_context_show_deleted", "_context_auth_token", "_context_global_request_id", "_context_resource_uuid",
		"_context_roles", "_context_user_identity", "_context_is_admin_project", "_context_user_id",
		"_context_read_deleted", "_context_remote_address", "_context_quota_class", "_context_user_name",
		"_context_service_catalog", "_context_project_name"}
	for _, k := range same {
		if fmt.Sprint(ours.Message[k]) != fmt.Sprint(nova.Message[k]) {
			t.Errorf("%s: ours %v, Nova's %v", k, ours.Message[k], nova.Message[k])
		}
	}
	for _, m := range []novatest.CapturedMessage{ours, nova} {
		for _, k := range []string{"_msg_id", "_unique_id"} {
			if s, _ := m.Message[k].(string); len(s) != 32 {
				t.Errorf("%s = %v", k, m.Message[k])
			}
		}
		if s, _ := m.Message["_reply_q"].(string); !strings.HasPrefix(s, "reply_") || len(s) != 38 {
			t.Errorf("_reply_q = %v", m.Message["_reply_q"])
		}
		if s, _ := m.Message["_context_timestamp"].(string); len(s) != len("2006-01-02T15:04:05.000000") {
			t.Errorf("_context_timestamp = %v", m.Message["_context_timestamp"])
		}
	}
	oa, _ := ours.Message["args"].(map[string]any)
	na, _ := nova.Message["args"].(map[string]any)
	if a, b := keys(oa), keys(na); !slices.Equal(a, b) {
		t.Errorf("args: ours %v, Nova's %v", a, b)
	}
	for _, k := range []string{"port", "console_type"} {
		if oa[k] != na[k] {
			t.Errorf("args %s: ours %v, Nova's %v", k, oa[k], na[k])
		}
	}
	oi, _ := oa["instance"].(map[string]any)
	ni, _ := na["instance"].(map[string]any)
	if a, b := keys(oi), keys(ni); !slices.Equal(a, b) {
		t.Errorf("instance primitive keys: ours %v, Nova's %v", a, b)
	}
	for _, k := range []string{"nova_object.name", "nova_object.namespace", "nova_object.version"} {
		if oi[k] != ni[k] {
			t.Errorf("%s: ours %v, Nova's %v", k, oi[k], ni[k])
		}
	}
	od, _ := oi["nova_object.data"].(map[string]any)
	nd, _ := ni["nova_object.data"].(map[string]any)
	for _, k := range []string{"id", "uuid", "host"} {
		if fmt.Sprint(od[k]) != fmt.Sprint(nd[k]) {
			t.Errorf("instance %s: ours %v, Nova's %v", k, od[k], nd[k])
		}
	}
}

// brokerUsage counts the connections named connName and their channels,
// as rabbitmqctl shows them.
func brokerUsage(t *testing.T, r *novatest.Rabbit, connName string) (conns, chans int) {
	t.Helper()
	rows, err := r.Table("list_connections", "channels", "client_properties")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if len(row) == 2 && strings.Contains(row[1], connName) {
			conns++
			var n int
			fmt.Sscan(row[0], &n)
			chans += n
		}
	}
	return conns, chans
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRPCRabbitRestart restarts the broker under a running client: calls
// during the outage fail within their deadline, and the same client
// answers again once the broker and the compute stand-in are back.
func TestRPCRabbitRestart(t *testing.T) {
	r := novatest.StartRabbitMQ(t)
	fc := novatest.StartFakeCompute(t, r.URL(), "cmp-r")
	const uuid = "66666666-2f1b-4b7e-9a51-5b1d3c7c0a66"
	if err := fc.SetAnswer(uuid, novatest.ComputeAnswer{Port: "5907"}); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, r.URL(), nil)
	inst := testInstance(50, uuid, "cmp-r")
	call := func(d time.Duration) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return c.ValidateConsolePort(ctx, inst, "5907", "novnc")
	}
	if ok, err := call(10 * time.Second); !ok || err != nil {
		t.Fatalf("before restart: %v, %v", ok, err)
	}

	// Calls while the broker goes down and comes back, each bounded.
	stop := make(chan struct{})
	var during sync.WaitGroup
	var overran, outageCalls int
	during.Add(1)
	go func() {
		defer during.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			_, _ = call(500 * time.Millisecond)
			if time.Since(start) > 1500*time.Millisecond {
				overran++
			}
			outageCalls++
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("RabbitMQ restarted in %v", r.StartupTimes[1].Round(time.Millisecond))

	// oslo's server reconnects by itself (back-off 1 s, 2 s, ...); so do we.
	var ok bool
	var err error
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ok, err = call(2 * time.Second); ok && err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	during.Wait()
	if !ok || err != nil {
		t.Fatalf("no answer after the restart: %v, %v; stats %+v\nstand-in stderr:\n%s", ok, err, c.Stats(), fc.Output())
	}
	st := c.Stats()
	if st.Connects != 2 {
		t.Errorf("connects = %d, want 2 (one reconnect)", st.Connects)
	}
	if overran > 0 {
		t.Errorf("%d of %d calls during the outage outlived their deadline", overran, outageCalls)
	}
	t.Logf("stats after restart: %+v; %d calls during the outage", st, outageCalls)
}

// TestRPCFailover gives a transport_url whose first broker refuses
// connections: the client connects to the second, whatever order the
// shuffle chose.
func TestRPCFailover(t *testing.T) {
	r := novatest.StartRabbitMQ(t)
	url := r.URLFor(fmt.Sprintf("127.0.0.1:%d", closedPort(t)), r.Addr())
	u, err := ParseTransportURL(url)
	if err != nil || len(u.Hosts) != 2 {
		t.Fatalf("%v %+v", err, u.Hosts)
	}
	for range 3 {
		c := newTestClient(t, url, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := c.WaitConnected(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if b := c.Stats().Broker; !strings.HasSuffix(b, fmt.Sprintf(":%d", r.Port)) {
			t.Fatalf("connected to %s", b)
		}
		c.Close()
	}
}

// closedPort returns a local port with nothing listening.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

// TestRPCNoBroker: with no broker reachable, calls fail within their
// deadline and say why; Close ends them.
func TestRPCNoBroker(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	c := newTestClient(t, fmt.Sprintf("rabbit://u:canary-secret@127.0.0.1:%d/", closedPort(t)), func(cfg *ComputeAPIConfig) {
		cfg.MaxPending = 2
	})
	inst := testInstance(51, "77777777-2f1b-4b7e-9a51-5b1d3c7c0a77", "cmp-x")
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, err := c.ValidateConsolePort(ctx, inst, "5900", "novnc")
	if ok || !errors.Is(err, ErrRPCTimeout) || !strings.Contains(err.Error(), "no broker connection") ||
		strings.Contains(err.Error(), "canary") {
		t.Fatalf("got %v, %v", ok, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("returned after %v with a 700ms deadline", took)
	}

	// MaxPending bounds the calls in flight.
	var wg sync.WaitGroup
	long, cancelLong := context.WithCancel(context.Background())
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.ValidateConsolePort(long, inst, "5900", "novnc")
		}()
	}
	waitFor(t, 5*time.Second, "two pending calls", func() bool { return c.Stats().Pending == 2 })
	if _, err := c.ValidateConsolePort(context.Background(), inst, "5900", "novnc"); !errors.Is(err, ErrTooManyCalls) {
		t.Errorf("third call: %v", err)
	}
	// Close ends the waiting calls.
	c.Close()
	wg.Wait()
	cancelLong()
	goleak.VerifyNone(t, leaks)
}

// TestRPCConfig covers what NewComputeAPI refuses.
func TestRPCConfig(t *testing.T) {
	u, _ := ParseTransportURL("rabbit://h/?ssl=perhaps")
	tests := []struct {
		name string
		cfg  ComputeAPIConfig
	}{
		{name: "no hosts", cfg: ComputeAPIConfig{}},
		{name: "bad version cap", cfg: ComputeAPIConfig{URL: TransportURL{Hosts: []BrokerHost{{Host: "h", Port: 1}}}, VersionCap: "pike"}},
		{name: "bad ssl option", cfg: ComputeAPIConfig{URL: u}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := NewComputeAPI(tt.cfg); err == nil {
				c.Close()
				t.Fatal("accepted")
			}
		})
	}
}

// BenchmarkRPC measures validate_console_port round trips through a private
// RabbitMQ node to the Python stand-in (oslo.messaging's server with
// eventlet, Nova's serializers): "serial" one call at a time, "parallel"
// from GOMAXPROCS×8 goroutines. p50 and p99 are per-call latencies,
// cpu-µs/op the process's CPU time per call (the relay's side: encoding,
// publishing, the reply's routing and decoding).
func BenchmarkRPC(b *testing.B) {
	r := novatest.StartRabbitMQ(b)
	fc := novatest.StartFakeCompute(b, r.URL(), "cmp-b")
	const uuid = "88888888-2f1b-4b7e-9a51-5b1d3c7c0a88"
	if err := fc.SetAnswer(uuid, novatest.ComputeAnswer{Port: "5908"}); err != nil {
		b.Fatal(err)
	}
	c := newTestClient(b, r.URL(), nil)
	inst := testInstance(52, uuid, "cmp-b")
	call := func() time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		ok, err := c.ValidateConsolePort(ctx, inst, "5908", "novnc")
		if !ok || err != nil {
			b.Errorf("call: %v, %v", ok, err)
		}
		return time.Since(start)
	}
	call() // connect and warm up
	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
		b.ReportMetric(q(0.50), "p50-µs")
		b.ReportMetric(q(0.99), "p99-µs")
	}
	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		cpu := startCPU()
		for b.Loop() {
			lat = append(lat, call())
		}
		cpu.report(b, b.N)
		report(b, lat)
	})
	b.Run("parallel", func(b *testing.B) {
		var mu sync.Mutex
		lat := make([]time.Duration, 0, b.N)
		b.SetParallelism(8)
		cpu := startCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d := call()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
		cpu.report(b, b.N)
		report(b, lat)
	})
}
