package nova

import (
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

// replyFields are the keys of a reply a caller reads, and those of the
// envelope around it. They are decoded into json.RawMessage and read
// leniently after, so that a key of an unexpected type fails only itself.
type replyFields struct {
	Version json.RawMessage `json:"oslo.version"`
	Message json.RawMessage `json:"oslo.message"`
	MsgID   json.RawMessage `json:"_msg_id"`
	Result  json.RawMessage `json:"result"`
	Ending  json.RawMessage `json:"ending"`
	Failure json.RawMessage `json:"failure"`
}

// decodeMessage unwraps an AMQP body into the oslo message's fields, as
// oslo_messaging/_drivers/common.py deserialize_msg does: an object with
// both "oslo.version" and "oslo.message" is an envelope whose version must
// be compatible with 2.0, its message a JSON string; any other object is
// taken as the message itself (the format before envelopes). Only the
// fields a reply needs are kept (no map of every key is built).
func decodeMessage(body []byte) (replyFields, error) {
	var f replyFields
	if len(body) > maxReplySize {
		return f, fmt.Errorf("%w: body of %d bytes", errEnvelope, len(body))
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return replyFields{}, fmt.Errorf("%w: %w", errEnvelope, err)
	}
	if f.Version == nil || f.Message == nil {
		return f, nil
	}
	var ver, msg string
	if err := json.Unmarshal(f.Version, &ver); err != nil {
		return replyFields{}, fmt.Errorf("%w: oslo.version: %w", errEnvelope, err)
	}
	if !versionCompatible(osloEnvelopeVersion, ver) {
		return replyFields{}, fmt.Errorf("%w: envelope version %q", errEnvelope, ver)
	}
	if err := json.Unmarshal(f.Message, &msg); err != nil {
		return replyFields{}, fmt.Errorf("%w: oslo.message: %w", errEnvelope, err)
	}
	var inner replyFields
	if err := json.Unmarshal([]byte(msg), &inner); err != nil {
		return replyFields{}, fmt.Errorf("%w: oslo.message: %w", errEnvelope, err)
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
	if err := json.Unmarshal(m.MsgID, &msgID); err != nil || msgID == "" {
		return "", reply{}, fmt.Errorf("%w: no _msg_id", errEnvelope)
	}
	if res := m.Result; len(res) > 0 && string(res) != "null" {
		r.result = res
	}
	if raw := m.Ending; len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.ending)
	}
	if raw := m.Failure; len(raw) > 0 && string(raw) != "null" {
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
	_ = json.Unmarshal(m.MsgID, &id)
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
