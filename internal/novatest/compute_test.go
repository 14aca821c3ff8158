package novatest

import (
	"testing"
	"time"
)

// TestFakeComputeAnswersNova checks the stand-in against Nova's own client:
// nova.compute.rpcapi.ComputeAPI.validate_console_port, as nova-novncproxy
// calls it, through a private RabbitMQ node.
func TestFakeComputeAnswersNova(t *testing.T) {
	r := StartRabbitMQ(t)
	fc := StartFakeCompute(t, r.URL(), "cmp-a")
	const uuid = "0b9c7a52-2f1b-4b7e-9a51-5b1d3c7c0a11"
	if err := fc.SetAnswer(uuid, ComputeAnswer{Port: "5901"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, port, want string
	}{
		{name: "right port", port: "5901", want: "True"},
		{name: "wrong port", port: "5900", want: "False"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NovaCall(t, r.URL(), "cmp-a", uuid, 42, tt.port, "novnc", 20*time.Second); got != tt.want {
				t.Fatalf("Nova's client got %s, want %s; stand-in stderr:\n%s", got, tt.want, fc.Output())
			}
		})
	}
	calls := fc.WaitCalls(2, 10*time.Second)
	if len(calls) != 2 {
		t.Fatalf("calls = %+v", calls)
	}
	c := calls[0]
	if !c.IsInstance || c.UUID != uuid || c.InstanceHost != "cmp-a" || c.Name != "instance-0000002a" ||
		c.PortType != "str" || c.ConsoleType != "novnc" || !c.ContextIsAdmin || c.ContextClass != "nova.context.RequestContext" {
		t.Errorf("call = %+v", c)
	}
	if c.LagMS <= 0 {
		t.Errorf("lag_ms = %v, want the time since Nova's client stamped the context", c.LagMS)
	}
	t.Run("not found", func(t *testing.T) {
		if err := fc.SetAnswer(uuid, ComputeAnswer{Error: "InstanceNotFound"}); err != nil {
			t.Fatal(err)
		}
		if got := NovaCall(t, r.URL(), "cmp-a", uuid, 42, "5901", "novnc", 20*time.Second); got != "InstanceNotFound_Remote" {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("no compute", func(t *testing.T) {
		if got := NovaCall(t, r.URL(), "cmp-none", uuid, 42, "5901", "novnc", time.Second); got != "MessagingTimeout" {
			t.Fatalf("got %s", got)
		}
	})
}
