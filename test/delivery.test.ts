// docs/PROTOCOL.md "Delivery guarantees", line by line: order, history, resume, acknowledged
// sends, stable identity.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatServer } from '../lib/server.ts';
import { join, type Joined, nextMessage, startTestServer, type WireEvent } from './helpers.ts';

/** Sends `count` messages and waits until the sender has them all back; returns their seqs. */
async function say(peer: Joined, count: number, prefix = 'm'): Promise<number[]> {
  const seqs = [];
  for (let i = 0; i < count; i++) {
    const text = `${prefix} ${i}`;
    peer.client.send(text);
    seqs.push((await nextMessage(peer.client, text)).data.seq as number);
  }
  return seqs;
}

const resumeUrl = (params: Record<string, string | number>) =>
  `/ws?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`;

describe('order and history', async () => {
  const server = await startTestServer({ historyOnJoin: 5 });

  test('seq rises by one per message, every message carries the epoch, and synced gives the position', async () => {
    const first = await join(server);
    assert.deepEqual(first.synced.seq, 0);
    assert.match(first.synced.epoch, /^[0-9a-f]{16}$/);
    assert.equal(first.synced.recovered, undefined, 'no resume was asked for');
    assert.deepEqual(await say(first, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
    const event = await first.client.nextOfType('message', 50).catch(() => undefined);
    assert.equal(event, undefined);
    const second = await join(server);
    assert.deepEqual({ ...second.synced }, { epoch: first.synced.epoch, seq: 8 });
  });

  test('a new peer gets the newest messages as history, marked, in order, before synced', async () => {
    const late = await join(server);
    assert.deepEqual(late.history.map((m) => [m.seq, m.message, m.history]), [
      [4, 'm 3', true],
      [5, 'm 4', true],
      [6, 'm 5', true],
      [7, 'm 6', true],
      [8, 'm 7', true],
    ]);
    late.client.send('live');
    const live = await nextMessage(late.client, 'live');
    assert.equal(live.data.history, undefined, 'live messages are not marked');
    assert.equal(live.data.seq, 9);
  });
});

describe('the recovery matrix', async () => {
  const server = await startTestServer({ historySize: 10, historyOnJoin: 3 });
  const writer = await join(server);
  const { epoch } = writer.synced;
  await say(writer, 15); // seq 1..15; the buffer keeps 6..15

  const cases: Array<[string, Record<string, string | number>, { recovered: boolean; reason?: string; seqs: number[] }]> = [
    ['from a known position', { epoch, lastSeq: 12 }, { recovered: true, seqs: [13, 14, 15] }],
    ['from the oldest position still covered', { epoch, lastSeq: 5 }, { recovered: true, seqs: [6, 7, 8, 9, 10, 11, 12, 13, 14, 15] }],
    ['from the newest position', { epoch, lastSeq: 15 }, { recovered: true, seqs: [] }],
    ['from a position older than the buffer', { epoch, lastSeq: 4 }, { recovered: false, reason: 'too-old', seqs: [13, 14, 15] }],
    ['from a future position', { epoch, lastSeq: 16 }, { recovered: false, reason: 'future', seqs: [13, 14, 15] }],
    ['with a wrong epoch', { epoch: 'deadbeef', lastSeq: 12 }, { recovered: false, reason: 'unknown-epoch', seqs: [13, 14, 15] }],
    ['with lastSeq that is not a number', { epoch, lastSeq: 'twelve' }, { recovered: false, reason: 'malformed', seqs: [13, 14, 15] }],
    ['with a negative lastSeq', { epoch, lastSeq: -1 }, { recovered: false, reason: 'malformed', seqs: [13, 14, 15] }],
    ['with lastSeq and no epoch', { lastSeq: 12 }, { recovered: false, reason: 'malformed', seqs: [13, 14, 15] }],
    ['with an epoch and no lastSeq', { epoch }, { recovered: false, reason: 'malformed', seqs: [13, 14, 15] }],
  ];

  for (const [label, params, expected] of cases) {
    test(`resume ${label}`, async () => {
      const peer = await join(server, resumeUrl(params));
      assert.equal(peer.synced.recovered, expected.recovered);
      assert.equal(peer.synced.reason, expected.reason);
      assert.deepEqual({ epoch: peer.synced.epoch, seq: peer.synced.seq }, { epoch, seq: 15 });
      assert.deepEqual(peer.history.map((m) => m.seq), expected.seqs);
      await peer.client.close();
    });
  }

  test('after the replay, the next message is the first live one', async () => {
    const peer = await join(server, resumeUrl({ epoch, lastSeq: 13 }));
    assert.deepEqual(peer.history.map((m) => m.seq), [14, 15]);
    writer.client.send('live after replay');
    const live = await peer.client.next();
    assert.equal(live.data.message, 'live after replay');
    assert.equal(live.data.seq, 16);
  });
});

describe('a large replay', async () => {
  test('a resume bigger than the slow-reader limit arrives whole and the peer stays connected', async () => {
    const server = await startTestServer({ maxBufferedBytes: 64 * 1024, historySize: 100, rateBurst: 1000 });
    const writer = await join(server);
    const long = 'x'.repeat(1990);
    await say(writer, 100, long);
    const peer = await join(server, resumeUrl({ epoch: writer.synced.epoch, lastSeq: 0 }));
    assert.equal(peer.synced.recovered, true);
    assert.equal(peer.history.length, 100, 'about 200 KB replayed');
    writer.client.send('still there?');
    assert.equal((await nextMessage(peer.client, 'still there?')).data.seq, 101);
  });
});

describe('acknowledged sends', async () => {
  const server = await startTestServer();

  test('the same id sent three times gives one broadcast and three acks with one seq', async () => {
    const sender = await join(server);
    const watcher = await join(server);
    for (let i = 0; i < 3; i++) sender.client.send({ type: 'message', data: 'exactly once', id: 'retry-1' });
    const acks = [];
    while (acks.length < 3) {
      const event = await sender.client.next();
      if (event.type === 'ack') acks.push(event.data);
    }
    assert.deepEqual(new Set(acks.map((a) => JSON.stringify(a))).size, 1);
    assert.equal(acks[0].id, 'retry-1');
    watcher.client.send('marker');
    await nextMessage(watcher.client, 'marker');
    const heard = watcher.client.received.filter((e) => e.type === 'message' && e.data.message === 'exactly once');
    assert.equal(heard.length, 1, 'broadcast once');
    assert.equal(heard[0]!.data.seq, acks[0].seq);
  });

  test('each ack comes after its message, and different ids are different messages', async () => {
    const sender = await join(server);
    sender.client.send({ type: 'message', data: 'one', id: 'a' });
    sender.client.send({ type: 'message', data: 'one', id: 'b' });
    const events: WireEvent[] = [];
    for (let i = 0; i < 4; i++) events.push(await sender.client.next());
    const seqOf = (id: string) => events.find((e) => e.type === 'ack' && e.data.id === id)!.data.seq;
    assert.notEqual(seqOf('a'), seqOf('b'));
    for (const id of ['a', 'b']) {
      const message = events.findIndex((e) => e.type === 'message' && e.data.seq === seqOf(id));
      const ack = events.findIndex((e) => e.type === 'ack' && e.data.id === id);
      assert.ok(message !== -1 && message < ack, `message ${id} before its ack: ${JSON.stringify(events.map((e) => e.type))}`);
    }
  });

  test('a retry after a reconnect with the token is still recognised', async () => {
    const first = await join(server);
    first.client.send({ type: 'message', data: 'before the blink', id: 'blink-1' });
    const ack = (await first.client.nextOfType('ack')).data;
    first.client.ws.terminate();
    const again = await join(server, resumeUrl({ token: first.token }));
    again.client.send({ type: 'message', data: 'before the blink', id: 'blink-1' });
    assert.deepEqual((await again.client.nextOfType('ack')).data, ack);
    again.client.send('marker');
    await nextMessage(again.client, 'marker');
    const live = again.client.received.filter((e) => e.type === 'message' && !e.data.history && e.data.message === 'before the blink');
    assert.equal(live.length, 0, 'the retry was not broadcast again');
  });

  test('a bad id is refused with bad-id and nothing is sent', async () => {
    const sender = await join(server);
    for (const id of ['', 'x'.repeat(65), 42, 'has space', 'naïve']) {
      sender.client.send({ type: 'message', data: 'x', id });
      const error = await sender.client.next();
      assert.equal(error.data.code, 'bad-id', JSON.stringify(id));
    }
  });

  test('a message refused for what it says names its id, so the sender knows which one failed', async () => {
    const sender = await join(server);
    for (const data of ['', 'turned \u202Earound', 'y'.repeat(2001)]) {
      sender.client.send({ type: 'message', data, id: 'refused-1' });
      const error = await sender.client.nextOfType('error');
      assert.deepEqual([error.data.code, error.data.id], ['bad-message', 'refused-1'], JSON.stringify(data.slice(0, 20)));
    }
    sender.client.send({ type: 'message', data: '' });
    assert.equal((await sender.client.nextOfType('error')).data.id, undefined, 'without an id, none');
  });
});

describe('stable identity', async () => {
  const server = await startTestServer({ graceMs: 300 });

  async function isOnline(server: ChatServer, name: string): Promise<boolean> {
    const probe = await join(server);
    await probe.client.close();
    return probe.peers.includes(name);
  }

  test('a reconnect with the token within the grace period keeps the name, and nobody sees a leave', async () => {
    const watcher = await join(server);
    const blinker = await join(server);
    await watcher.client.nextOfType('peer-joined');
    blinker.client.ws.terminate();
    await sleep(100);
    const back = await join(server, resumeUrl({ token: blinker.token }));
    assert.equal(back.name, blinker.name);
    assert.ok(back.peers.includes(blinker.name));
    await sleep(400);
    watcher.client.send('marker');
    await nextMessage(watcher.client, 'marker');
    const presence = watcher.client.received.filter((e) => e.type === 'peer-left' || e.type === 'peer-joined').map((e) => `${e.type} ${e.data}`);
    assert.deepEqual(presence, [`peer-joined ${blinker.name}`], 'no leave, no second join');
  });

  test('after the grace period the peer is gone for everyone, but its session keeps the name and the token brings it back', async () => {
    const watcher = await join(server);
    const leaver = await join(server);
    await leaver.client.close();
    const started = Date.now();
    while (!(await watcher.client.nextOfType('peer-left')).data.includes(leaver.name));
    assert.ok(Date.now() - started >= 250, 'not before the grace period');
    assert.equal(await isOnline(server, leaver.name), false);
    const stranger = await join(server);
    stranger.client.send(`/nick ${leaver.name}`);
    assert.equal((await stranger.client.nextOfType('error')).data.code, 'name-taken', 'the name stays owned while its session is away');
    const back = await join(server, resumeUrl({ token: leaver.token }));
    assert.equal(back.name, leaver.name, 'the same name, after the grace period');
    assert.equal(back.token, leaver.token, 'the same session');
    assert.ok(back.peers.includes(leaver.name));
    while (!(await watcher.client.nextOfType('peer-joined')).data.includes(leaver.name));
  });

  test('tokens are long, random, and never broadcast', async () => {
    const a = await join(server);
    const b = await join(server);
    assert.match(a.token, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a.token, b.token);
    a.client.send('marker');
    await nextMessage(b.client, 'marker');
    assert.ok(!JSON.stringify(b.client.received).includes(a.token));
  });
});

describe('ordering under churn', async () => {
  const PEERS = 20;
  const EACH = 100;
  const server = await startTestServer({ rateBurst: 1000, ratePerSecond: 1000, maxConnectionsPerIp: 1000, historySize: 5000 });

  /** A client that resumes from its last seq on every reconnect and resends what is not acked. */
  async function resilientPeer(index: number) {
    let joined = await join(server);
    const name = joined.name;
    const { epoch } = joined.synced;
    const heard: Array<{ sender: string; message: string; seq: number }> = [];
    const unacked = new Map<string, string>();
    let lastSeq = joined.synced.seq;
    let cursor = joined.client.received.length;
    let reconnects = 0;

    const take = (message: { sender: string; message: string; seq: number }) => {
      assert.equal(message.seq, lastSeq + 1, `${name} got seq ${message.seq} after ${lastSeq}`);
      lastSeq = message.seq;
      heard.push(message);
    };
    /** Handles what arrived since the last call, in order. */
    const drain = () => {
      const { received } = joined.client;
      while (cursor < received.length) {
        const event = received[cursor++]!;
        if (event.type === 'message') take(event.data);
        if (event.type === 'ack') unacked.delete(event.data.id);
      }
    };
    const resend = () => {
      for (const [id, text] of unacked) joined.client.send({ type: 'message', data: text, id });
    };

    return {
      name,
      heard,
      unacked,
      drain,
      reconnects: () => reconnects,
      async blink() {
        drain();
        joined.client.ws.terminate();
        reconnects++;
        joined = await join(server, resumeUrl({ token: joined.token, epoch, lastSeq }));
        assert.equal(joined.synced.recovered, true);
        assert.equal(joined.name, name);
        for (const message of joined.history) take(message);
        cursor = joined.client.received.length;
        resend();
      },
      send(n: number) {
        const id = `${index}-${n}`;
        unacked.set(id, `${index}:${n}`);
        joined.client.send({ type: 'message', data: `${index}:${n}`, id });
      },
      flush() {
        drain();
        resend();
      },
    };
  }

  test(`${PEERS} peers send ${EACH} numbered messages each while sockets are killed and resumed: all arrive, in order, once`, async () => {
    const peers = await Promise.all(Array.from({ length: PEERS }, (_, i) => resilientPeer(i)));
    let random = 7;
    const pick = () => (random = (random * 1103515245 + 12345) % 2 ** 31) % PEERS;
    for (let n = 0; n < EACH; n++) {
      for (const peer of peers) peer.send(n);
      if (n % 5 === 0) {
        const chosen = new Set([pick(), pick()]);
        await Promise.all([...chosen].map((i) => peers[i]!.blink()));
      }
      await sleep(1);
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      await sleep(200);
      for (const peer of peers) peer.drain();
      if (peers.every((p) => p.unacked.size === 0 && p.heard.length >= PEERS * EACH)) break;
      assert.ok(Date.now() < deadline, `stalled: ${peers.map((p) => `${p.unacked.size}/${p.heard.length}`).join(' ')}`);
      for (const peer of peers) peer.flush();
    }
    const blinks = peers.reduce((sum, p) => sum + p.reconnects(), 0);
    assert.ok(blinks >= 20, `sockets were killed ${blinks} times`);
    for (const peer of peers) {
      assert.equal(peer.heard.length, PEERS * EACH, `${peer.name} heard every message once`);
      const seqs = peer.heard.map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: PEERS * EACH }, (_, i) => i + 1), 'no gap, no duplicate');
      for (let sender = 0; sender < PEERS; sender++) {
        const numbers = peer.heard.filter((m) => m.message.startsWith(`${sender}:`)).map((m) => Number(m.message.split(':')[1]));
        assert.deepEqual(numbers, Array.from({ length: EACH }, (_, i) => i), `${peer.name} has sender ${sender}'s messages in order`);
      }
    }
  });
});
