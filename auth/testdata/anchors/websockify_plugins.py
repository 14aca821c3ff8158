"""Resolve tokens with websockify's own token plugin classes, for vncrelay's
differential tests of its stores. Reads one JSON object on stdin:
{"plugin": class name, "source": --token-source, "tokens": [str, ...]}
and writes a JSON object {"version": str, "results": [...]}, one result per
token: {"pair": [host, port]} for a target, {"pair": null} for "not found"
(lookup returned None) and {"error": text} when lookup raised (websockify
then drops the connection). Building the plugin may fail too: then the
output is {"version": ..., "init_error": text}. A JSON list of such objects
gives a list of outputs (one Python start for several sources).

By default the plugins are Debian's python3-websockify (0.10); with the
environment variable WEBSOCKIFY_TOKEN_PLUGINS naming a token_plugins.py of
another websockify release, that file is loaded instead. Run with Debian's
/usr/bin/python3 (it has python3-redis, python3-requests, python3-jwcrypto).
"""
import importlib.util
import json
import logging
import os
import sys


def load_plugins():
    path = os.environ.get("WEBSOCKIFY_TOKEN_PLUGINS")
    if not path:
        from websockify import token_plugins
        return token_plugins, "debian"
    spec = importlib.util.spec_from_file_location("ws_token_plugins", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, path


def plain(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    return v


def main():
    logging.disable(logging.CRITICAL)
    req = json.load(sys.stdin)
    mod, version = load_plugins()
    if isinstance(req, list):
        outs = [run(mod, version, r) for r in req]
    else:
        outs = run(mod, version, req)
    json.dump(outs, sys.stdout)


def run(mod, version, req):
    out = {"version": version}
    cls = getattr(mod, req["plugin"], None)
    if cls is None:
        out["init_error"] = "no such plugin"
        return out
    devnull = open(os.devnull, "w")
    real_stderr, sys.stderr = sys.stderr, devnull  # 0.10 prints tokens
    try:
        plugin = cls(req["source"])
    except BaseException as e:  # 0.10 and 0.13 call sys.exit on a bad source
        sys.stderr = real_stderr
        out["init_error"] = type(e).__name__
        return out
    results = []
    for tok in req["tokens"]:
        try:
            pair = plugin.lookup(tok)
            if pair is None:
                results.append({"pair": None})
            else:
                results.append({"pair": [plain(x) for x in pair]})
        except BaseException as e:
            results.append({"error": type(e).__name__})
    sys.stderr = real_stderr
    out["results"] = results
    return out


main()
