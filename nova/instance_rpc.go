package nova

// InstanceObjectVersion is the version of nova.objects.Instance in Nova
// 26.2.2 (nova/objects/instance.py, Instance.VERSION). A compute node on an
// older release backports a newer primitive through nova-conductor
// (NovaObjectSerializer), so sending the version of the release we follow is
// what Nova's own proxy does. appendInstance writes the primitive.
const InstanceObjectVersion = "2.7"
