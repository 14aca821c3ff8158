// Reads a recording file as noVNC's playback page does (tests/playback-ui.js:
// the file is a script defining VNC_frame_data; each entry up to 'EOF' is
// "{MS{DATA" from the server or "}MS}DATA" from the client, DATA's character
// codes being the bytes) and prints JSON: the server's and the client's bytes
// as hex, and the timestamps.
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const ctx = {};
vm.runInNewContext(readFileSync(process.argv[2], 'latin1') + '\nthis.frames = VNC_frame_data;', ctx);
const server = [], client = [], times = [];
let eof = false;
for (const frame of ctx.frames) {
  if (frame === 'EOF') { eof = true; break; }
  const fromClient = frame[0] === '}';
  const dataIdx = frame.indexOf(fromClient ? '}' : '{', 1) + 1;
  times.push(parseInt(frame.slice(1, dataIdx - 1)));
  const out = fromClient ? client : server;
  for (let j = dataIdx; j < frame.length; j++) {
    const code = frame.charCodeAt(j);
    if (code > 255) throw new Error('character above 255 at ' + j);
    out.push(code);
  }
}
console.log(JSON.stringify({ eof, server: Buffer.from(server).toString('hex'),
  client: Buffer.from(client).toString('hex'), times }));
