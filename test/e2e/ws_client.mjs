// A console session through the relay with Node's `ws` (npm), a WebSocket
// client vncrelay did not write: RFB handshake, then `total` random bytes
// echoed back by the console and compared by SHA-256, then a normal close.
// Usage: node ws_client.mjs URL TOTAL. Prints one JSON line; exits 1 on failure.
import WebSocket from 'ws';
import { createHash, randomBytes } from 'node:crypto';

const [url, totalArg] = process.argv.slice(2);
const total = Number(totalArg);
const timer = setTimeout(() => fail('timed out'), 60000);

function fail(msg) {
  console.log(JSON.stringify({ ok: false, error: String(msg) }));
  process.exit(1);
}

const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
let buf = Buffer.alloc(0);
let waiter = null;
ws.on('message', (data, isBinary) => {
  if (!isBinary) fail('text frame from relay');
  buf = Buffer.concat([buf, data]);
  if (waiter) waiter();
});
ws.on('error', fail);

function need(n) {
  return new Promise((resolve) => {
    const check = () => {
      if (buf.length >= n) {
        const out = buf.subarray(0, n);
        buf = buf.subarray(n);
        waiter = null;
        resolve(out);
      }
    };
    waiter = check;
    check();
  });
}

ws.on('open', async () => {
  try {
    if (ws.protocol !== 'binary') fail(`subprotocol ${ws.protocol}`);
    const version = (await need(12)).toString();
    if (version !== 'RFB 003.008\n') fail(`version ${version}`);
    ws.send(Buffer.from('RFB 003.008\n'));
    const n = (await need(1))[0];
    await need(n);
    ws.send(Buffer.from([1]));
    if ((await need(4)).readUInt32BE(0) !== 0) fail('security result');
    ws.send(Buffer.from([1]));
    const init = await need(24);
    const name = (await need(init.readUInt32BE(20))).toString();

    const data = randomBytes(total);
    let off = 0;
    while (off < total) {
      const size = Math.min(total - off, 1 + Math.floor(Math.random() * 65536));
      ws.send(data.subarray(off, off + size));
      off += size;
    }
    const echoed = await need(total);
    const want = createHash('sha256').update(data).digest('hex');
    const got = createHash('sha256').update(echoed).digest('hex');
    if (want !== got) fail('echo differs');
    ws.on('close', (code) => {
      clearTimeout(timer);
      console.log(JSON.stringify({ ok: code === 1000, code, bytes: total, sha256: got, desktop: name }));
      process.exit(code === 1000 ? 0 : 1);
    });
    ws.close(1000, 'done');
  } catch (e) {
    fail(e);
  }
});
