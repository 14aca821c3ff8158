package nova

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
)

// The reference encoder: the message built as oslo builds it, as ordered
// JSON objects marshalled by encoding/json, one key and value at a time.
// TestCallEncoding checks callMessage.appendBody against it byte for byte.

// jsonField is one key of a jsonObject.
type jsonField struct {
	key   string
	value any
}

// jsonObject is a JSON object that keeps its keys in the order given.
type jsonObject []jsonField

// MarshalJSON writes the object with its keys in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", f.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// referenceBody encodes m with encoding/json.
func referenceBody(t testing.TB, m *callMessage) []byte {
	t.Helper()
	var monitor any
	if m.monitor > 0 {
		monitor = m.monitor
	}
	msg := jsonObject{
		{"method", "validate_console_port"},
		{"args", jsonObject{
			{"instance", referenceInstance(m.inst)},
			{"port", m.port},
			{"console_type", m.consoleType},
		}},
		{"version", m.version},
		{"_msg_id", m.msgID},
		{"_reply_q", m.replyQ},
		{"_timeout", monitor},
		{"_unique_id", m.uniqueID},
	}
	// Nova's admin context, RequestContext.to_dict's order.
	msg = append(msg, jsonObject{
		{"_context_user", nil},
		{"_context_project_id", nil},
		{"_context_system_scope", nil},
		{"_context_project", nil},
		{"_context_domain", nil},
		{"_context_user_domain", nil},
		{"_context_project_domain", nil},
		{"_context_is_admin", true},
		{"_context_read_only", false},
		{"_context_show_deleted", false},
		{"_context_auth_token", nil},
		{"_context_request_id", m.requestID},
		{"_context_global_request_id", nil},
		{"_context_resource_uuid", nil},
		{"_context_roles", []string{}},
		{"_context_user_identity", "- - - - -"},
		{"_context_is_admin_project", true},
		{"_context_user_id", nil},
		{"_context_read_deleted", "no"},
		{"_context_remote_address", nil},
		{"_context_timestamp", m.now.UTC().Format(contextTimeLayout)},
		{"_context_quota_class", nil},
		{"_context_user_name", nil},
		{"_context_service_catalog", []string{}},
		{"_context_project_name", nil},
	}...)
	inner, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(jsonObject{{"oslo.version", "2.0"}, {"oslo.message", string(inner)}})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// referenceInstance is the Instance primitive as a jsonObject.
func referenceInstance(inst *InstanceInfo) jsonObject {
	var data jsonObject
	if inst.ID != 0 {
		data = append(data, jsonField{"id", inst.ID})
	}
	data = append(data,
		jsonField{"user_id", nullString(inst.UserID)},
		jsonField{"project_id", nullString(inst.ProjectID)},
		jsonField{"hostname", nullString(inst.Hostname)},
		jsonField{"power_state", nullInt(inst.PowerState)},
		jsonField{"vm_state", nullString(inst.VMState)},
		jsonField{"task_state", nullString(inst.TaskState)},
		jsonField{"host", nullString(inst.Host)},
		jsonField{"node", nullString(inst.Node)},
		jsonField{"availability_zone", nullString(inst.AvailabilityZone)},
		jsonField{"display_name", nullString(inst.DisplayName)},
		jsonField{"launched_on", nullString(inst.LaunchedOn)},
		jsonField{"uuid", inst.UUID},
	)
	return jsonObject{
		{"nova_object.name", "Instance"},
		{"nova_object.namespace", "nova"},
		{"nova_object.version", InstanceObjectVersion},
		{"nova_object.data", data},
	}
}

func nullString(s sql.NullString) any {
	if !s.Valid {
		return nil
	}
	return s.String
}

func nullInt(n sql.NullInt64) any {
	if !n.Valid {
		return nil
	}
	return n.Int64
}

// BenchmarkCallEncoding measures encoding one call: ours, and the
// reference through encoding/json.
func BenchmarkCallEncoding(b *testing.B) {
	inst := testInstance(52, "88888888-2f1b-4b7e-9a51-5b1d3c7c0a88", "cmp-b")
	m := callMessage{inst: &inst, port: "5908", consoleType: "novnc", version: "6.0", msgID: uuid4(),
		replyQ: "reply_" + uuid4(), uniqueID: uuid4(), requestID: requestID()}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = m.appendBody(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = referenceBody(b, &m)
		}
	})
}
