package nova

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The body of a validate_console_port call is the oslo envelope
//
//	{"oslo.version": "2.0", "oslo.message": "<the message, JSON, as a string>"}
//
// (oslo_messaging/_drivers/common.py serialize_msg): the message is JSON
// inside a JSON string, so every byte of it is escaped once more. Most of it
// never changes between calls (the method, the Instance primitive's keys,
// the 25 keys of Nova's admin context), so those parts are escaped once, at
// start-up, and a call appends them and the few values it owns (the
// instance's columns, port, ids, request id, timestamp), each escaped at
// both levels in one pass. No map, reflection or intermediate message is
// built; TestCallEncoding checks the result against encoding/json's
// marshalling of the same message as oslo builds it.

// callMessage is one validate_console_port call before encoding.
type callMessage struct {
	inst        *InstanceInfo
	port        string // the console port, decimal, as Nova sends it
	consoleType string // "novnc", "serial", "spice-html5", ...
	version     string // the API version the call needs ("6.0")
	msgID       string // _msg_id: uuid4 hex, the key of the reply
	replyQ      string // _reply_q: our reply queue
	monitor     int    // _timeout: call-monitor seconds, 0 for null
	uniqueID    string // _unique_id: uuid4 hex, the server drops repeats
	requestID   string // _context_request_id
	now         time.Time
}

