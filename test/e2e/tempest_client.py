"""OpenStack tempest's console client, as its test_novnc tests use it
(tempest/common/compute.py: create_websocket, _WebSocket; and
tempest/api/compute/servers/test_novnc.py), reproduced byte for byte and
judged the same way, so that vncrelay is held to what tempest checks.

It is a hand-written socket client: it sends a fixed upgrade request with the
URL's query also sent as a Cookie header, reads the response head with
recv(4096) calls, keeps what follows the head as the start of the frame
stream, and reads frames by a 2-byte header whose second byte is taken as the
length (no extended lengths, no masks from the server).

Usage: python3 tempest_client.py good|bad URL
  good: the upgrade must give 101 with "upgrade: websocket", then RFB is
        negotiated (version 3.3 or 3.8, security None, ClientInit shared) and
        the ServerInit frame must have the right length.
  bad:  the relay must refuse and close: the first frame read must be
        nothing at all (tempest fails if any payload comes back).
Prints one JSON line: {"ok": bool, "error": str, "status_line": str}."""
import json
import socket
import struct
import sys
import urllib.parse


class Client:
    MASK = bytes((7, 2, 1, 9))  # tempest's fixed mask

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=15)
        self.pending = b""
        params = urllib.parse.parse_qs(u.query)
        path = params["path"][0] if "path" in params else "websockify"
        host = u.hostname + (":%d" % u.port if u.port else "")
        request = ("GET /%s HTTP/1.1\r\n"
                   "Host: %s\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Cookie: %s\r\n"
                   "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: binary\r\n\r\n") % (path, host, u.query)
        self.sock.sendall(request.encode())
        data = self.response = self.sock.recv(4096)
        end = self.response.find(b"\r\n\r\n")
        while data and end < 0:
            data = self.sock.recv(4096)
            self.response += data
            end = self.response.find(b"\r\n\r\n")
        if end >= 0 and len(self.response) > end + 4:
            self.pending = self.response[end + 4:]
            self.response = self.response[:end + 4]

    def recv(self, n):
        if n <= 0:
            return None
        head, self.pending = self.pending[:n], self.pending[n:]
        n -= len(head)
        return head + (self.sock.recv(n) if n > 0 else b"")

    def receive_frame(self):
        while True:
            header = self.recv(2)
            if not header:
                return None
            if header[1] & 127 > 0:
                return self.recv(header[1] & 127)

    def send_frame(self, data):
        out = bytes((130, len(data) | 128)) + self.MASK
        out += bytes(b ^ self.MASK[i % 4] for i, b in enumerate(data))
        self.sock.sendall(out)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def good(c):
    check(c.response.startswith(b"HTTP/1.1 101 Switching Protocols"), "status %r" % c.response[:40])
    check(b"upgrade: websocket" in c.response.lower(), "no upgrade header")
    data = c.receive_frame()
    check(data, "connection closed before the RFB version")
    version = float("%d.%d" % (int(data[4:7]), int(data[8:11])))
    check(version in (3.3, 3.8), "RFB version %r" % data)
    c.send_frame(data)
    data = c.receive_frame()
    check(data is not None, "no security types")
    if version == 3.3:
        check(len(data) == 4 and 1 in (data[0], data[3]), "security %r" % data)
    else:
        check(len(data) >= 2 and 1 in data[1:1 + data[0]], "security types %r" % data)
        c.send_frame(bytes((1,)))
        data = c.receive_frame()
        check(data == b"\0\0\0\0", "security result %r" % data)
    c.send_frame(bytes((1,)))  # ClientInit: shared
    data = c.receive_frame() or b""
    check(len(data) > 24 and len(data) == struct.unpack(">L", data[20:24])[0] + 24,
          "ServerInit of %d bytes" % len(data))


def bad(c):
    data = c.receive_frame()
    check(data is None or not data, "the relay sent %d bytes after refusing" % len(data or b""))


def main():
    mode, url = sys.argv[1], sys.argv[2]
    result = {"ok": False, "error": "", "status_line": ""}
    try:
        c = Client(url)
        result["status_line"] = c.response.split(b"\r\n", 1)[0].decode("latin-1")
        (good if mode == "good" else bad)(c)
        result["ok"] = True
    except Exception as e:  # reported, judged by the Go test
        result["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
