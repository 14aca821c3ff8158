package nova

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Wire constants of oslo.messaging 14's rabbit driver and Nova 26's compute
// RPC API, with the source that fixes each.
const (
	// osloEnvelopeVersion is the envelope format: {"oslo.version": "2.0",
	// "oslo.message": "<the message as a JSON string>"}
	// (oslo_messaging/_drivers/common.py serialize_msg, _RPC_ENVELOPE_VERSION).
	osloEnvelopeVersion = "2.0"
	// ComputeTopic is the compute service's RPC topic (nova/compute/rpcapi.py
	// RPC_TOPIC); a call to one host goes to routing key "compute.<host>".
	ComputeTopic = "compute"
	// DefaultControlExchange is [DEFAULT] control_exchange as Nova sets it
	// (nova/config.py set_lib_defaults; oslo's own default is "openstack").
	DefaultControlExchange = "nova"
	// replyQueueExpires is the x-expires argument of oslo's reply queue, in
	// milliseconds: [oslo_messaging_rabbit] rabbit_transient_queues_ttl, 1800 s.
	replyQueueExpires = 1800 * 1000
	// callMonitorThreshold is nova/rpc.py HEARTBEAT_THRESHOLD: a call whose
	// timeout is longer asks the server for heartbeats every half of it
	// (message key _timeout) and fails when they stop.
	callMonitorThreshold = 60 * time.Second
)

// jsonField is one key of a jsonObject.
type jsonField struct {
	key   string
	value any
}

// jsonObject is a JSON object that keeps its keys in the order given, so
// that our messages list their keys in the order Python's dicts have them
// in Nova's (readers do not depend on it; it keeps captures comparable).
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

// adminContext is Nova's context.get_admin_context() as
// RequestContextSerializer.serialize_context sends it (nova/context.py
// RequestContext.to_dict over oslo_context's to_dict): no user, no project,
// is_admin true, read_deleted "no", a fresh request id and the time of the
// call; every key prefixed "_context_" in the message
// (oslo_messaging/_drivers/amqp.py pack_context). The order is to_dict's.
func adminContext(now time.Time, requestID string) jsonObject {
	return jsonObject{
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
		{"_context_request_id", requestID},
		{"_context_global_request_id", nil},
		{"_context_resource_uuid", nil},
		{"_context_roles", []string{}},
		{"_context_user_identity", "- - - - -"},
		{"_context_is_admin_project", true},
		{"_context_user_id", nil},
		{"_context_read_deleted", "no"},
		{"_context_remote_address", nil},
		// nova/utils.py strtime: naive UTC with microseconds, no zone.
		{"_context_timestamp", now.UTC().Format("2006-01-02T15:04:05.000000")},
		{"_context_quota_class", nil},
		{"_context_user_name", nil},
		{"_context_service_catalog", []string{}},
		{"_context_project_name", nil},
	}
}

// callMessage is one RPC call before encoding.
type callMessage struct {
	method   string
	args     jsonObject // keyword arguments, in the caller's order
	version  string     // the API version the call needs ("6.0")
	msgID    string     // _msg_id: uuid4 hex, the key of the reply
	replyQ   string     // _reply_q: our reply queue
	monitor  int        // _timeout: call-monitor seconds, 0 for null
	uniqueID string     // _unique_id: uuid4 hex, the server drops repeats
	context  jsonObject
}

// encode returns the AMQP body of the call: the oslo envelope around the
// message, whose keys come in the order oslo's AMQPDriverBase._send builds
// them (RPCClient._make_message, then _msg_id, _reply_q, _timeout,
// _unique_id, then the context). namespace is left out: Nova's compute
// target has none.
func (m callMessage) encode() ([]byte, error) {
	var monitor any
	if m.monitor > 0 {
		monitor = m.monitor
	}
	msg := jsonObject{
		{"method", m.method},
		{"args", m.args},
		{"version", m.version},
		{"_msg_id", m.msgID},
		{"_reply_q", m.replyQ},
		{"_timeout", monitor},
		{"_unique_id", m.uniqueID},
	}
	msg = append(msg, m.context...)
	inner, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s call: %w", m.method, err)
	}
	return json.Marshal(jsonObject{
		{"oslo.version", osloEnvelopeVersion},
		{"oslo.message", string(inner)},
	})
}

