// Pacing and order: a paste over the rate limit is delayed, not dropped (the "fake lag" of IRC
// servers), only what overflows the bounded queue is refused, and every answer to a connection's
// frames leaves in the order of the frames it answers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig } from '../lib/config.ts';
import { join, nextMessage, startTestServer, until, type WireEvent } from './helpers.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const DEFAULTS = defaultConfig();

/** The events a client was sent after its greeting that answer or echo what it sent. */
const answers = (received: WireEvent[], name: string) =>
  received
    .filter((e) => (e.type === 'message' && e.data.history !== true && e.data.sender === name) || e.type === 'error' || e.type === 'ack')
    .map((e) => (e.type === 'message' ? `message ${e.data.message}` : e.type === 'ack' ? `ack ${e.data.id}` : `error ${e.data.code}`));

describe('pastes over the rate limit', async () => {
  const server = await startTestServer({ graceMs: 0 });

  test('thirty lines pasted at once all arrive, in order, paced at the refill rate, with no error', async () => {
    const sender = await join(server);
    const reader = await join(server);
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    const started = Date.now();
    for (const line of lines) sender.client.send(line);
    await nextMessage(reader.client, 'line 30', 15_000);
    const elapsed = Date.now() - started;
    const heard = reader.client.received.filter((e) => e.type === 'message').map((e) => e.data.message);
    assert.deepEqual(heard, lines);
    assert.ok(!sender.client.received.some((e) => e.type === 'error'), JSON.stringify(sender.client.received.filter((e) => e.type === 'error')));
    // The ten over the burst wait for the tokens they need.
    const overBurst = lines.length - DEFAULTS.rateBurst;
    assert.ok(elapsed >= ((overBurst - 1) / DEFAULTS.ratePerSecond) * 1000, `paced: ${elapsed} ms`);
  });
});

describe('beyond the queue', async () => {
  const server = await startTestServer({ graceMs: 0, rateBurst: 2, ratePerSecond: 10, pasteQueueEvents: 3, floodLimit: 1000 });

  test('what overflows the queue is refused rate-limited with a retry time, answered in frame order', async () => {
    const sender = await join(server);
    for (let i = 1; i <= 8; i++) sender.client.send({ type: 'message', data: `m${i}`, id: `m${i}` });
    await until(() => answers(sender.client.received, sender.name).length === 2 * 5 + 3, 5000, () => JSON.stringify(answers(sender.client.received, sender.name)));
    // Chat messages in a row are numbered in order and may be acknowledged together; every answer keeps its frame's place.
    const seen = answers(sender.client.received, sender.name);
    assert.deepEqual(seen.filter((a) => a.startsWith('message')), ['m1', 'm2', 'm3', 'm4', 'm5'].map((m) => `message ${m}`));
    assert.deepEqual(seen.filter((a) => !a.startsWith('message')), ['ack m1', 'ack m2', 'ack m3', 'ack m4', 'ack m5', 'error rate-limited', 'error rate-limited', 'error rate-limited']);
    const refusals = sender.client.received.filter((e) => e.type === 'error');
    for (const { data } of refusals) assert.ok(data.retryAfterMs > 0 && data.retryAfterMs <= 1000, `retryAfterMs ${data.retryAfterMs}`);
  });

  test("a refusal's retryAfterMs holds when it is answered: a send after it waits in the queue, not refused", async () => {
    const slow = await startTestServer({ graceMs: 0, rateBurst: 1, ratePerSecond: 2, pasteQueueEvents: 3, floodLimit: 1000 });
    const sender = await join(slow);
    for (let i = 1; i <= 6; i++) sender.client.send(`s${i}`);
    const refusal = await sender.client.nextOfType('error', 5000);
    await new Promise((resolve) => setTimeout(resolve, refusal.data.retryAfterMs));
    sender.client.send('after the wait');
    await nextMessage(sender.client, 'after the wait', 5000);
    const refused = sender.client.received.filter((e) => e.type === 'error').length;
    assert.equal(refused, 2, 'the two over the queue, and not the one sent as told');
  });

  test('a queue is bounded in bytes too', async () => {
    const bytes = await startTestServer({ graceMs: 0, rateBurst: 1, ratePerSecond: 10, pasteQueueBytes: 1000, floodLimit: 1000 });
    const sender = await join(bytes);
    sender.client.send('first');
    for (let i = 0; i < 3; i++) sender.client.send(`${i}${'x'.repeat(400)}`);
    await until(() => answers(sender.client.received, sender.name).length === 4, 5000, () => JSON.stringify(answers(sender.client.received, sender.name)));
    assert.deepEqual(answers(sender.client.received, sender.name).map((a) => a.slice(0, 9)), ['message f', 'message 0', 'message 1', 'error rat']);
  });

  test("one address's queues share a bound, and all queues a total bound", async () => {
    for (const limit of [{ pasteQueueBytesPerIp: 1000 }, { maxPasteQueueBytes: 1000 }]) {
      const shared = await startTestServer({ graceMs: 0, rateBurst: 1, ratePerSecond: 1, floodLimit: 1000, ...limit });
      const [a, b] = await Promise.all([join(shared), join(shared)]);
      for (const line of ['first', ...[0, 1].map((i) => `a${i}${'x'.repeat(400)}`)]) a.client.send(line);
      await nextMessage(a.client, 'first');
      b.client.send('first');
      b.client.send(`b${'x'.repeat(400)}`);
      assert.equal((await b.client.nextOfType('error')).data.code, 'rate-limited', JSON.stringify(limit));
      assert.ok(!a.client.received.some((e) => e.type === 'error'), 'the queue within the bound waits');
    }
  });

  test('a sustained flood is still closed with 1008', async () => {
    const strict = await startTestServer({ rateBurst: 5, ratePerSecond: 1, floodLimit: 10 });
    const flooder = await join(strict);
    for (let i = 0; i < 200; i++) flooder.client.send(`flood ${i}`);
    assert.deepEqual(await flooder.client.closed, { code: 1008, reason: 'too many events over the rate limit' });
  });
});

/** Frames whose answers take different paths in the server: a direct message to nobody waits for the engine, the rest do not. */
async function checkOrder(server: Parameters<typeof join>[0]): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const sender = await join(server, '/ws?room=order');
    sender.client.send('/msg nobody-here hi');
    sender.client.send({ type: 'message', data: `hello ${round}`, id: `h${round}` });
    sender.client.send(`/nick ${sender.name}`);
    sender.client.send('{not json');
    sender.client.send({ type: 'ping' });
    await sender.client.nextOfType('pong');
    const order = sender.client.received.filter((e) => ['error', 'message', 'ack', 'pong'].includes(e.type) && e.data?.history !== true).map((e) => (e.type === 'error' ? `error ${e.data.code}` : e.type));
    assert.deepEqual(order, ['error unknown-recipient', 'message', 'ack', 'error bad-name', 'error bad-json', 'pong'], `round ${round}`);
    await sender.client.close();
  }
}

describe('answers in order', async () => {
  const server = await startTestServer({ graceMs: 0 });
  test('each answer leaves in the order of the frames it answers', () => checkOrder(server));
});

withRedis('answers in order over Redis', async () => {
  const redis = await startRedis();
  const node = await startNode(redis.url, ['--grace-ms', '0']);
  test('each answer leaves in the order of the frames it answers, where the engine is a network away', () => checkOrder(node));
});

