package nova

import (
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestComputeRPCVersion(t *testing.T) {
	tests := []struct {
		name, cap, want string
		err             bool
	}{
		{name: "no cap", cap: "", want: "6.0"},
		{name: "auto", cap: "auto", want: "6.0"},
		{name: "zed", cap: "zed", want: "6.0"},
		{name: "wallaby", cap: "wallaby", want: "6.0"},
		{name: "victoria", cap: "victoria", want: "5.0"},
		{name: "queens", cap: "queens", want: "5.0"},
		{name: "6.1", cap: "6.1", want: "6.0"},
		{name: "5.12", cap: "5.12", want: "5.0"},
		{name: "pike too old", cap: "pike", err: true},
		{name: "7.0 too new", cap: "7.0", err: true},
		{name: "garbage", cap: "bobcat?", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeRPCVersion(tt.cap)
			if got != tt.want || (err != nil) != tt.err {
				t.Fatalf("ComputeRPCVersion(%q) = %q, %v", tt.cap, got, err)
			}
		})
	}
}

func TestVersionCompatible(t *testing.T) {
	tests := []struct {
		imp, v string
		ok     bool
	}{
		{"2.0", "2.0", true},
		{"2.0", "2", true},
		{"2.0", "2.1", false},
		{"2.1", "2.0", true},
		{"3.0", "2.0", false},
		{"6.1", "6.0", true},
		{"6.0.1", "6.0", true},
		{"6.0", "6.0.1", false},
		{"6.x", "6.0", false},
	}
	for _, tt := range tests {
		if got := versionCompatible(tt.imp, tt.v); got != tt.ok {
			t.Errorf("versionCompatible(%q, %q) = %v", tt.imp, tt.v, got)
		}
	}
}

// TestCallEncoding pins the message layout: the envelope, the keys in
// oslo's order, the admin context, the Instance primitive.
func TestCallEncoding(t *testing.T) {
	inst := InstanceInfo{
		ID: 42, UUID: "0b9c7a52-2f1b-4b7e-9a51-5b1d3c7c0a11",
		Host: sql.NullString{String: "cmp-1", Valid: true}, VMState: sql.NullString{String: "active", Valid: true},
		PowerState: sql.NullInt64{Int64: 1, Valid: true},
	}
	m := callMessage{
		inst:        &inst,
		port:        "5901",
		consoleType: "novnc",
		version:     "6.0",
		msgID:       "m1",
		replyQ:      "reply_q1",
		uniqueID:    "u1",
		requestID:   "req-1",
		now:         time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC),
	}
	body := m.appendBody(nil)
	var env struct {
		Version string `json:"oslo.version"`
		Message string `json:"oslo.message"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Version != "2.0" || !strings.HasPrefix(string(body), `{"oslo.version":"2.0","oslo.message":"{`) {
		t.Fatalf("envelope %s: %v", body, err)
	}
	wantPrefix := `{"method":"validate_console_port","args":{"instance":{"nova_object.name":"Instance",` +
		`"nova_object.namespace":"nova","nova_object.version":"2.7","nova_object.data":{"id":42,"user_id":null,` +
		`"project_id":null,"hostname":null,"power_state":1,"vm_state":"active","task_state":null,"host":"cmp-1",` +
		`"node":null,"availability_zone":null,"display_name":null,"launched_on":null,` +
		`"uuid":"0b9c7a52-2f1b-4b7e-9a51-5b1d3c7c0a11"}},"port":"5901","console_type":"novnc"},` +
		`"version":"6.0","_msg_id":"m1","_reply_q":"reply_q1","_timeout":null,"_unique_id":"u1",` +
		`"_context_user":null,"_context_project_id":null,`
	if !strings.HasPrefix(env.Message, wantPrefix) {
		t.Fatalf("message:\n%s\nwant prefix:\n%s", env.Message, wantPrefix)
	}
	for _, want := range []string{`"_context_is_admin":true`, `"_context_read_deleted":"no"`,
		`"_context_timestamp":"2024-01-02T03:04:05.000006"`, `"_context_request_id":"req-1"`,
		`"_context_roles":[]`, `"_context_user_identity":"- - - - -"`, `"_context_service_catalog":[]`} {
		if !strings.Contains(env.Message, want) {
			t.Errorf("message lacks %s", want)
		}
	}
	if ref := referenceBody(t, &m); string(body) != string(ref) {
		t.Errorf("body differs from encoding/json's:\n ours %s\n json %s", body, ref)
	}
	m.monitor = 60
	body = m.appendBody(nil)
	if !strings.Contains(string(body), `\"_timeout\":60`) {
		t.Errorf("call monitor not sent: %s", body)
	}
	if ref := referenceBody(t, &m); string(body) != string(ref) {
		t.Errorf("body with monitor differs from encoding/json's:\n ours %s\n json %s", body, ref)
	}
}

