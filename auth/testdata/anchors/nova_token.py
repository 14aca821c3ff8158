"""Extract tokens with Nova's own NovaProxyRequestHandler.new_websocket_client,
stopped where it looks the token up, for vncrelay's conformance tests. Reads
a JSON list of requests {"path", "cookie"} on stdin, values in base64 and read as
ISO-8859-1 as http.server does; writes a JSON list of
{"token": str}. Run with Debian's /usr/bin/python3 and python3-nova."""
import base64
import json
import logging
import sys
from http.client import HTTPMessage

from nova.console import websocketproxy


class Looked(Exception):
    pass


def stop_at_lookup(self, ctxt, token):
    raise Looked(token)


logging.disable(logging.CRITICAL)
websocketproxy.NovaProxyRequestHandler._get_connect_info = stop_at_lookup


def latin1(b64):
    return base64.b64decode(b64).decode("iso-8859-1")


results = []
for req in json.load(sys.stdin):
    handler = websocketproxy.NovaProxyRequestHandler.__new__(websocketproxy.NovaProxyRequestHandler)
    handler.path = latin1(req["path"])
    handler.headers = HTTPMessage()
    if req["cookie"]:
        handler.headers["Cookie"] = latin1(req["cookie"])
    try:
        handler.new_websocket_client()
        results.append({"error": "returned without a lookup"})
    except Looked as e:
        results.append({"token": e.args[0]})
json.dump(results, sys.stdout)
