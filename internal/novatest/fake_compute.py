"""A nova-compute stand-in for vncrelay's tests, built from Nova's own code.

Run with Debian's /usr/bin/python3 (python3-nova, python3-oslo.messaging).
Three modes, each reading a nova.conf that names [DEFAULT] transport_url:

serve --host H [--host H2 ...] --answers FILE
    Serves the compute RPC topic for each host exactly as nova-compute does
    (nova.service.Service.start): eventlet monkey-patching, Nova's config
    defaults (control_exchange "nova"), nova.rpc.get_server with
    Target(topic="compute", server=H) and NovaObjectSerializer (wrapped by
    nova.rpc in RequestContextSerializer). The endpoint declares the compute
    manager's RPC API version (6.1), so the oslo dispatcher refuses what a
    real compute would refuse. validate_console_port checks that it received
    a real nova.objects.Instance, evaluates instance.name as the libvirt
    driver does, prints what it got as one JSON line (with lag_ms, the
    milliseconds since the caller stamped the context), and answers from
    FILE, re-read on every call: {"<instance uuid>": {"port": "5900"}} ->
    True when the port matches; {"hang": seconds} -> sleeps first;
    {"error": "InstanceNotFound"} -> raises it as the libvirt driver does for
    a missing domain. An instance not in FILE gets False.

capture --host H
    Declares the compute.H queue the way oslo's rabbit driver does and prints
    every message that reaches it: AMQP properties, delivery info and the
    decoded oslo envelope. Never answers.

call --uuid U --host H --id N --port P --console-type T
    Calls validate_console_port through Nova 26's own client
    (nova.compute.rpcapi.ComputeAPI) with an admin context, as
    nova-novncproxy does, and prints the result or the exception class.

Every mode prints {"event": "ready"} once it is serving, and JSON lines
only on stdout; logs go to stderr.
"""

import nova.monkey_patch  # noqa: F401  (eventlet first, as nova/cmd does)

import argparse
import json
import os
import signal
import sys
import time

import eventlet

from nova import config
from nova import context as nova_context
from nova import exception
from nova import objects
from nova import rpc
from nova.objects import base as objects_base
import oslo_messaging as messaging
from oslo_utils import timeutils


# How long the previous emit() took to write its line: the harness reads
# the pipe, and a full pipe stalls this whole (green-threaded) process.
_last_emit_ms = [0.0]


def emit(obj):
    begin = time.monotonic()
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
    _last_emit_ms[0] = (time.monotonic() - begin) * 1000


class ComputeStandIn(object):
    # The compute manager's RPC API version in Nova 26 (ComputeManager.target).
    target = messaging.Target(version='6.1')

    def __init__(self, host, answers):
        self.host = host
        self.answers = answers

    def _answer(self, uuid):
        try:
            with open(self.answers) as f:
                return json.load(f).get(uuid) or {}
        except FileNotFoundError:
            return {}

    @messaging.expected_exceptions(exception.InstanceNotFound)
    def validate_console_port(self, ctxt, instance, port, console_type):
        # How long the call took to get here from the caller's clock
        # (the context's timestamp: when the caller built the message):
        # publish, broker queue, this process's consumer and dispatch.
        lag_ms = None
        stamp = getattr(ctxt, 'timestamp', None)
        if stamp is not None:
            lag_ms = round((timeutils.utcnow() - stamp).total_seconds() * 1000, 3)
        event = {
            'lag_ms': lag_ms,
            'prev_emit_ms': round(_last_emit_ms[0], 3),
            'event': 'call',
            'server': self.host,
            'is_instance': isinstance(instance, objects.Instance),
            'port': port,
            'port_type': type(port).__name__,
            'console_type': console_type,
            'context_class': type(ctxt).__module__ + '.' + type(ctxt).__name__,
            'context_is_admin': getattr(ctxt, 'is_admin', None),
            'context_request_id': getattr(ctxt, 'request_id', None),
        }
        if event['is_instance']:
            event['uuid'] = instance.uuid
            event['instance_host'] = instance.host
            event['fields_set'] = sorted(
                k for k in instance.fields if instance.obj_attr_is_set(k))
            event['changes'] = sorted(instance.obj_what_changed())
            # The libvirt driver evaluates instance.name (from id) before it
            # looks the domain up by uuid: a primitive without id breaks it.
            event['name'] = instance.name
        emit(event)
        if not event['is_instance']:
            raise TypeError('instance is %s, not an Instance' %
                            type(instance).__name__)
        answer = self._answer(instance.uuid)
        if answer.get('hang'):
            eventlet.sleep(float(answer['hang']))
        if answer.get('error') == 'InstanceNotFound':
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return str(answer.get('port')) == port