// TestCallEncodingValues encodes instances with every column set, NULL or
// awkward (quotes, backslashes, control characters, non-ASCII, bytes that
// are not UTF-8) and checks that the envelope decodes to the message
// encoding/json makes of the same values.
func TestCallEncodingValues(t *testing.T) {
	full := testInstance(7, "5b0e4d8c-3c1a-4e0f-9d2b-0f3b8a1c2d3e", "cmp-1")
	full.TaskState = sql.NullString{String: "spawning", Valid: true}
	awkward := full
	awkward.DisplayName = sql.NullString{String: "a \"quoted\" \\ name\n\t\x01\x1f <tag> & café \u2028 \xff\xfe end", Valid: true}
	awkward.Hostname = sql.NullString{String: `C:\path\"x"`, Valid: true}
	tests := []struct {
		name string
		inst InstanceInfo
	}{
		{name: "all set", inst: full},
		{name: "all null", inst: InstanceInfo{UUID: "5b0e4d8c-3c1a-4e0f-9d2b-0f3b8a1c2d3e"}},
		{name: "awkward strings", inst: awkward},
		{name: "negative and large numbers", inst: InstanceInfo{ID: -1 << 62, UUID: "u", PowerState: sql.NullInt64{Int64: -7, Valid: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := callMessage{inst: &tt.inst, port: "5900", consoleType: "spice-html5", version: "5.0",
				msgID: uuid4(), replyQ: "reply_x", uniqueID: uuid4(), requestID: requestID(), now: time.Now()}
			ours, ref := decodeEnvelope(t, m.appendBody(nil)), decodeEnvelope(t, referenceBody(t, &m))
			if !reflect.DeepEqual(ours, ref) {
				t.Fatalf("decoded message differs:\n ours %v\n json %v", ours, ref)
			}
		})
	}
}

// decodeEnvelope returns the message of an oslo envelope, decoded.
func decodeEnvelope(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var env struct {
		Message string `json:"oslo.message"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("envelope %q: %v", body, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(env.Message), &m); err != nil {
		t.Fatalf("message %q: %v", env.Message, err)
	}
	return m
}

// FuzzCallEncoding checks that any instance strings encode to an envelope
// that decodes back to them.
func FuzzCallEncoding(f *testing.F) {
	f.Add("vm café", "host-1", "5900", "a\"b\\c\x00\xff")
	f.Fuzz(func(t *testing.T, name, host, port, uuid string) {
		inst := InstanceInfo{ID: 1, UUID: uuid, Host: sql.NullString{String: host, Valid: true},
			DisplayName: sql.NullString{String: name, Valid: true}}
		m := callMessage{inst: &inst, port: port, consoleType: "novnc", version: "6.0", msgID: "m", replyQ: "r",
			uniqueID: "u", requestID: "q", now: time.Unix(0, 0)}
		msg := decodeEnvelope(t, m.appendBody(nil))
		data := msg["args"].(map[string]any)["instance"].(map[string]any)["nova_object.data"].(map[string]any)
		for k, want := range map[string]string{"display_name": name, "host": host, "uuid": uuid} {
			if got := data[k]; got != string([]rune(want)) {
				t.Fatalf("%s = %q, want %q", k, got, want)
			}
		}
		if got := msg["args"].(map[string]any)["port"]; got != string([]rune(port)) {
			t.Fatalf("port = %q, want %q", got, port)
		}
	})
}

func TestIDs(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	if id := uuid4(); !hex32.MatchString(id) || id == uuid4() {
		t.Errorf("uuid4 = %q", id)
	}
	if id := requestID(); !regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("requestID = %q", id)
	}
}

// envelope wraps an oslo message as oslo's serialize_msg does.
func envelope(t testing.TB, ver string, msg any) []byte {
	inner, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"oslo.version": ver, "oslo.message": string(inner)})
	return b
}

func TestDecodeReply(t *testing.T) {
	failure := `{"class": "InstanceNotFound", "module": "nova.exception", "message": "Instance x could not be found.", "tb": ["Traceback", "..."], "args": [], "kwargs": {"instance_id": "x"}}`
	tests := []struct {
		name      string
		body      []byte
		id        string
		result    string
		ending    bool
		failure   string // class
		heartbeat bool
		err       bool
	}{
		{name: "true", body: envelope(t, "2.0", map[string]any{"result": true, "failure": nil, "ending": true, "_msg_id": "a", "_unique_id": "u"}),
			id: "a", result: "true", ending: true},
		{name: "false", body: envelope(t, "2.0", map[string]any{"result": false, "failure": nil, "ending": true, "_msg_id": "a"}),
			id: "a", result: "false", ending: true},
		{name: "failure string", body: envelope(t, "2.0", map[string]any{"result": nil, "failure": failure, "ending": true, "_msg_id": "b"}),
			id: "b", ending: true, failure: "InstanceNotFound"},
		{name: "failure object", body: envelope(t, "2.0", map[string]any{"failure": json.RawMessage(failure), "ending": true, "_msg_id": "b"}),
			id: "b", ending: true, failure: "InstanceNotFound"},
		{name: "heartbeat", body: envelope(t, "2.0", map[string]any{"result": nil, "failure": nil, "ending": false, "_msg_id": "c"}),
			id: "c", heartbeat: true},
		{name: "legacy first of two", body: envelope(t, "2.0", map[string]any{"result": true, "failure": nil, "_msg_id": "c"}),
			id: "c", result: "true"},
		{name: "no envelope", body: []byte(`{"result": true, "ending": true, "_msg_id": "d"}`), id: "d", result: "true", ending: true},
		{name: "newer minor refused", body: envelope(t, "2.1", map[string]any{"result": true, "_msg_id": "e"}), err: true},
		{name: "other major refused", body: envelope(t, "3.0", map[string]any{"result": true, "_msg_id": "e"}), err: true},
		{name: "no msg id", body: envelope(t, "2.0", map[string]any{"result": true}), err: true},
		{name: "not json", body: []byte("nope"), err: true},
		{name: "message not a string", body: []byte(`{"oslo.version": "2.0", "oslo.message": {}}`), err: true},
		{name: "too big", body: append([]byte(`{"x":"`), make([]byte, maxReplySize)...), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, r, err := decodeReply(tt.body)
			if tt.err {
				if err == nil || !errors.Is(err, errEnvelope) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id != tt.id || string(r.result) != tt.result || r.ending != tt.ending || r.heartbeat() != tt.heartbeat {
				t.Fatalf("got id %q result %s ending %v heartbeat %v", id, r.result, r.ending, r.heartbeat())
			}
			if tt.failure != "" {
				if r.failure == nil || r.failure.Class != tt.failure || r.failure.Module != "nova.exception" ||
					r.failure.Error() != "compute raised nova.exception.InstanceNotFound: Instance x could not be found." {
					t.Fatalf("failure = %+v", r.failure)
				}
			} else if r.failure != nil {
				t.Fatalf("unexpected failure %+v", r.failure)
			}
		})
	}
}

func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"result\": true, \"failure\": null, \"ending\": true, \"_msg_id\": \"a\"}"}`))
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"failure\": \"{\\\"class\\\": 1}\", \"_msg_id\": \"a\"}"}`))
	f.Add([]byte(`{"result": true, "_msg_id": "d"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, r, err := decodeReply(body)
		if err != nil {
			if !errors.Is(err, errEnvelope) {
				t.Fatalf("error not wrapping errEnvelope: %v", err)
			}
			return
		}
		if id == "" {
			t.Fatal("reply without id accepted")
		}
		if r.failure != nil {
			_ = r.failure.Error()
		}
		_ = messageID(body)
	})
}
