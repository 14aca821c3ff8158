"""Create instances and console tokens in bulk with Nova's own code, for
vncrelay's benchmark harness (one token per console of a run).

Usage: /usr/bin/python3 nova_bulk.py NOVA_CONF

The protocol is nova_helper.py's, served by its serve(): one JSON request
per line on stdin, one JSON answer line on stdout, {"ready": true} first:

  {"op": "create_instances", "count": N, "host": ..., "node": ...,
   "project_id": ..., "user_id": ..., "display_name": ...}
      -> {"instances": [{"uuid": ..., "id": ...}, ...]}
         objects.Instance(...).create(), N times
  {"op": "create_tokens", "tokens": [{"console_type": ..., "host": ...,
   "port": ..., "internal_access_path": ..., "access_url_base": ...,
   "instance_uuid": ..., "ttl": seconds}, ...]}
      -> {"tokens": [...]}, in the order asked
         objects.ConsoleAuthToken(...).authorize(ttl) for each
  {"op": "delete_tokens", "instance_uuids": [...]}
      -> {}   objects.ConsoleAuthToken.clean_console_auths_for_instance()
              for each: the tokens of those instances are removed

Errors answer {"error": "..."}. Nova's log goes to stderr. The answers carry
tokens: the Go side never prints them.
"""
from nova.compute import power_state
from nova.compute import vm_states
from nova import objects

from nova_helper import create_token, serve  # beside this file (NewBulk)


def create_instances(ctxt, req):
    host = req.get('host') or 'compute1'
    name = req.get('display_name') or 'bench'
    out = []
    for i in range(int(req['count'])):
        inst = objects.Instance(
            ctxt,
            host=host,
            node=req.get('node') or host + '.example.org',
            project_id=req.get('project_id') or 'project1',
            user_id=req.get('user_id') or 'user1',
            vm_state=vm_states.ACTIVE,
            power_state=power_state.RUNNING,
            display_name='%s-%d' % (name, i),
            hostname='%s-%d' % (name, i),
            launched_on=host,
            availability_zone='nova',
        )
        inst.create()
        out.append({'uuid': inst.uuid, 'id': inst.id})
    return {'instances': out}


def create_tokens(ctxt, req):
    return {'tokens': [create_token(ctxt, spec)['token']
                       for spec in req['tokens']]}


def delete_tokens(ctxt, req):
    for uuid in req['instance_uuids']:
        objects.ConsoleAuthToken.clean_console_auths_for_instance(ctxt, uuid)
    return {}


OPS = {
    'create_instances': create_instances,
    'create_tokens': create_tokens,
    'delete_tokens': delete_tokens,
}


serve('novabulk', OPS)
