// The server probed as a hostile internet user would: many connections, many source addresses
// (each client its own 127.x.y.z), every documented limit used to the full. Each test is one
// finding of issue 13 that held on the code before it.

import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { defaultConfig } from '../lib/config.ts';
import { connect, join, scrape, startTestServer, until } from './helpers.ts';
import { clientFrame, OPCODE, openRawPeer } from './raw-frames.ts';
import { startRedis, withRedis } from './redis-server.ts';

const DEFAULTS = defaultConfig();

/** A plain TCP connection from `localAddress` that sends `text` (possibly an unfinished request) and then nothing. */
async function holdOpen(port: number, text: string, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connectTcp({ port, host: '127.0.0.1', localAddress });
  after(() => socket.destroy());
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(text);
  return socket;
}

describe('budgets per address', () => {
  test('reconnecting for a fresh rate-limit bucket earns nothing: the budget is the address\'s, and every refused send is told so', async () => {
    const eventBurstPerIp = 40;
    const eventsPerSecondPerIp = 10;
    // No paste queue: each send over the budget is refused at once, as a flood beyond the queue is.
    const server = await startTestServer({ eventBurstPerIp, eventsPerSecondPerIp, maxConnectionsPerIp: 100, pasteQueueEvents: 0 });
    const reader = await join(server, '/ws', '127.0.0.9');
    const started = Date.now();
    let refused = 0;
    // Ten workers, each sending its connection's whole burst and reconnecting for a new one, for 1.5 s.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (Date.now() - started < 1500) {
          const { client, name } = await join(server);
          for (let i = 0; i < DEFAULTS.rateBurst; i++) client.send(`flood ${i}`);
          // Each send is answered: its echo, or a refusal.
          const refusals = () => client.received.filter((event) => event.type === 'error' && event.data.code === 'rate-limited').length;
          const echoes = () => client.received.filter((event) => event.type === 'message' && event.data.history !== true && event.data.sender === name).length;
          await until(() => refusals() + echoes() === DEFAULTS.rateBurst, 3000, () => `${refusals()} refusals and ${echoes()} echoes of ${DEFAULTS.rateBurst} sends`);
          refused += refusals();
          await client.close();
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stored = reader.client.received.filter((event) => event.type === 'message').length;
    assert.ok(stored <= eventBurstPerIp + eventsPerSecondPerIp * (seconds + 0.5), `${stored} messages stored in ${seconds} s; the address's budget allows ${eventBurstPerIp} + ${eventsPerSecondPerIp}/s`);
    assert.ok(stored >= eventBurstPerIp / 2, `the budget is used, not refused outright (${stored} stored)`);
    assert.ok(refused > 0, 'the sends over the budget were each answered rate-limited');
    // Another address has a budget of its own.
    const other = await join(server, '/ws', '127.0.0.10');
    other.client.send('from elsewhere');
    const echoed = await other.client.nextOfType('message');
    assert.equal(echoed.data.message, 'from elsewhere');
  });

  test('reconnects themselves are budgeted: an address over its requests per second gets 429 with Retry-After', async () => {
    const server = await startTestServer({ requestBurstPerIp: 5, requestsPerSecondPerIp: 1 });
    for (let i = 0; i < 5; i++) await (await connect(server, '/ws', '127.0.1.1')).close();
    const peer = await openRawPeer(server.port, '/ws', '', '127.0.1.1');
    assert.match(peer.status, /^HTTP\/1\.1 429 /);
    assert.match(peer.headers, /\r\nRetry-After: [1-9]\d*\r\n/i);
    const page = await fetchFrom(server.port, '/', '127.0.1.1');
    assert.match(page, /^HTTP\/1\.1 429 /, 'plain HTTP requests spend the same budget');
    // The budget is earned back.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await openRawPeer(server.port, '/ws', '', '127.0.1.1');
    assert.match(again.status, /^HTTP\/1\.1 101 /);
    const elsewhere = await openRawPeer(server.port, '/ws', '', '127.0.1.2');
    assert.match(elsewhere.status, /^HTTP\/1\.1 101 /, 'another address has its own budget');
  });

  test('half-open requests count against the per-address cap from accept, and a closed one frees its slot', async () => {
    const server = await startTestServer({ maxConnectionsPerIp: 4 });
    const port = server.port;
    const held = [
      await holdOpen(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n', '127.0.2.1'),
      await holdOpen(port, 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n', '127.0.2.1'),
      await holdOpen(port, '', '127.0.2.1'),
      await holdOpen(port, 'G', '127.0.2.1'),
    ];
    const refused = await openRawPeer(port, '/ws', '', '127.0.2.1');
    assert.match(refused.status, /^HTTP\/1\.1 503 /, 'the fifth socket from the address is refused, though none of the four upgraded');
    assert.match(refused.headers, /\r\nRetry-After: \d+\r\n/i);
    const elsewhere = await openRawPeer(port, '/ws', '', '127.0.2.2');
    assert.match(elsewhere.status, /^HTTP\/1\.1 101 /, 'another address is not affected');
    held[0]!.destroy();
    await until(async () => (await openRawPeer(port, '/ws', '', '127.0.2.1')).status.startsWith('HTTP/1.1 101'), 3000, () => 'the freed slot was not given back');
  });

  test('rooms nobody is in cost their address a budget per minute, refused with 429 and Retry-After beyond it', async () => {
    const server = await startTestServer({ roomsPerMinutePerIp: 3 });
    for (const room of ['r1', 'r2', 'r3']) await (await connect(server, `/ws?room=${room}`, '127.0.3.1')).close();
    const refused = await openRawPeer(server.port, '/ws?room=r4', '', '127.0.3.1');
    assert.match(refused.status, /^HTTP\/1\.1 429 /);
    assert.match(refused.headers, /\r\nRetry-After: (1\d|20)\r\n/i, 'three a minute: the next one in about 20 s');
    const someoneElse = await join(server, '/ws?room=busy', '127.0.3.2');
    const joining = await join(server, '/ws?room=busy', '127.0.3.1');
    assert.ok(joining.peers.includes(someoneElse.name), 'a room people are in costs nothing');
  });
});

describe('totals', () => {
  test('--max-rooms: a room beyond it is refused with 503 while the rooms held stay open, and /metrics counts every room held', async () => {
    const server = await startTestServer({ maxRooms: 3, roomTtlMs: 60_000 });
    for (const room of ['a1', 'a2', 'a3']) await (await connect(server, `/ws?room=${room}`)).close();
    // Empty rooms holding their state still count.
    assert.equal((await scrape(server)).get('plainchat_rooms'), 3);
    const refused = await openRawPeer(server.port, '/ws?room=a4');
    assert.match(refused.status, /^HTTP\/1\.1 503 /);
    const back = await join(server, '/ws?room=a2');
    assert.equal(back.synced.seq, 0, 'a room held is still open');
  });
});

describe('direct messages kept for someone away', () => {
  test('past --max-kept-direct, another is refused with recipient-full and not kept; the sender is told, nothing is lost unseen', async () => {
    const server = await startTestServer({ maxKeptDirect: 2, graceMs: 0 });
    const away = await join(server);
    await away.client.close();
    const sender = await join(server, '/ws', '127.0.6.1');
    for (const text of ['one', 'two', 'three']) sender.client.send(`/msg ${away.name} ${text}`);
    const refused = await sender.client.nextOfType('error');
    assert.equal(refused.data.code, 'recipient-full');
    const stored = () => sender.client.received.filter((event) => event.type === 'direct-message' && event.data.stored === true).map((event) => event.data.message);
    await until(() => stored().length === 2, 3000, () => `stored: ${stored().join(', ')}`);
    assert.deepEqual(stored(), ['one', 'two']);
    const back = await connect(server, `/ws?token=${away.token}`);
    await back.nextOfType('synced');
    const missed = [await back.nextOfType('direct-message'), await back.nextOfType('direct-message')].map((event) => event.data.message);
    assert.deepEqual(missed, ['one', 'two']);
  });
});

describe('history memory', () => {
  const emoji = '😀'.repeat(2000);
  /** Twenty rooms from four addresses, each sent `perRoom` messages of 2,000 emoji. */
  async function fill(overrides: Partial<typeof DEFAULTS>, perRoom: number) {
    const maxHistoryBytes = 200_000;
    const server = await startTestServer({ maxHistoryBytes, maxMessageChars: 4000, ...overrides });
    const writers = await Promise.all(Array.from({ length: 20 }, (_, i) => join(server, `/ws?room=room-${i}`, `127.0.4.${1 + (i % 4)}`)));
    for (const writer of writers) {
      for (let i = 0; i < perRoom; i++) writer.client.send(`${i} ${emoji}`);
      await until(() => writer.client.received.filter((event) => event.type === 'message').length === perRoom, 5000, () => 'not every message came back');
    }
    const held = (await scrape(server)).get('plainchat_history_bytes')!;
    assert.ok(held > 0 && held <= maxHistoryBytes, `${held} bytes of history held, the budget is ${maxHistoryBytes}`);
    return { server, writers };
  }

  test('with the store, rooms past the budget leave memory and are read from disk again: nothing is lost', async () => {
    const { writers } = await fill({}, 10);
    const first = writers[0]!;
    first.client.send({ type: 'history', data: { before: 11, limit: 10 } });
    await first.client.nextOfType('history-page');
    const page = first.client.received.filter((event) => event.type === 'message' && event.data.history === true);
    assert.deepEqual(page.map((event) => event.data.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'the least recently used room still has all it was sent');
  });

  test('in memory alone, the budget holds too: the least recently used rooms forget their oldest first', async () => {
    const { server, writers } = await fill({ memory: true }, 10);
    const late = await join(server, `/ws?room=room-0&epoch=${writers[0]!.synced.epoch}&lastSeq=0`);
    assert.equal(late.synced.reason, 'too-old', 'the first room no longer has its first messages, and says so');
    const newest = await join(server, `/ws?room=room-19&epoch=${writers[19]!.synced.epoch}&lastSeq=0`);
    assert.equal(newest.synced.recovered, true, 'the room used last kept all of its messages');
  });
});

describe('slow readers and floods', () => {
  test('a client that resumes into a long replay and never reads it is closed with 4008, its pongs notwithstanding', async () => {
    const server = await startTestServer({ rateBurst: 1000, maxBufferedBytes: 1024 * 1024, maxMessageChars: 60_000, maxFrameBytes: 256 * 1024, replayTimeoutMs: 1500, heartbeatMs: 300, graceMs: 0 });
    const writer = await join(server);
    // 60 MB: more than loopback's socket buffers (up to 32 MB received, 4 MB sent) can take for a reader that does not read.
    const text = 'y'.repeat(59_000);
    for (let i = 0; i < 1000; i += 10) {
      for (let j = i; j < i + 10; j++) writer.client.send(`${j} ${text}`);
      for (let j = i; j < i + 10; j++) await writer.client.nextOfType('message');
    }
    const { epoch } = writer.synced;
    const reader = await openRawPeer(server.port, `/ws?epoch=${epoch}&lastSeq=0`);
    assert.match(reader.status, /^HTTP\/1\.1 101 /);
    reader.socket.pause();
    // Answering the server's pings, unasked, as the probe did: pongs are not reading.
    const pongs = setInterval(() => reader.socket.write(clientFrame(OPCODE.pong, '')), 100);
    after(() => clearInterval(pongs));
    await until(async () => (await scrape(server)).get('plainchat_slow_consumer_closes_total') === 1, 5000, () => 'the reader was not closed as too slow');
    clearInterval(pongs);
    reader.socket.resume();
    assert.equal(await reader.closeCode(10_000), 4008);
    // Everyone else goes on.
    writer.client.send('still here');
    assert.equal((await writer.client.nextOfType('message')).data.message, 'still here');
  });

  test('a replay longer than a page is read and written page by page, and arrives whole, in order, before what comes live', async () => {
    const server = await startTestServer({ rateBurst: 1000, historyPageMax: 40, maxBufferedBytes: 16 * 1024 });
    const writer = await join(server);
    for (let i = 1; i <= 250; i++) {
      writer.client.send(`m${i} ${'w'.repeat(200)}`);
      if (i % 25 === 0) await until(() => writer.client.received.filter((event) => event.type === 'message').length === i, 5000, () => 'the writer did not see its messages');
    }
    const reader = await connect(server, `/ws?epoch=${writer.synced.epoch}&lastSeq=5`);
    // Said while the replay is planned and written: in it, or live after it, never both.
    writer.client.send('live');
    const synced = await reader.nextOfType('synced', 10_000);
    assert.equal(synced.data.recovered, true);
    const seqs = () => reader.received.filter((event) => event.type === 'message').map((event) => event.data.seq);
    await until(() => seqs().includes(251), 5000, () => 'the live message did not come');
    assert.deepEqual(seqs(), Array.from({ length: 246 }, (_, i) => i + 6));
    const replayed = reader.received.slice(0, reader.received.indexOf(synced)).filter((event) => event.type === 'message');
    assert.ok(replayed.length >= 245 && replayed.every((event) => event.data.history === true));
  });

  test('a ping flood is refused like any flood and closed with 1008 and a close frame, not cut', async () => {
    const server = await startTestServer();
    const peer = await openRawPeer(server.port);
    peer.socket.write(Buffer.concat(Array.from({ length: 10_000 }, () => clientFrame(OPCODE.ping, 'x'))));
    assert.equal(await peer.closeCode(5000), 1008);
  });

  test('a client that pings now and then gets every pong', async () => {
    const server = await startTestServer();
    const ws = (await connect(server)).ws;
    let pongs = 0;
    ws.on('pong', () => pongs++);
    for (let i = 0; i < 5; i++) ws.ping('hi');
    await until(() => pongs === 5, 3000, () => `${pongs} pongs`);
  });
});

/** GET `path` from `localAddress` on a fresh connection; returns the whole answer. */
async function fetchFrom(port: number, path: string, localAddress: string): Promise<string> {
  const socket = await holdOpen(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`, localAddress);
  let answer = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk) => (answer += chunk));
  await new Promise((resolve) => socket.once('close', resolve));
  return answer;
}

withRedis('a join that hangs', async () => {
  test('a join the engine does not answer (Redis hung) is closed with 1011 within --replay-timeout-ms, not held', async () => {
    const redis = await startRedis();
    const server = await startTestServer({ redisUrl: redis.url, replayTimeoutMs: 1000, heartbeatMs: 60_000 });
    await (await join(server)).client.close();
    redis.freeze();
    try {
      const client = await connect(server);
      const started = Date.now();
      const { code } = await client.closed;
      assert.equal(code, 1011);
      assert.ok(Date.now() - started < 5000, `closed after ${Date.now() - started} ms`);
    } finally {
      redis.thaw();
      // Before Redis stops after the file, so that the engine's goodbye to it goes through.
      await server.close();
    }
  });
});
