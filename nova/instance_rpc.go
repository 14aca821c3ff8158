package nova

import "database/sql"

// InstanceObjectVersion is the version of nova.objects.Instance in Nova
// 26.2.2 (nova/objects/instance.py, Instance.VERSION). A compute node on an
// older release backports a newer primitive through nova-conductor
// (NovaObjectSerializer), so sending the version of the release we follow is
// what Nova's own proxy does.
const InstanceObjectVersion = "2.7"

// instancePrimitive returns inst as the versioned-object primitive that
// NovaObjectSerializer.serialize_entity makes of an Instance
// (oslo.versionedobjects VersionedObject.obj_to_primitive):
//
//	{"nova_object.name": "Instance", "nova_object.namespace": "nova",
//	 "nova_object.version": "2.7", "nova_object.data": {<set fields>}}
//
// The data holds the fields InstanceInfo has, in the order Instance.fields
// declares them, SQL NULL as null. Nova's proxy sends the object as
// Instance.get_by_uuid loaded it, with no pending changes, so there is no
// "nova_object.changes" key. Fields left out are unset on the compute side
// and lazy-loaded there if something reads them; validate_console_port
// reads uuid (the libvirt domain lookup, faults) and id (instance.name).
// An ID of 0 (no row id known) is left out.
func instancePrimitive(inst InstanceInfo) jsonObject {
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
