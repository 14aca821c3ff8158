package novatest

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Debian's Nova.
const (
	novaPython = "/usr/bin/python3" // sees python3-nova
	novaManage = "/usr/bin/nova-manage"
)

// NovaCallTimeout bounds one request to the Python helper (Nova's import at
// start takes a few seconds).
const NovaCallTimeout = 60 * time.Second

//go:embed nova_helper.py
var novaHelperPy []byte

// Nova is a MariaDB holding Nova's API and cell databases (nova_api, nova,
// and an empty nova_cell0), their schema created by Nova's own
// `nova-manage api_db sync` and `nova-manage db sync --local_cell`, and a
// running Python helper that creates instances and console tokens with
// Nova's objects. Creating the schema takes about 15 s on a 2-core machine
// (SchemaTime), so tests share one per test binary (Shared).
type Nova struct {
	DB  *MariaDB
	Dir string // temp directory: nova.conf, state, helper files
	// ConfigFile is a nova.conf with [api_database] and [database]
	// connection, as nova-manage and the helper use it.
	ConfigFile string
	// User and Password are the MariaDB account Nova's services use (ALL on
	// the three databases); the password holds characters a URL must
	// percent-encode.
	User, Password string
	// DatabaseURL is [database] connection for the cell database "nova",
	// the one holding console_auth_tokens and instances.
	DatabaseURL string
	// SchemaTime is how long nova-manage took to create both schemas.
	SchemaTime time.Duration

	ownsDB bool
	helper *lineHelper // nova_helper.py
}

// Instance is an instance created by CreateInstance.
type Instance struct {
	UUID string
	ID   int64 // instances.id, which names the libvirt domain
}

// InstanceSpec describes an instance; zero fields take the defaults shown.
type InstanceSpec struct {
	Host        string // "compute1"
	Node        string // "compute1.example.org"
	ProjectID   string // "project1"
	UserID      string // "user1"
	VMState     string // "active"
	TaskState   string // none (NULL)
	DisplayName string // "vm1"
	NoHost      bool   // host NULL, as for a shelved-offloaded instance
}

// TokenSpec describes a console token; zero fields take the defaults shown.
type TokenSpec struct {
	ConsoleType        string // "novnc"
	Host               string // console host, "127.0.0.1"
	Port               int    // console port, 5900
	InternalAccessPath string // "" stores NULL
	AccessURLBase      string // "http://127.0.0.1:6080/vnc_auto.html"; "-" stores NULL
	InstanceUUID       string // "" creates an instance with InstanceSpec's defaults
	// TTL is the token's lifetime in seconds from now: 0 means 600 (Nova's
	// [consoleauth] token_ttl default), a negative value an expired token.
	TTL int
}

// request is the spec as nova_helper.py's create_token and nova_bulk.py's
// create_tokens read it, the zero fields given their defaults (all but
// InstanceUUID, which the caller sees to).
func (s TokenSpec) request() map[string]any {
	if s.ConsoleType == "" {
		s.ConsoleType = "novnc"
	}
	if s.Host == "" {
		s.Host = "127.0.0.1"
	}
	if s.Port == 0 {
		s.Port = 5900
	}
	if s.TTL == 0 {
		s.TTL = 600
	}
	r := map[string]any{"console_type": s.ConsoleType, "host": s.Host, "port": s.Port,
		"instance_uuid": s.InstanceUUID, "ttl": s.TTL}
	if s.InternalAccessPath != "" {
		r["internal_access_path"] = s.InternalAccessPath
	}
	switch s.AccessURLBase {
	case "":
		r["access_url_base"] = "http://127.0.0.1:6080/vnc_auto.html"
	case "-":
	default:
		r["access_url_base"] = s.AccessURLBase
	}
	return r
}

// SetupNova creates Nova's databases, user and schema on db and starts the
// helper. The caller must call Close (which leaves db running).
func SetupNova(db *MariaDB) (*Nova, error) {
	for _, p := range []string{novaManage, "/usr/lib/python3/dist-packages/nova/objects/console_auth_token.py"} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s not installed (Debian packages nova-common, python3-nova): %w", p, err)
		}
	}
	dir, err := os.MkdirTemp("", "novatest-nova-")
	if err != nil {
		return nil, err
	}
	n := &Nova{DB: db, Dir: dir, User: "nova", Password: "n0va@p:ss/w%rd+" + randomSuffix()}
	if err := n.setup(); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (n *Nova) setup() error {
	if err := n.DB.Exec("CREATE DATABASE nova_api", "CREATE DATABASE nova", "CREATE DATABASE nova_cell0"); err != nil {
		return err
	}
	if err := n.DB.CreateUser(n.User, n.Password, "ALL", "nova_api.*", "nova.*", "nova_cell0.*"); err != nil {
		return err
	}
	n.DatabaseURL = n.DB.SQLAlchemyURL(n.User, n.Password, "nova")
	n.ConfigFile = filepath.Join(n.Dir, "nova.conf")
	// In nova.conf a "$" would start a substitution; percent-encoding
	// leaves none.
	conf := fmt.Sprintf(`[DEFAULT]
state_path = %s
[api_database]
connection = %s
[database]
connection = %s
[oslo_concurrency]
lock_path = %s
`, filepath.Join(n.Dir, "state"), n.DB.SQLAlchemyURL(n.User, n.Password, "nova_api"), n.DatabaseURL, filepath.Join(n.Dir, "lock"))
	if err := os.WriteFile(n.ConfigFile, []byte(conf), 0o600); err != nil {
		return err
	}
	begin := time.Now()
	for _, args := range [][]string{{"api_db", "sync"}, {"db", "sync", "--local_cell"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, novaManage, append([]string{"--config-file", n.ConfigFile}, args...)...)
		cmd.Dir = n.Dir
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("nova-manage %v: %w\n%s", args, err, tail(out))
		}
	}
	n.SchemaTime = time.Since(begin)
	return n.startHelper()
}

