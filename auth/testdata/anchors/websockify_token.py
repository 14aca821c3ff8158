"""Extract tokens with websockify's own ProxyRequestHandler.get_target, for
vncrelay's conformance tests. Reads a JSON list of requests
{"path", "host", "cookie", "host_token"} on stdin, values in base64 and read as
ISO-8859-1 as http.server does; writes a JSON list of
{"token": str} or {"token": null} (websockify's "Token not present").
Run with Debian's /usr/bin/python3 and python3-websockify."""
import base64
import json
import sys
from http.client import HTTPMessage

from websockify import websocketproxy


class EchoPlugin:
    def lookup(self, token):
        return ["token", token]


class Server:
    token_plugin = EchoPlugin()

    class EClose(Exception):
        pass


def latin1(b64):
    return base64.b64decode(b64).decode("iso-8859-1")


results = []
for req in json.load(sys.stdin):
    handler = websocketproxy.ProxyRequestHandler.__new__(websocketproxy.ProxyRequestHandler)
    handler.server = Server
    handler.host_token = req["host_token"]
    handler.path = latin1(req["path"])
    handler.headers = HTTPMessage()
    if req["host"]:
        handler.headers["Host"] = latin1(req["host"])
    if req["cookie"]:
        handler.headers["Cookie"] = latin1(req["cookie"])
    try:
        results.append({"token": handler.get_target(Server.token_plugin)[1]})
    except Server.EClose:
        results.append({"token": None})
json.dump(results, sys.stdout)