// reply is one message from the reply queue for a call, or the broker's
// return of the call itself.
type reply struct {
	result   json.RawMessage // the return value, JSON; nil when absent or null
	failure  *RemoteError    // the server raised
	ending   bool            // the last message for this call
	returned bool            // the broker returned the call: no queue for the host
}

// heartbeat reports whether r is a call-monitor keep-alive: no result, no
// failure, not the end (oslo AMQPIncomingMessage.heartbeat).
func (r reply) heartbeat() bool {
	return !r.ending && r.result == nil && r.failure == nil && !r.returned
}

// RemoteError is an exception the compute service raised in the call,
// carried in the reply's failure field (oslo_messaging/_drivers/common.py
// serialize_remote_exception): its class, module and message. Nova's proxy
// would re-raise it (InstanceNotFound_Remote, ...) and fail the console.
type RemoteError struct {
	Module    string   // Python module of the class: "nova.exception"
	Class     string   // "InstanceNotFound"
	Message   string   // str(exception)
	Traceback []string // the server's formatted traceback lines
}

// Error names the remote exception and its message, without the traceback.
func (e *RemoteError) Error() string {
	return "compute raised " + e.Module + "." + e.Class + ": " + e.Message
}

// maxReplySize bounds a reply body we decode; validate_console_port's are a
// few hundred bytes, a failure with its traceback a few kilobytes.
const maxReplySize = 1 << 20

var errEnvelope = errors.New("not an oslo message")

// decodeMessage unwraps an AMQP body into the oslo message, as
// oslo_messaging/_drivers/common.py deserialize_msg does: an object with
// both "oslo.version" and "oslo.message" is an envelope whose version must
// be compatible with 2.0, its message a JSON string; any other object is
// taken as the message itself (the format before envelopes).
func decodeMessage(body []byte) (map[string]json.RawMessage, error) {
	if len(body) > maxReplySize {
		return nil, fmt.Errorf("%w: body of %d bytes", errEnvelope, len(body))
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, fmt.Errorf("%w: %w", errEnvelope, err)
	}
	rawVer, hasVer := outer["oslo.version"]
	rawMsg, hasMsg := outer["oslo.message"]
	if !hasVer || !hasMsg {
		return outer, nil
	}
	var ver, msg string
	if err := json.Unmarshal(rawVer, &ver); err != nil {
		return nil, fmt.Errorf("%w: oslo.version: %w", errEnvelope, err)
	}
	if !versionCompatible(osloEnvelopeVersion, ver) {
		return nil, fmt.Errorf("%w: envelope version %q", errEnvelope, ver)
	}
	if err := json.Unmarshal(rawMsg, &msg); err != nil {
		return nil, fmt.Errorf("%w: oslo.message: %w", errEnvelope, err)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal([]byte(msg), &inner); err != nil {
		return nil, fmt.Errorf("%w: oslo.message: %w", errEnvelope, err)
	}
	return inner, nil
}

// decodeReply reads a message of the reply queue: {"result": ...,
// "failure": null or a JSON string, "ending": true, "_msg_id": "...",
// "_unique_id": "..."} (oslo AMQPIncomingMessage._send_reply). It returns the
// call's _msg_id and the reply.
func decodeReply(body []byte) (msgID string, r reply, err error) {
	m, err := decodeMessage(body)
	if err != nil {
		return "", reply{}, err
	}
	if err := json.Unmarshal(m["_msg_id"], &msgID); err != nil || msgID == "" {
		return "", reply{}, fmt.Errorf("%w: no _msg_id", errEnvelope)
	}
	if res := m["result"]; len(res) > 0 && string(res) != "null" {
		r.result = res
	}
	if raw := m["ending"]; len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.ending)
	}
	if raw := m["failure"]; len(raw) > 0 && string(raw) != "null" {
		r.failure = decodeFailure(raw)
	}
	return msgID, r, nil
}

