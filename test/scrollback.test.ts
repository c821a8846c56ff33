// Scroll-back: a client pages through a room's older messages with `history` requests.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join, type Joined, nextMessage, startTestServer, type WireEvent } from './helpers.ts';

/** Sends a history request and collects its answer: the messages, then the history-page. */
async function page(peer: Joined, data: unknown): Promise<{ messages: any[]; end: WireEvent }> {
  peer.client.send({ type: 'history', data });
  const messages = [];
  for (;;) {
    const event = await peer.client.next();
    if (event.type === 'history-page' || event.type === 'error') return { messages, end: event };
    if (event.type === 'message' && event.data.history === true) messages.push(event.data);
  }
}

describe('history requests', async () => {
  const server = await startTestServer({ historyOnJoin: 5, historyPageMax: 40, historySize: 250, rateBurst: 1000, ratePerSecond: 1000 });
  const writer = await join(server);
  for (let i = 1; i <= 300; i++) writer.client.send(`line ${i}`);
  await nextMessage(writer.client, 'line 300', 10_000);

  test('pages back from the newest to the first kept message, oldest first in each page, with no gap or double', async () => {
    const reader = await join(server);
    assert.deepEqual(reader.history.map((m) => m.seq), [296, 297, 298, 299, 300]);
    const seen = reader.history.map((m) => m.seq);
    let before = seen[0];
    let pages = 0;
    for (;;) {
      const { messages, end } = await page(reader, { before, limit: 40 });
      pages++;
      assert.equal(end.type, 'history-page');
      assert.deepEqual(end.data, { before, count: messages.length, more: end.data.more });
      assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: messages.length }, (_, i) => before - messages.length + i), 'oldest first, right before `before`');
      seen.unshift(...messages.map((m) => m.seq));
      if (!end.data.more) break;
      before = messages[0].seq;
    }
    assert.deepEqual(seen, Array.from({ length: 250 }, (_, i) => 51 + i), 'the 250 kept (--history-size), each once');
    assert.equal(pages, 7);
    const first = await page(reader, { before: 51 });
    assert.deepEqual(first, { messages: [], end: { type: 'history-page', data: { before: 51, count: 0, more: false } } });
  });

  test('a limit over the cap gets the cap; no limit gets 50; the messages are those that were sent', async () => {
    const reader = await join(server);
    const capped = await page(reader, { before: 301, limit: 10_000 });
    assert.equal(capped.messages.length, 40, '--history-page-max');
    assert.deepEqual(capped.messages.at(-1), { sender: writer.name, message: 'line 300', ts: capped.messages.at(-1).ts, epoch: writer.synced.epoch, seq: 300, history: true });
    const defaulted = await page(reader, { before: 200 });
    assert.equal(defaulted.messages.length, 40, 'the default 50 is capped too');
  });

  test('a bad request is refused with bad-history and the connection stays open', async () => {
    const reader = await join(server);
    for (const data of [undefined, 5, { before: 0 }, { before: -3 }, { before: 1.5 }, { before: '10' }, { before: 1e308 }, { before: 10, limit: 0 }, { before: 10, limit: 'all' }]) {
      const { end } = await page(reader, data);
      assert.equal(end.type, 'error', JSON.stringify(data));
      assert.equal(end.data.code, 'bad-history');
    }
    const { end } = await page(reader, { before: 1.5 });
    assert.equal(end.data.message, '"before" must be a whole number of at least 1 (the seq to page back from), got 1.5');
    assert.equal((await page(reader, { before: 100, limit: 2 })).messages.length, 2);
  });
});

test('history requests count against the rate limit', async () => {
  const server = await startTestServer({ rateBurst: 3, ratePerSecond: 1, pasteQueueEvents: 0 });
  const reader = await join(server);
  for (let i = 0; i < 4; i++) reader.client.send({ type: 'history', data: { before: 1 } });
  const answers = [];
  while (answers.length < 4) {
    const event = await reader.client.next();
    if (event.type === 'history-page' || event.type === 'error') answers.push(event.type === 'error' ? event.data.code : event.type);
  }
  assert.deepEqual(answers.sort(), ['history-page', 'history-page', 'history-page', 'rate-limited']);
});
