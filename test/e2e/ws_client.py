"""A console session through the relay with Python `websockets` (Debian's
python3-websockets), a client vncrelay did not write: RFB handshake, then
TOTAL random bytes echoed by the console and compared by SHA-256, then a
normal close. Usage: python3 ws_client.py URL TOTAL. Prints one JSON line."""
import asyncio
import hashlib
import json
import os
import random
import sys

import websockets


async def session(url, total):
    async with websockets.connect(url, subprotocols=["binary"], max_size=None,
                                  compression=None) as ws:
        if ws.subprotocol != "binary":
            raise RuntimeError(f"subprotocol {ws.subprotocol!r}")
        buf = bytearray()

        async def need(n):
            while len(buf) < n:
                msg = await ws.recv()
                if isinstance(msg, str):
                    raise RuntimeError("text frame from relay")
                buf.extend(msg)
            out = bytes(buf[:n])
            del buf[:n]
            return out

        if await need(12) != b"RFB 003.008\n":
            raise RuntimeError("bad version")
        await ws.send(b"RFB 003.008\n")
        n = (await need(1))[0]
        await need(n)
        await ws.send(b"\x01")
        if await need(4) != b"\x00\x00\x00\x00":
            raise RuntimeError("security result")
        await ws.send(b"\x01")
        init = await need(24)
        await need(int.from_bytes(init[20:24], "big"))

        data = os.urandom(total)

        async def sender():
            off = 0
            while off < total:
                size = min(total - off, random.randint(1, 65536))
                await ws.send(data[off:off + size])
                off += size

        send_task = asyncio.create_task(sender())
        echoed = await need(total)
        await send_task
        if hashlib.sha256(echoed).digest() != hashlib.sha256(data).digest():
            raise RuntimeError("echo differs")
        await ws.close(code=1000, reason="done")
        return ws.close_code, hashlib.sha256(echoed).hexdigest()


def main():
    url, total = sys.argv[1], int(sys.argv[2])
    try:
        code, digest = asyncio.run(asyncio.wait_for(session(url, total), 60))
    except Exception as e:  # report any failure as one JSON line
        print(json.dumps({"ok": False, "error": repr(e)}))
        sys.exit(1)
    print(json.dumps({"ok": code == 1000, "code": code, "bytes": total, "sha256": digest}))
    sys.exit(0 if code == 1000 else 1)


main()
