"""Print how SQLAlchemy (Debian's 1.4) splits database URLs, as JSON lines.

Usage: /usr/bin/python3 sqlalchemy_url.py < urls.json

urls.json is a list of strings. For each URL one line is printed:
{"drivername", "username", "password", "host", "port", "database", "query"}
or {"error": "..."}. nova/dburl_test.go compares ParseDatabaseURL with it.
"""
import json
import sys

from sqlalchemy.engine import url as sa_url


def split(u):
    try:
        parsed = sa_url.make_url(u)
    except Exception as e:  # ArgumentError, ValueError from int(port)
        return {'error': '%s: %s' % (type(e).__name__, e)}
    return {
        'drivername': parsed.drivername,
        'username': parsed.username,
        'password': parsed.password,
        'host': parsed.host,
        'port': parsed.port,
        'database': parsed.database,
        'query': dict(parsed.query),
    }


for u in json.load(sys.stdin):
    print(json.dumps(split(u)))
