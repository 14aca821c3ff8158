"""Load token files with websockify's own ReadOnlyTokenFile, for vncrelay's
conformance tests. Reads a JSON list of file contents (base64) on stdin; writes a JSON
list of results: {"targets": {token: [host, port...]}} or {"error": "..."}.
Run with Debian's /usr/bin/python3 and python3-websockify."""
import base64
import contextlib
import io
import json
import os
import sys
import tempfile

from websockify.token_plugins import ReadOnlyTokenFile

results = []
with tempfile.TemporaryDirectory() as d:
    for i, content in enumerate(json.load(sys.stdin)):
        path = os.path.join(d, "t%d" % i)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(content))
        plugin = ReadOnlyTokenFile(path)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                plugin._load_targets()
            results.append({"targets": plugin._targets})
        except Exception as e:  # websockify fails the whole lookup
            results.append({"error": type(e).__name__})
json.dump(results, sys.stdout)
