"""Print, as JSON, the options vncrelay reads, as Nova 26 itself parses them.

Usage: /usr/bin/python3 oslo_dump.py < cases.json

cases.json is a list of {"proxy": "novnc"|"serial"|"spice", "args": [...]}.
Nova is imported once; each case runs in a forked child so that it starts
from a fresh registration. For each case the child registers the options the way nova/cmd/{novncproxy,serialproxy,
spicehtml5proxy}.py and baseproxy.py do (plus oslo.log's and the transport
URL), parses the arguments with oslo.config without default config files,
and prints one line: {"values": {"group.name": value}} or {"error": "..."}. The Go test
nova/config_test.go compares nova.Load with it.
"""
import json
import os
import sys

from oslo_log import log
from oslo_messaging import transport

import nova.conf
from nova.conf import novnc
from nova.conf import remote_debug
from nova.conf import serial_console
from nova.conf import spice
from nova.conf import vnc

PROGRAMS = {
    'novnc': 'nova-novncproxy',
    'serial': 'nova-serialproxy',
    'spice': 'nova-spicehtml5proxy',
}

OPTIONS = [
    ('DEFAULT', 'record'), ('DEFAULT', 'daemon'), ('DEFAULT', 'ssl_only'),
    ('DEFAULT', 'source_is_ipv6'), ('DEFAULT', 'cert'), ('DEFAULT', 'key'),
    ('DEFAULT', 'web'), ('DEFAULT', 'transport_url'),
    ('DEFAULT', 'debug'), ('DEFAULT', 'log_config_append'),
    ('DEFAULT', 'log_date_format'), ('DEFAULT', 'log_file'),
    ('DEFAULT', 'log_dir'), ('DEFAULT', 'watch_log_file'),
    ('DEFAULT', 'use_syslog'), ('DEFAULT', 'use_journal'),
    ('DEFAULT', 'syslog_log_facility'), ('DEFAULT', 'use_json'),
    ('DEFAULT', 'use_stderr'),
    ('remote_debug', 'host'), ('remote_debug', 'port'),
    ('vnc', 'novncproxy_host'), ('vnc', 'novncproxy_port'),
    ('vnc', 'auth_schemes'), ('vnc', 'vencrypt_client_key'),
    ('vnc', 'vencrypt_client_cert'), ('vnc', 'vencrypt_ca_certs'),
    ('serial_console', 'serialproxy_host'),
    ('serial_console', 'serialproxy_port'),
    ('spice', 'html5proxy_host'), ('spice', 'html5proxy_port'),
    ('spice', 'html5proxy_base_url'),
    ('console', 'allowed_origins'), ('console', 'ssl_ciphers'),
    ('console', 'ssl_minimum_version'),
    ('consoleauth', 'token_ttl'),
    ('database', 'connection'), ('database', 'connection_parameters'),
    ('database', 'connection_recycle_time'),
    ('upgrade_levels', 'compute'),
]


def run(proxy, args):
    conf = nova.conf.CONF
    remote_debug.register_cli_opts(conf)
    if proxy == 'novnc':
        vnc.register_cli_opts(conf)
        conf.set_default('web', '/usr/share/novnc')
    elif proxy == 'serial':
        serial_console.register_cli_opts(conf)
        conf.set_default('web', None)
    else:
        spice.register_cli_opts(conf)
    novnc.register_cli_opts(conf)
    log.register_options(conf)
    conf.register_opts(transport._transport_opts)
    try:
        conf(args, project='nova', prog=PROGRAMS[proxy],
             default_config_files=[], default_config_dirs=[])
        values = {}
        for group, name in OPTIONS:
            g = conf if group == 'DEFAULT' else conf[group]
            values[group + '.' + name] = g[name]
    except SystemExit as e:
        return {'error': 'exit %s' % e.code}
    except Exception as e:
        return {'error': '%s: %s' % (type(e).__name__, e)}
    return {'values': values}


def main():
    cases = json.load(sys.stdin)
    for case in cases:
        sys.stdout.flush()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            sys.stderr = open(os.devnull, 'w')
            out = run(case['proxy'], case['args'])
            os.write(w, json.dumps(out).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r, 'rb') as f:
            data = f.read()
        os.waitpid(pid, 0)
        print(data.decode())


main()
