// Opens a console through the relay with Node's ws, finishes the RFB
// handshake, prints "ready" and then holds the session (ws answers pings by
// itself) until killed. The test stops this process with SIGSTOP to make a
// browser that is there but answers nothing.
// Usage: node hold.mjs URL
import WebSocket from 'ws';

const ws = new WebSocket(process.argv[2], ['binary']);
let got = 0;
ws.on('message', (data) => {
  got += data.length;
  if (got === 12) {
    ws.send(Buffer.from('RFB 003.008\n'));
  } else if (got === 14) {
    ws.send(Buffer.from([1]));
  } else if (got === 18) {
    ws.send(Buffer.from([1]));
  } else if (got >= 18 + 24) {
    console.log('ready');
  }
});
ws.on('close', (code) => {
  console.log(`closed ${code}`);
  process.exit(0);
});
ws.on('error', (e) => {
  console.log(`error ${e}`);
  process.exit(1);
});
