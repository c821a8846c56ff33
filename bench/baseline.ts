// The baseline for `npm run bench`: a bare `ws` broadcast server with nothing of plainchat's (no
// rooms, names, presence, history, limits or heartbeats), so the benchmark can say what plainchat's
// features cost over the least a chat server on `ws` must do. Run as its own process by bench/run.ts.

import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data) => {
    const parsed = JSON.parse(data.toString());
    // Serialized once for everyone, as plainchat does.
    const frame = JSON.stringify({ type: 'message', data: { sender: 'bench', message: parsed.data, ts: Date.now() } });
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(frame);
  });
});

wss.on('listening', () => {
  const { port } = wss.address() as AddressInfo;
  // Worded like plainchat's banner so that one pattern finds the port of either.
  console.log(`baseline is listening: open http://127.0.0.1:${port} `);
});
