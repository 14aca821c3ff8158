"""Runs websockify's own auth plugins (Debian python3-websockify) on requests
given as JSON on stdin and prints, as JSON, how each was answered: the status
websockify sends (0 when the request passes) and its WWW-Authenticate header.
The reference for auth/requestauth.go's differential test; it prints no
credentials."""
import email.message
import json
import sys

from websockify import auth_plugins

spec = json.load(sys.stdin)
plugin = getattr(auth_plugins, spec["plugin"])(spec["source"])
out = []
for case in spec["cases"]:
    headers = email.message.Message()  # case-insensitive, as the request handler's
    for name, value in case["headers"]:
        headers[name] = value
    if case.get("cn"):
        headers["SSL_CLIENT_S_DN_CN"] = case["cn"]
    try:
        plugin.authenticate(headers=headers, target_host="h", target_port=1)
        out.append({"code": 0, "www": ""})
    except auth_plugins.AuthenticationError as e:
        out.append({"code": e.code, "www": e.headers.get("WWW-Authenticate", "")})
    except Exception as e:  # websockify lets these escape: the connection dies
        out.append({"code": -1, "www": type(e).__name__})
json.dump(out, sys.stdout)
