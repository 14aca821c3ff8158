package novatest

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// This file holds what the benchmark harness (bench/, cmd/vncrelay-bench)
// needs beyond the test helpers: constructors without a testing.TB, the
// process IDs of the servers (to measure their CPU), a second broker user,
// and token creation in bulk.

//go:embed nova_bulk.py
var novaBulkPy []byte

// BulkCallTimeout bounds one request to the bulk helper: thousands of
// tokens, each one INSERT by Nova's code, take seconds.
const BulkCallTimeout = 5 * time.Minute

// NewFakeCompute runs the nova-compute stand-in (fake_compute.py serve) for
// hosts against transportURL, with its files in dir (which must exist and
// stay until Stop). It is StartFakeCompute without a testing.TB; the caller
// must call Stop.
func NewFakeCompute(dir, transportURL string, hosts ...string) (*FakeCompute, error) {
	for path, pkg := range map[string]string{
		debianPython:                                    "python3",
		"/usr/lib/python3/dist-packages/nova":           "python3-nova",
		"/usr/lib/python3/dist-packages/oslo_messaging": "python3-oslo.messaging",
	} {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s not installed (Debian package %s): %w", path, pkg, err)
		}
	}
	f := &FakeCompute{Hosts: hosts, answers: filepath.Join(dir, "answers.json"), answerM: map[string]map[string]any{}}
	if err := f.writeAnswers(); err != nil {
		return nil, err
	}
	args := []string{"serve", "--answers", f.answers}
	for _, h := range hosts {
		args = append(args, "--host", h)
	}
	p, err := startPy(dir, transportURL, "", args...)
	if err != nil {
		return nil, fmt.Errorf("start fake compute %v: %w", hosts, err)
	}
	f.proc = p
	f.StartupTime = p.startup
	return f, nil
}

// PID is the stand-in's process ID.
func (f *FakeCompute) PID() int { return f.proc.cmd.Process.Pid }

// PID is the running mariadbd's process ID, 0 when it is stopped.
func (m *MariaDB) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return 0
	}
	return m.proc.Process.Pid
}

// PID is the process ID of the node's start script, whose descendants are
// the Erlang VM running the node; 0 when the node is stopped.
func (r *Rabbit) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return 0
	}
	return r.proc.Process.Pid
}

// AddUser creates a broker user with password and every permission on the
// node's vhost (rabbitmqctl add_user, set_permissions), so that a client's
// connections can be told from the test user's in list_connections.
func (r *Rabbit) AddUser(user, password string) error {
	if _, err := r.Ctl("add_user", user, password); err != nil {
		return err
	}
	_, err := r.Ctl("set_permissions", "-p", r.VHost, user, ".*", ".*", ".*")
	return err
}

// Bulk runs nova_bulk.py against a Nova's databases: instances and console
// tokens made by Nova's own objects, many per request. It is safe for
// concurrent use (one request at a time).
type Bulk struct{ h *lineHelper }

// NewBulk starts the bulk helper for n (its files in n.Dir) and waits until
// Nova's code is loaded. The caller must call Close before n.Close.
func NewBulk(n *Nova) (*Bulk, error) {
	// nova_bulk.py imports nova_helper.py's serve().
	if err := os.WriteFile(filepath.Join(n.Dir, "nova_helper.py"), novaHelperPy, 0o600); err != nil {
		return nil, err
	}
	// 100,000 tokens are 4.5 MB of JSON in one answer.
	h, err := startLineHelper(n.Dir, "nova_bulk.py", novaBulkPy, BulkCallTimeout, 64<<20, n.ConfigFile)
	if err != nil {
		return nil, err
	}
	return &Bulk{h: h}, nil
}

func (b *Bulk) call(req map[string]any, resp any) error { return b.h.call(req, resp) }

// CreateInstances creates count instances with Nova's
// objects.Instance.create(), active and running on spec.Host (default
// "compute1"), named spec.DisplayName-0, -1, ... (default "bench").
// spec's VMState, TaskState and NoHost are not used.
func (b *Bulk) CreateInstances(spec InstanceSpec, count int) ([]Instance, error) {
	var resp struct{ Instances []Instance }
	err := b.call(map[string]any{"op": "create_instances", "count": count, "host": spec.Host, "node": spec.Node,
		"project_id": spec.ProjectID, "user_id": spec.UserID, "display_name": spec.DisplayName}, &resp)
	if err == nil && len(resp.Instances) != count {
		err = fmt.Errorf("nova_bulk.py made %d instances, asked %d", len(resp.Instances), count)
	}
	return resp.Instances, err
}

// CreateTokens authorizes one console token per spec with Nova's
// objects.ConsoleAuthToken(...).authorize(ttl) and returns them in order.
// Each spec needs InstanceUUID; its other zero fields take CreateToken's
// defaults. The tokens are secrets: do not log them.
func (b *Bulk) CreateTokens(specs []TokenSpec) ([]string, error) {
	reqs := make([]map[string]any, len(specs))
	for i, s := range specs {
		if s.InstanceUUID == "" {
			return nil, fmt.Errorf("token %d: no instance", i)
		}
		reqs[i] = s.request()
	}
	var resp struct{ Tokens []string }
	err := b.call(map[string]any{"op": "create_tokens", "tokens": reqs}, &resp)
	if err == nil && len(resp.Tokens) != len(specs) {
		err = fmt.Errorf("nova_bulk.py made %d tokens, asked %d", len(resp.Tokens), len(specs))
	}
	return resp.Tokens, err
}

// DeleteTokens removes every console token of the instances, with Nova's
// ConsoleAuthToken.clean_console_auths_for_instance.
func (b *Bulk) DeleteTokens(instanceUUIDs []string) error {
	return b.call(map[string]any{"op": "delete_tokens", "instance_uuids": instanceUUIDs}, &struct{}{})
}

// Close stops the helper (end of input, then SIGKILL after 10 s).
func (b *Bulk) Close() error { return b.h.close() }
