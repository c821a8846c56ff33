// A clean shutdown of the real process: every peer gets 1001 after what it is owed, /healthz says
// 503 while peers drain, and the process exits 0.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { connect, spawnServer, type TestClient } from './helpers.ts';
import { openRawPeer, rawRequest, upgradeRequest } from './raw-frames.ts';

test('SIGTERM: 1001 to every peer after its messages, 503 while draining, exit 0', async () => {
  const { child, port, output } = await spawnServer(['--close-timeout-ms', '1500']);
  const peers = await Promise.all(Array.from({ length: 5 }, () => connect(`ws://127.0.0.1:${port}/ws`)));
  const texts = (peer: TestClient) => peer.received.filter((e) => e.type === 'message').map((e) => `${e.data.sender}: ${e.data.message}`);
  // A peer that never answers a close keeps the drain open for --close-timeout-ms.
  const stubborn = await openRawPeer(port);
  await new Promise((resolve) => setTimeout(resolve, 100));

  for (let i = 0; i < 20; i++) peers[0]!.send(`last words ${i}`);
  child.kill('SIGTERM');

  for (const peer of peers) assert.deepEqual(await peer.closed, { code: 1001, reason: 'server shutting down' });
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 503);
  assert.equal((await health.json()).status, 'shutting-down');
  assert.match(await rawRequest(port, upgradeRequest('/ws', '', `127.0.0.1:${port}`)), /^HTTP\/1\.1 503 .*\r\n[\s\S]*Retry-After: \d+/);
  assert.equal(await stubborn.closeCode(), 1001);

  const [code] = await once(child, 'exit');
  assert.equal(code, 0, output());
  // Whatever the sender saw accepted, everyone received: nothing was lost in the shutdown.
  for (const peer of peers) assert.deepEqual(texts(peer), texts(peers[0]!));
});