def parse_conf(path):
    config.parse_args(['fake_compute', '--config-file', path],
                      configure_db=False)
    objects.register_all()


def serve(args):
    servers = []
    for host in args.host:
        target = messaging.Target(topic='compute', server=host)
        server = rpc.get_server(target, [ComputeStandIn(host, args.answers)],
                                objects_base.NovaObjectSerializer())
        server.start()
        servers.append(server)
    emit({'event': 'ready', 'hosts': args.host})
    stop = eventlet.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.ready() or stop.send())
    stop.wait()
    # oslo's server can take long to stop while it is reconnecting (after a
    # broker restart): bound the graceful stop, then leave regardless.
    signal.alarm(10)
    graceful = False
    with eventlet.Timeout(5, False):
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        rpc.cleanup()
        graceful = True
    emit({'event': 'stopped', 'graceful': graceful})
    os._exit(0)


def capture(args):
    # Declared with the same flags as oslo's declare_topic_consumer (and
    # bound to the "nova" topic exchange), so either side may create them.
    from urllib.parse import quote
    import kombu
    import nova.conf
    from oslo_messaging import transport as om_transport
    url = om_transport.TransportURL.parse(nova.conf.CONF)
    host = url.hosts[0]
    conn = kombu.Connection('amqp://%s:%s@%s:%d/%s' % (
        quote(host.username, safe=''), quote(host.password, safe=''),
        host.hostname, host.port or 5672, quote(url.virtual_host or '')))
    channel = conn.channel()
    exchange = kombu.Exchange('nova', type='topic', durable=False,
                              auto_delete=False)
    queue = kombu.Queue('compute.' + args.host, exchange=exchange,
                        routing_key='compute.' + args.host, durable=False,
                        auto_delete=False, channel=channel)
    queue.declare()

    def on_message(body, message):
        raw = message.body
        if isinstance(raw, bytes):
            raw = raw.decode('utf-8')
        envelope = json.loads(raw)
        emit({'event': 'message',
              'properties': message.properties,
              'headers': message.headers,
              'delivery_info': {k: message.delivery_info.get(k) for k in
                                ('exchange', 'routing_key')},
              'envelope_keys': list(envelope.keys()),
              'envelope': envelope,
              'message': json.loads(envelope.get('oslo.message', 'null'))})
        message.ack()

    consumer = kombu.Consumer(channel, queues=[queue], callbacks=[on_message],
                              accept=None)
    consumer.consume()
    emit({'event': 'ready', 'hosts': [args.host]})
    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    while not stopping:
        try:
            conn.drain_events(timeout=0.2)
        except Exception:  # socket.timeout
            pass
    conn.release()
    emit({'event': 'stopped'})


def call(args):
    from nova.compute import rpcapi as compute_rpcapi
    ctxt = nova_context.get_admin_context()
    inst = objects.Instance(ctxt)
    inst.id = args.id
    inst.uuid = args.uuid
    inst.host = args.host
    inst.obj_reset_changes()
    emit({'event': 'ready'})
    try:
        result = compute_rpcapi.ComputeAPI().validate_console_port(
            ctxt, inst, str(args.port), args.console_type)
        emit({'event': 'result', 'result': result})
    except Exception as e:
        emit({'event': 'result', 'exception': type(e).__name__})


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['serve', 'capture', 'call'])
    p.add_argument('--config-file', required=True)
    p.add_argument('--host', action='append', required=True)
    p.add_argument('--answers')
    p.add_argument('--uuid')
    p.add_argument('--id', type=int)
    p.add_argument('--port')
    p.add_argument('--console-type', default='novnc')
    args = p.parse_args()
    parse_conf(args.config_file)
    if args.mode == 'serve':
        serve(args)
    elif args.mode == 'capture':
        args.host = args.host[0]
        capture(args)
    else:
        args.host = args.host[0]
        call(args)


if __name__ == '__main__':
    main()
