// One test per defence: each would fail without it, and each checks that well-behaved peers keep
// chatting.

import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatServer } from '../lib/server.ts';
import { connect, join, nextMessage, scrape, startTestServer } from './helpers.ts';
import { OPCODE, openRawPeer, rawRequest, upgradeRequest } from './raw-frames.ts';

/** A new client can still join and get its own message back. */
async function assertChatWorks(server: ChatServer, text = 'still working'): Promise<void> {
  const { client, name } = await join(server);
  client.send(text);
  assert.deepEqual((await client.nextOfType('message')).data.message, text);
  assert.ok(name);
  await client.close();
}

describe('cross-site WebSocket hijacking', async () => {
  const server = await startTestServer({ allowedOrigins: ['https://chat.example.com'] });
  const own = `http://127.0.0.1:${server.port}`;

  test("the page's own origin, an allowed origin, and no Origin at all may connect", async () => {
    for (const header of [`Origin: ${own}\r\n`, 'Origin: https://chat.example.com\r\n', '']) {
      const peer = await openRawPeer(server.port, '/ws', header);
      assert.match(peer.status, /^HTTP\/1\.1 101 /, header);
      peer.socket.destroy();
    }
  });

  test('other origins, look-alikes and null get 403 before any WebSocket opens', async () => {
    for (const origin of [`${own}.evil.test`, `http://evil.test/127.0.0.1:${server.port}`, 'null', 'http://evil.test', 'https://chat.example.com.evil.test']) {
      const answer = await rawRequest(server.port, upgradeRequest('/ws', `Origin: ${origin}\r\n`));
      assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/, origin);
      assert.doesNotMatch(answer, /101 Switching/);
    }
    await assertChatWorks(server);
  });
});

describe('message floods', async () => {
  // No paste queue (see pace.test.ts for it): each send over the limit is refused at once.
  const server = await startTestServer({ rateBurst: 5, ratePerSecond: 2, floodLimit: 1000, pasteQueueEvents: 0 });

  test('a flooder gets rate-limited errors with a retry time, and others see at most the limit', async () => {
    const flooder = await join(server);
    const bystander = await join(server);
    for (let i = 0; i < 30; i++) flooder.client.send(`flood ${i}`);
    let accepted = 0;
    let refused = 0;
    while (accepted + refused < 30) {
      const event = await flooder.client.next();
      if (event.type === 'message') accepted++;
      if (event.type === 'error') {
        assert.equal(event.data.code, 'rate-limited');
        assert.ok(event.data.retryAfterMs > 0 && event.data.retryAfterMs <= 500, `retryAfterMs ${event.data.retryAfterMs}`);
        assert.match(event.data.message, /retry in \d+ ms/);
        refused++;
      }
    }
    assert.ok(accepted >= 5 && accepted <= 6, `accepted ${accepted}`);
    bystander.client.send('sync');
    const seen = [];
    for (;;) {
      const event = await bystander.client.nextOfType('message');
      if (event.data.message === 'sync') break;
      seen.push(event.data.message);
    }
    assert.equal(seen.length, accepted, 'the bystander saw only what was accepted');

    await sleep(600);
    flooder.client.send('after waiting');
    assert.equal((await nextMessage(flooder.client, 'after waiting')).data.sender, flooder.name, 'tokens come back');
  });

  test('a connection that keeps flooding is closed with 1008', async () => {
    const strict = await startTestServer({ rateBurst: 5, ratePerSecond: 1, floodLimit: 10 });
    const flooder = await join(strict);
    for (let i = 0; i < 100; i++) flooder.client.send({ type: 'ping' });
    assert.deepEqual(await flooder.client.closed, { code: 1008, reason: 'too many events over the rate limit' });
    await assertChatWorks(strict);
  });
});

describe('steady floods', async () => {
  test('a flood paced so that some events get through is still closed with 1008', async () => {
    const server = await startTestServer({ rateBurst: 2, ratePerSecond: 10, floodLimit: 5 });
    const flooder = await join(server);
    const pacer = setInterval(() => flooder.client.ws.readyState === flooder.client.ws.OPEN && flooder.client.send('steady'), 20);
    const closed = await Promise.race([flooder.client.closed, sleep(3000).then(() => undefined)]);
    clearInterval(pacer);
    assert.deepEqual(closed, { code: 1008, reason: 'too many events over the rate limit' });
    assert.ok(flooder.client.received.some((e) => e.type === 'message'), 'some events got through before the close');
  });
});

