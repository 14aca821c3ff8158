"""Create instances and console tokens with Nova's own code, for Go tests.

Usage: /usr/bin/python3 nova_helper.py NOVA_CONF

Reads one JSON request per line on stdin and answers one JSON line on stdout:

  {"op": "create_instance", "host": ..., "node": ..., "project_id": ...,
   "user_id": ..., "vm_state": ..., "task_state": ..., "power_state": ...,
   "display_name": ...}
      -> {"uuid": ..., "id": ...}        objects.Instance(...).create()
  {"op": "create_token", "console_type": ..., "host": ..., "port": ...,
   "internal_access_path": ..., "access_url_base": ..., "instance_uuid": ...,
   "ttl": seconds}
      -> {"token": ...}                  objects.ConsoleAuthToken(...).authorize(ttl)
  {"op": "delete_instance", "uuid": ...}
      -> {}                              objects.Instance.destroy(): the row is
                                         soft-deleted and its tokens removed
  {"op": "validate_token", "token": ...}
      -> {"valid": bool, ...}            objects.ConsoleAuthToken.validate()

Errors answer {"error": "..."}. Nova's log goes to stderr. The answers carry
tokens: the Go side never prints them.
"""
import json
import sys

from nova.compute import power_state
from nova.compute import vm_states
from nova import config
from nova import context
from nova import exception
from nova import objects


def create_instance(ctxt, req):
    inst = objects.Instance(
        ctxt,
        host=req.get('host') or 'compute1',
        node=req.get('node') or 'compute1.example.org',
        project_id=req.get('project_id') or 'project1',
        user_id=req.get('user_id') or 'user1',
        vm_state=req.get('vm_state') or vm_states.ACTIVE,
        task_state=req.get('task_state'),
        power_state=req.get('power_state', power_state.RUNNING),
        display_name=req.get('display_name') or 'vm1',
        hostname=req.get('display_name') or 'vm1',
        launched_on=req.get('host') or 'compute1',
        availability_zone='nova',
    )
    if req.get('no_host'):
        inst.host = None
    inst.create()
    return {'uuid': inst.uuid, 'id': inst.id}


def create_token(ctxt, req):
    tok = objects.ConsoleAuthToken(
        ctxt,
        console_type=req['console_type'],
        host=req['host'],
        port=req['port'],
        internal_access_path=req.get('internal_access_path'),
        instance_uuid=req['instance_uuid'],
        access_url_base=req.get('access_url_base'),
    )
    return {'token': tok.authorize(req['ttl'])}


def delete_instance(ctxt, req):
    objects.Instance.get_by_uuid(ctxt, req['uuid']).destroy()
    return {}


def validate_token(ctxt, req):
    try:
        t = objects.ConsoleAuthToken.validate(ctxt, req['token'])
    except exception.InvalidToken:
        return {'valid': False}
    return {'valid': True, 'host': t.host, 'port': t.port,
            'console_type': t.console_type}


OPS = {
    'create_instance': create_instance,
    'create_token': create_token,
    'delete_instance': delete_instance,
    'validate_token': validate_token,
}


def serve(prog, ops):
    """Load Nova's objects and the config file sys.argv[1] (prog names the
    program in oslo's messages), say ready, then answer each request line
    with ops[request's "op"]; nova_bulk.py serves its own ops with it."""
    objects.register_all()
    config.parse_args([prog, '--config-file', sys.argv[1]],
                      init_rpc=False)
    ctxt = context.get_admin_context()
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            resp = ops[req['op']](ctxt, req)
        except Exception as e:
            resp = {'error': '%s: %s' % (type(e).__name__, e)}
        print(json.dumps(resp), flush=True)


if __name__ == '__main__':
    serve('novatest', OPS)