// decodeFailure reads the failure field: a JSON string holding the JSON of
// {"class", "module", "message", "tb", "args", "kwargs"}; an object is
// taken as is. Anything else still counts as a failure.
func decodeFailure(raw json.RawMessage) *RemoteError {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var f struct {
		Class   string   `json:"class"`
		Module  string   `json:"module"`
		Message string   `json:"message"`
		TB      []string `json:"tb"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return &RemoteError{Module: "?", Class: "?", Message: "undecodable failure"}
	}
	return &RemoteError{Module: f.Module, Class: f.Class, Message: f.Message, Traceback: f.TB}
}

// messageID returns the _msg_id of one of our own calls (a body the broker
// returned), "" when it has none.
func messageID(body []byte) string {
	m, err := decodeMessage(body)
	if err != nil {
		return ""
	}
	var id string
	_ = json.Unmarshal(m["_msg_id"], &id)
	return id
}

// computeVersionAliases is ComputeAPI.VERSION_ALIASES of Nova 26.2.2: the
// release names [upgrade_levels] compute accepts, to their RPC versions.
var computeVersionAliases = map[string]string{
	"icehouse": "3.23", "juno": "3.35", "kilo": "4.0", "liberty": "4.5",
	"mitaka": "4.11", "newton": "4.13", "ocata": "4.13", "pike": "4.17",
	"queens": "5.0", "rocky": "5.0", "stein": "5.1", "train": "5.3",
	"ussuri": "5.11", "victoria": "5.12", "wallaby": "6.0", "xena": "6.0",
	"yoga": "6.0", "zed": "6.1",
}

// ComputeRPCVersion returns the version Nova 26.2.2's
// ComputeAPI.validate_console_port puts on its message under the version
// cap [upgrade_levels] compute: "6.0" when the cap allows it, else "5.0"
// (the method's old version, ComputeAPI._ver), and an error when the cap
// allows neither (Nova raises RPCVersionCapError). A release name is mapped
// through Nova's aliases. "" (no cap) gives "6.0". "auto" makes Nova read
// the oldest nova-compute service version from the database and map it
// through SERVICE_VERSION_HISTORY; every compute of Wallaby or later gives
// 6.x, hence "6.0": we take "auto" as that and do not query. Set the cap
// explicitly ("victoria", "5.12") while computes older than Wallaby remain.
func ComputeRPCVersion(versionCap string) (string, error) {
	c := strings.TrimSpace(versionCap)
	if c == "" || c == "auto" {
		return "6.0", nil
	}
	if alias, ok := computeVersionAliases[c]; ok {
		c = alias
	}
	if _, _, _, ok := parseVersion(c); !ok {
		return "", fmt.Errorf("[upgrade_levels] compute %q is neither a release name nor a version", versionCap)
	}
	for _, v := range []string{"6.0", "5.0"} {
		if versionCompatible(c, v) {
			return v, nil
		}
	}
	return "", fmt.Errorf("[upgrade_levels] compute %q allows neither 6.0 nor 5.0 of validate_console_port", versionCap)
}

// versionCompatible is oslo_messaging/_utils.py version_is_compatible: may
// an implementation of version imp accept a message of version v? Same
// major, and imp's minor (then revision) at least v's.
func versionCompatible(imp, v string) bool {
	iMaj, iMin, iRev, ok1 := parseVersion(imp)
	vMaj, vMin, vRev, ok2 := parseVersion(v)
	if !ok1 || !ok2 || iMaj != vMaj {
		return false
	}
	if iMin != vMin {
		return iMin > vMin
	}
	return iRev >= vRev
}

// parseVersion reads "X", "X.Y" or "X.Y.Z" (missing parts are 0).
func parseVersion(s string) (maj, minor, rev int, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	return n[0], n[1], n[2], true
}

// uuid4 returns a random UUID version 4 as 32 hex digits (Python's
// uuid.uuid4().hex, oslo's message and queue ids).
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// requestID returns a request id as oslo.context makes them:
// "req-" and a UUID version 4 in its dashed form.
func requestID() string {
	h := uuid4()
	return "req-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
