// A terminal's WebSocket client, as small as websocat's line mode: each line typed is one text
// frame, each frame received is printed. The tmux test (terminal.test.ts) types into it.

import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const ws = new WebSocket(process.argv[2] ?? 'ws://localhost:3000/ws?format=text');
ws.on('message', (data) => console.log(data.toString()));
ws.on('error', (err) => console.log(`(error: ${err.message})`));
ws.on('close', (code, reason) => {
  console.log(`(closed: ${code} ${reason.toString()})`);
  process.exit(0);
});
ws.on('open', () => createInterface({ input: process.stdin }).on('line', (line) => ws.send(line)));