describe('connection floods', async () => {
  test('over the per-address cap an upgrade gets 503 with Retry-After, and a freed slot is reusable', async () => {
    const server = await startTestServer({ maxConnectionsPerIp: 3 });
    const clients = await Promise.all([connect(server), connect(server), connect(server)]);
    const answer = await rawRequest(server.port, upgradeRequest());
    assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(answer, /\r\nRetry-After: \d+\r\n/);
    await clients[0]!.close();
    await sleep(50);
    const again = await connect(server);
    assert.equal((await again.next()).type, 'name-generated');
  });

  test('over the total cap an upgrade gets 503', async () => {
    const server = await startTestServer({ maxConnections: 2 });
    await Promise.all([connect(server), connect(server)]);
    assert.match(await rawRequest(server.port, upgradeRequest()), /^HTTP\/1\.1 503 /);
  });

  test('a handshake that trickles its headers is cut off', async () => {
    const server = await startTestServer({ handshakeTimeoutMs: 1000 });
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const started = Date.now();
    socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    const at = await Promise.race([closed, sleep(5000).then(() => -1)]);
    clearInterval(trickle);
    socket.destroy();
    assert.ok(at > 0, 'the server closed the connection');
    assert.ok(at - started < 4000, `cut off after ${at - started} ms`);
    await assertChatWorks(server);
  });

  test('2,000 headers, or a huge Sec-WebSocket-Protocol, are refused without harm', async () => {
    const server = await startTestServer();
    const many = Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    // Node keeps the first 2,000 headers (maxHeadersCount) and answers; it must not hang or crash.
    assert.match(await rawRequest(server.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${many}\r\n`), /^HTTP\/1\.1 (200|431) /);
    const protocols = `Sec-WebSocket-Protocol: ${Array.from({ length: 8000 }, (_, i) => `p${i}`).join(', ')}\r\n`;
    assert.ok(protocols.length > 40_000);
    assert.match(await rawRequest(server.port, upgradeRequest('/ws', protocols)), /^HTTP\/1\.1 431 /);
    await assertChatWorks(server);
  });
});

describe('slow consumers', async () => {
  test('a peer that stops reading is dropped with 4008 while everyone else receives everything', async () => {
    const server = await startTestServer({
      maxBufferedBytes: 256 * 1024,
      maxMessageChars: 60_000,
      rateBurst: 1000,
      closeTimeoutMs: 10_000,
    });
    const slow = await openRawPeer(server.port);
    const slowName = JSON.parse((await slow.nextFrame()).payload.toString()).data as string;
    slow.socket.pause();
    const talker = await join(server);
    const reader = await join(server);
    const text = 'x'.repeat(50_000);
    // Paced by the reader, so a reader that keeps up never has much waiting for it; 15 MB in all is
    // more than loopback's socket buffers can hide for the one that does not read.
    const count = 300;
    let sawSlowLeave = false;
    for (let i = 0; i < count; i++) {
      talker.client.send(`${i} ${text}`);
      for (;;) {
        const event = await reader.client.next(5000);
        if (event.type === 'peer-left' && event.data.includes(slowName)) sawSlowLeave = true;
        if (event.type === 'message') {
          assert.equal(event.data.message, `${i} ${text}`, 'the reader gets every message, in order');
          break;
        }
      }
    }
    assert.ok(sawSlowLeave, 'others saw the slow peer leave');
    assert.equal(talker.client.ws.readyState, talker.client.ws.OPEN);

    slow.socket.resume();
    assert.equal(await slow.closeCode(10_000), 4008);
    slow.socket.destroy();
    assert.equal((await scrape(server)).get('plainchat_slow_consumer_closes_total'), 1);
  });
});

describe('dead connections', async () => {
  test('a peer that stops answering pings is cut off and, after the grace period, everyone sees it leave; live peers stay', async () => {
    const server = await startTestServer({ heartbeatMs: 200, graceMs: 100 });
    const watcher = await join(server);
    const dead = await openRawPeer(server.port);
    const deadName = JSON.parse((await dead.nextFrame()).payload.toString()).data as string;
    assert.deepEqual((await watcher.client.nextOfType('peer-left', 3000)).data, [deadName]);
    const pings = [];
    for (;;) {
      const frame = await dead.nextFrame().catch(() => undefined);
      if (!frame) break;
      if (frame.opcode === OPCODE.ping) pings.push(frame);
    }
    assert.ok(pings.length >= 1, 'the server pinged first');
    await dead.ended;
    await sleep(600);
    assert.equal(watcher.client.ws.readyState, watcher.client.ws.OPEN, 'a peer that answers pings is kept');
    watcher.client.send('alive');
    assert.equal((await watcher.client.nextOfType('message')).data.message, 'alive');
  });
});

describe('heartbeat spread', async () => {
  test('peers who joined together are first pinged at different moments across the interval', async () => {
    const server = await startTestServer({ heartbeatMs: 1000 });
    const peers = await Promise.all(Array.from({ length: 40 }, () => openRawPeer(server.port)));
    const started = Date.now();
    const firstPings = await Promise.all(
      peers.map(async (peer) => {
        for (;;) {
          const frame = await peer.nextFrame(2000);
          if (frame.opcode === OPCODE.ping) return Date.now() - started;
        }
      }),
    );
    for (const peer of peers) peer.socket.destroy();
    const spread = Math.max(...firstPings) - Math.min(...firstPings);
    assert.ok(spread > 500, `first pings spread over ${spread} ms of a 1000 ms interval`);
    assert.ok(new Set(firstPings.map((ms) => Math.floor(ms / 100))).size >= 5, `pings fell in at least 5 different tenths: ${firstPings}`);
  });
});

describe('compression', async () => {
  test('permessage-deflate is never negotiated', async () => {
    const server = await startTestServer();
    const peer = await openRawPeer(server.port, '/ws', 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n');
    assert.match(peer.status, / 101 /);
    assert.doesNotMatch(peer.headers, /sec-websocket-extensions/i);
    peer.socket.destroy();
  });
});

describe('health', async () => {
  test('GET /healthz answers 200 with uptime and peers while serving', async () => {
    const server = await startTestServer();
    const before = await (await fetch(`${server.url}/healthz`)).json();
    assert.equal(before.status, 'ok');
    assert.equal(typeof before.uptimeSeconds, 'number');
    assert.equal(before.peers, 0);
    await join(server);
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal((await res.json()).peers, 1);
  });
});
