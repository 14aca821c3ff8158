package nova

import (
	"context"
	"database/sql"
)

// InstanceInfo is the instances row of the virtual machine a token names,
// read in the same query as the token. It holds what the compute node's
// validate_console_port needs to rebuild a nova.objects.Instance (Instance
// 2.7): the libvirt driver finds the domain by UUID and names it from ID
// (instance_name_template), wrap_instance_fault records faults under UUID,
// and the RPC goes to the topic "compute.<Host>". The other columns are
// what Nova's Instance.get_by_uuid would load and a log line might show.
//
// Nullable columns are sql.Null* (Valid false for SQL NULL, which the
// serializer must send as JSON null, not "").
type InstanceInfo struct {
	ID               int64          // instances.id (primary key)
	UUID             string         // instances.uuid, lower-case with dashes
	Host             sql.NullString // compute service host; the RPC's server
	Node             sql.NullString // hypervisor node name
	ProjectID        sql.NullString
	UserID           sql.NullString
	VMState          sql.NullString // "active", "stopped", "building", ...
	TaskState        sql.NullString // NULL when no task runs
	PowerState       sql.NullInt64  // 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED
	DisplayName      sql.NullString
	Hostname         sql.NullString
	LaunchedOn       sql.NullString
	AvailabilityZone sql.NullString
}

// PortChecker asks the compute node running an instance whether port is its
// console port of consoleType, as Nova's proxy does with
// nova.compute.rpcapi.ComputeAPI.validate_console_port after the token
// lookup (nova/console/websocketproxy.py _check_console_port). port is the
// decimal port number as text, as Nova sends it.
//
// It returns (false, nil) when the compute node says no (the port changed),
// a *RemoteError when the compute node raised an exception (TokenStore takes
// InstanceNotFound and ConsoleTypeInvalid as a no, and any other as a
// failure), and another error when it could not get an answer (broker down,
// timeout): TokenStore then refuses the console with ErrComputeCheck, never
// lets it through. Implementations are safe for
// concurrent use and honour ctx's deadline.
type PortChecker interface {
	ValidateConsolePort(ctx context.Context, instance InstanceInfo, port string, consoleType string) (bool, error)
}