func tail(b []byte) []byte {
	if len(b) > 3000 {
		return b[len(b)-3000:]
	}
	return b
}

// startHelper runs nova_helper.py and waits for it to be ready.
func (n *Nova) startHelper() error {
	h, err := startLineHelper(n.Dir, "nova_helper.py", novaHelperPy, NovaCallTimeout, 1<<20, n.ConfigFile)
	if err != nil {
		return err
	}
	n.helper = h
	return nil
}

// call sends one request to the helper and decodes its answer into resp.
func (n *Nova) call(req map[string]any, resp any) error {
	if n.helper == nil {
		return errors.New("nova helper not running")
	}
	return n.helper.call(req, resp)
}

// CreateInstance creates an instance with Nova's objects.Instance.create().
func (n *Nova) CreateInstance(tb testing.TB, spec InstanceSpec) Instance {
	tb.Helper()
	req := map[string]any{"op": "create_instance", "host": spec.Host, "node": spec.Node,
		"project_id": spec.ProjectID, "user_id": spec.UserID, "vm_state": spec.VMState,
		"display_name": spec.DisplayName, "no_host": spec.NoHost}
	if spec.TaskState != "" {
		req["task_state"] = spec.TaskState
	}
	var inst Instance
	if err := n.call(req, &inst); err != nil {
		tb.Fatal(err)
	}
	return inst
}

// CreateToken authorizes a console token with Nova's
// objects.ConsoleAuthToken(...).authorize(ttl) and returns it. The token is a
// secret: do not log it.
func (n *Nova) CreateToken(tb testing.TB, spec TokenSpec) string {
	tb.Helper()
	if spec.InstanceUUID == "" {
		spec.InstanceUUID = n.CreateInstance(tb, InstanceSpec{}).UUID
	}
	req := spec.request()
	req["op"] = "create_token"
	var resp struct{ Token string }
	if err := n.call(req, &resp); err != nil {
		tb.Fatal(err)
	}
	return resp.Token
}

// DeleteInstance deletes an instance as Nova does (Instance.destroy()): the
// row is soft-deleted and its console tokens removed.
func (n *Nova) DeleteInstance(tb testing.TB, uuid string) {
	tb.Helper()
	if err := n.call(map[string]any{"op": "delete_instance", "uuid": uuid}, &struct{}{}); err != nil {
		tb.Fatal(err)
	}
}

// SoftDeleteInstanceRow marks the instance's row deleted (deleted = id, as
// Nova's soft delete) and leaves its tokens: the state a proxy sees when an
// instance goes away while its tokens are still in the table.
func (n *Nova) SoftDeleteInstanceRow(tb testing.TB, uuid string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.DB.Root().ExecContext(ctx, "UPDATE nova.instances SET deleted = id, deleted_at = UTC_TIMESTAMP() WHERE uuid = ?", uuid); err != nil {
		tb.Fatal(err)
	}
}

// NovaValidates reports whether Nova's own ConsoleAuthToken.validate takes
// the token (known, not expired), for comparisons with vncrelay's lookup.
func (n *Nova) NovaValidates(tb testing.TB, token string) bool {
	tb.Helper()
	var resp struct{ Valid bool }
	if err := n.call(map[string]any{"op": "validate_token", "token": token}, &resp); err != nil {
		tb.Fatal(err)
	}
	return resp.Valid
}

// Close stops the helper and removes Dir; with a MariaDB of its own (Shared,
// StartNova) it stops that too.
func (n *Nova) Close() error {
	var errs []error
	if n.helper != nil {
		_ = n.helper.close()
	}
	if n.ownsDB {
		errs = append(errs, n.DB.Close())
	}
	errs = append(errs, os.RemoveAll(n.Dir))
	return errors.Join(errs...)
}

// StartNova starts a MariaDB with Nova's schema for tb alone (about 15 s)
// and removes both when tb ends. Most tests want Shared.
func StartNova(tb testing.TB) *Nova {
	tb.Helper()
	needPackage(tb, mariadbd, "mariadb-server")
	needPackage(tb, novaManage, "nova-common")
	n, err := newOwnNova()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("close Nova: %v", err)
		}
	})
	return n
}

func newOwnNova() (*Nova, error) {
	db, err := NewMariaDB()
	if err != nil {
		return nil, err
	}
	n, err := SetupNova(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	n.ownsDB = true
	return n, nil
}

var shared struct {
	mu   sync.Mutex
	nova *Nova
	err  error
}

// Shared returns the test binary's MariaDB with Nova's schema, set up by the
// first caller (about 15 s; logged). Tests that stop or pause its MariaDB
// must start or resume it before they end. TestMain must call CloseShared
// after m.Run.
func Shared(tb testing.TB) *Nova {
	tb.Helper()
	needPackage(tb, mariadbd, "mariadb-server")
	needPackage(tb, novaManage, "nova-common")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.nova == nil && shared.err == nil {
		begin := time.Now()
		shared.nova, shared.err = newOwnNova()
		if shared.err == nil {
			tb.Logf("MariaDB with Nova's schema ready in %v (schema %v)",
				time.Since(begin).Round(time.Millisecond), shared.nova.SchemaTime.Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		tb.Fatalf("set up Nova's database: %v", shared.err)
	}
	return shared.nova
}

// CloseShared stops what Shared started, if anything.
func CloseShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.nova == nil {
		return nil
	}
	err := shared.nova.Close()
	shared.nova = nil
	return err
}