// escapeOuter returns inner JSON text escaped as the content of a JSON
// string (the envelope's "oslo.message"): quotes and backslashes get a
// backslash. It is used on constant text, which holds no control
// characters.
func escapeOuter(inner string) string {
	b := make([]byte, 0, len(inner)+len(inner)/4)
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// key returns `,"name":` (or without the comma) escaped for the envelope.
func key(name string, comma bool) string {
	s := `"` + name + `":`
	if comma {
		s = "," + s
	}
	return escapeOuter(s)
}

// Constant parts of the message, in the order oslo's AMQPDriverBase._send
// builds it (RPCClient._make_message, then _msg_id, _reply_q, _timeout,
// _unique_id, then the context): see callMessage.appendBody. namespace is
// left out: Nova's compute target has none.
var (
	encEnvelopeHead = `{"oslo.version":"` + osloEnvelopeVersion + `","oslo.message":"`
	encEnvelopeTail = `"}`

	encMethodHead = escapeOuter(`{"method":"validate_console_port","args":{"instance":`)
	// The Instance primitive as NovaObjectSerializer.serialize_entity
	// makes it (oslo.versionedobjects VersionedObject.obj_to_primitive),
	// its data the fields InstanceInfo has in Instance.fields' order.
	encInstanceHead = escapeOuter(`{"nova_object.name":"Instance","nova_object.namespace":"nova","nova_object.version":"` +
		InstanceObjectVersion + `","nova_object.data":{`)
	encKeyID               = key("id", false)
	encKeyUserID           = key("user_id", false)
	encKeyProjectID        = key("project_id", true)
	encKeyHostname         = key("hostname", true)
	encKeyPowerState       = key("power_state", true)
	encKeyVMState          = key("vm_state", true)
	encKeyTaskState        = key("task_state", true)
	encKeyHost             = key("host", true)
	encKeyNode             = key("node", true)
	encKeyAvailabilityZone = key("availability_zone", true)
	encKeyDisplayName      = key("display_name", true)
	encKeyLaunchedOn       = key("launched_on", true)
	encKeyUUID             = key("uuid", true)
	encInstanceTail        = escapeOuter(`}}`)
	encKeyPort             = key("port", true)
	encKeyConsoleType      = key("console_type", true)
	encKeyVersion          = escapeOuter(`},"version":`)
	encKeyMsgID            = key("_msg_id", true)
	encKeyReplyQ           = key("_reply_q", true)
	encKeyTimeout          = key("_timeout", true)
	encKeyUniqueID         = key("_unique_id", true)

	// Nova's context.get_admin_context() as RequestContextSerializer
	// sends it (nova/context.py RequestContext.to_dict over oslo_context's
	// to_dict; every key prefixed "_context_" by
	// oslo_messaging/_drivers/amqp.py pack_context), in to_dict's order: no
	// user, no project, is_admin true, read_deleted "no"; only the request
	// id and the timestamp change between calls.
	encContextHead = escapeOuter(`,"_context_user":null,"_context_project_id":null,"_context_system_scope":null,` +
		`"_context_project":null,"_context_domain":null,"_context_user_domain":null,"_context_project_domain":null,` +
		`"_context_is_admin":true,"_context_read_only":false,"_context_show_deleted":false,"_context_auth_token":null,` +
		`"_context_request_id":`)
	encContextMiddle = escapeOuter(`,"_context_global_request_id":null,"_context_resource_uuid":null,"_context_roles":[],` +
		`"_context_user_identity":"- - - - -","_context_is_admin_project":true,"_context_user_id":null,` +
		`"_context_read_deleted":"no","_context_remote_address":null,"_context_timestamp":`)
	encContextTail = escapeOuter(`,"_context_quota_class":null,"_context_user_name":null,"_context_service_catalog":[],` +
		`"_context_project_name":null}`)

	encNull  = "null"
	encQuote = escapeOuter(`"`)
)

// contextTimeLayout is nova/utils.py strtime: naive UTC with microseconds,
// no zone.
const contextTimeLayout = "2006-01-02T15:04:05.000000"

// appendBody appends the AMQP body of the call (the envelope around the
// message) to b.
func (m *callMessage) appendBody(b []byte) []byte {
	b = append(b, encEnvelopeHead...)
	b = append(b, encMethodHead...)
	b = appendInstance(b, m.inst)
	b = append(b, encKeyPort...)
	b = appendString(b, m.port)
	b = append(b, encKeyConsoleType...)
	b = appendString(b, m.consoleType)
	b = append(b, encKeyVersion...)
	b = appendString(b, m.version)
	b = append(b, encKeyMsgID...)
	b = appendString(b, m.msgID)
	b = append(b, encKeyReplyQ...)
	b = appendString(b, m.replyQ)
	b = append(b, encKeyTimeout...)
	if m.monitor > 0 {
		b = strconv.AppendInt(b, int64(m.monitor), 10)
	} else {
		b = append(b, encNull...)
	}
	b = append(b, encKeyUniqueID...)
	b = appendString(b, m.uniqueID)
	b = append(b, encContextHead...)
	b = appendString(b, m.requestID)
	b = append(b, encContextMiddle...)
	b = append(b, encQuote...)
	b = m.now.UTC().AppendFormat(b, contextTimeLayout)
	b = append(b, encQuote...)
	b = append(b, encContextTail...)
	return append(b, encEnvelopeTail...)
}

// appendInstance appends inst as the versioned-object primitive Nova's
// proxy sends: the object as Instance.get_by_uuid loaded it, with no
// pending changes (no "nova_object.changes" key), SQL NULL as null. Fields
// left out are unset on the compute side and lazy-loaded there if
// something reads them; validate_console_port reads uuid (the libvirt
// domain lookup, faults) and id (instance.name). An ID of 0 (no row id
// known) is left out.
func appendInstance(b []byte, inst *InstanceInfo) []byte {
	b = append(b, encInstanceHead...)
	if inst.ID != 0 {
		b = append(b, encKeyID...)
		b = strconv.AppendInt(b, inst.ID, 10)
		b = append(b, ',')
	}
	b = append(b, encKeyUserID...)
	b = appendNullString(b, inst.UserID.String, inst.UserID.Valid)
	b = append(b, encKeyProjectID...)
	b = appendNullString(b, inst.ProjectID.String, inst.ProjectID.Valid)
	b = append(b, encKeyHostname...)
	b = appendNullString(b, inst.Hostname.String, inst.Hostname.Valid)
	b = append(b, encKeyPowerState...)
	if inst.PowerState.Valid {
		b = strconv.AppendInt(b, inst.PowerState.Int64, 10)
	} else {
		b = append(b, encNull...)
	}
	b = append(b, encKeyVMState...)
	b = appendNullString(b, inst.VMState.String, inst.VMState.Valid)
	b = append(b, encKeyTaskState...)
	b = appendNullString(b, inst.TaskState.String, inst.TaskState.Valid)
	b = append(b, encKeyHost...)
	b = appendNullString(b, inst.Host.String, inst.Host.Valid)
	b = append(b, encKeyNode...)
	b = appendNullString(b, inst.Node.String, inst.Node.Valid)
	b = append(b, encKeyAvailabilityZone...)
	b = appendNullString(b, inst.AvailabilityZone.String, inst.AvailabilityZone.Valid)
	b = append(b, encKeyDisplayName...)
	b = appendNullString(b, inst.DisplayName.String, inst.DisplayName.Valid)
	b = append(b, encKeyLaunchedOn...)
	b = appendNullString(b, inst.LaunchedOn.String, inst.LaunchedOn.Valid)
	b = append(b, encKeyUUID...)
	b = appendString(b, inst.UUID)
	return append(b, encInstanceTail...)
}

func appendNullString(b []byte, s string, valid bool) []byte {
	if !valid {
		return append(b, encNull...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string of the message, escaped once more
// for the envelope: a quote is \" in the message and \\\" in the body, a
// backslash \\ and \\\\, a control character \u00XX and \\u00XX, a byte
// that is not UTF-8 \ufffd and \\ufffd (as encoding/json replaces it).
// Everything else, UTF-8 included, is copied.
func appendString(b []byte, s string) []byte {
	b = append(b, encQuote...)
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch {
		case c == '"':
			b = append(b, `\\\"`...)
		case c == '\\':
			b = append(b, `\\\\`...)
		case c < 0x20:
			b = append(b, `\\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, `\\ufffd`...)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, encQuote...)
}

// bodyPool holds call bodies (about 2 KiB each) between calls.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
