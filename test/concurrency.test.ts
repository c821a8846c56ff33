// What must hold when everything happens at once, for every engine: the same suite runs against one
// process with its own engine, and against three real processes over one real `redis-server`.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatServer } from '../lib/server.ts';
import { join, type Joined, presenceView, startTestServer, until, who } from './helpers.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const GRACE_MS = 4000;

/** One peer of the churn: it sends acknowledged messages and keeps every message it is sent, over every connection. */
class Churner {
  readonly seqs: number[] = [];
  readonly leftSeen: string[] = [];
  token = '';
  name = '';
  epoch = '';
  connection: Joined | undefined;
  #last = 0;

  /** Connects (resuming where it was, once it has been somewhere) and keeps what it hears. */
  async connect(node: ChatServer, room: string): Promise<void> {
    const resume = this.token ? `&token=${this.token}&epoch=${this.epoch}&lastSeq=${this.#last}` : '';
    const joined = await join(node, `/ws?room=${room}${resume}`);
    if (this.token) assert.equal(joined.name, this.name, 'the session keeps its name on every node');
    if (this.token) assert.equal(joined.synced.recovered, true, `resumed from ${this.#last}: ${JSON.stringify(joined.synced)}`);
    this.token = joined.token;
    this.name = joined.name;
    this.epoch = joined.synced.epoch;
    for (const message of joined.history) this.#keep(message.seq);
    this.connection = joined;
    // Live events may have come behind `synced` already.
    let heard = joined.client.received.findIndex((event) => event.type === 'synced') + 1;
    const keepLive = () => {
      for (; heard < joined.client.received.length; heard++) {
        const event = joined.client.received[heard]!;
        if (event.type === 'message' && !event.data.history) this.#keep(event.data.seq);
        if (event.type === 'peer-left') this.leftSeen.push(...event.data);
      }
    };
    keepLive();
    joined.client.ws.on('message', keepLive);
  }

  #keep(seq: number): void {
    this.seqs.push(seq);
    this.#last = Math.max(this.#last, seq);
  }

  /** Sends `text` with an id and waits for its ack. */
  async send(text: string, id: string): Promise<void> {
    const { client } = this.connection!;
    client.send({ type: 'message', data: text, id });
    for (;;) {
      const event = await client.next(10_000);
      if (event.type === 'ack' && event.data.id === id) return;
      if (event.type === 'error') assert.fail(`sending ${id}: ${JSON.stringify(event.data)}`);
    }
  }

  /** Drops the connection without a close handshake, as a lost network does. */
  drop(): void {
    this.connection!.client.ws.terminate();
  }
}

/** The suite against `nodes`, processes that act as one chat (one of them, or several over Redis). */
function concurrencySuite(name: string, nodes: ChatServer[]): void {
  describe(name, () => {

    test('100 clients joining at once over the nodes all end with the full set, the one /who gives', async () => {
      const peers = await Promise.all(Array.from({ length: 100 }, (_, i) => join(nodes[i % nodes.length]!, '/ws?room=storm')));
      const names = new Set(peers.map((peer) => peer.name));
      assert.equal(names.size, 100, 'every name is different');
      await until(
        () => peers.every((peer) => presenceView(peer.client.received).size === 100),
        10_000,
        () => `${peers.filter((peer) => presenceView(peer.client.received).size !== 100).length} of 100 never learnt of everyone`,
      );
      for (const peer of peers) assert.deepEqual(presenceView(peer.client.received), names);
      assert.deepEqual(new Set(await who(peers[0]!.client)), names, '/who agrees');
      await Promise.all(peers.map((peer) => peer.client.close()));
    });

    test('a sender gets its own message before its ack, every time', async () => {
      const sender = await join(nodes[0]!, '/ws?room=order');
      for (let i = 0; i < 30; i++) {
        sender.client.send({ type: 'message', data: `m${i}`, id: `o${i}` });
      }
      await until(() => sender.client.received.filter((e) => e.type === 'ack').length === 30, 10_000, () => 'not every ack came');
      for (let i = 0; i < 30; i++) {
        const own = sender.client.received.findIndex((e) => e.type === 'message' && e.data.message === `m${i}`);
        const ack = sender.client.received.findIndex((e) => e.type === 'ack' && e.data.id === `o${i}`);
        assert.ok(own !== -1 && own < ack, `m${i}: its own copy (at ${own}) before its ack (at ${ack})`);
      }
      await sender.client.close();
    });

    test('12 peers x 50 acknowledged messages, dropped and resumed on another node each time: every message once, in order, and nobody seen leaving', async () => {
      const room = 'churn';
      const churners = Array.from({ length: 12 }, () => new Churner());
      await Promise.all(churners.map((churner, i) => churner.connect(nodes[i % nodes.length]!, room)));
      // Each peer hops A -> B -> A -> C -> ... (back to the first on the second hop).
      const hops = (start: number) => [start, start + 1, start, start + 2].map((index) => index % nodes.length);
      await Promise.all(
        churners.map(async (churner, i) => {
          const path = hops(i);
          for (let sent = 0; sent < 50; sent++) {
            await churner.send(`${i}:${sent}`, `c${i}-${sent}`);
            if (sent % 10 === 9) {
              churner.drop();
              await churner.connect(nodes[path[(sent + 1) / 10 % path.length]!]!, room);
            }
          }
        }),
      );
      const total = 12 * 50;
      await until(
        () => churners.every((churner) => new Set(churner.seqs).size === total),
        10_000,
        () => `missing: ${churners.map((churner) => Array.from({ length: total }, (_, i) => i + 1).filter((seq) => !churner.seqs.includes(seq)).join(' ')).join(' | ')}`,
      );
      // Past the grace period of every connection dropped: a process that let a session go must not announce it.
      await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 1000));
      for (const churner of churners) {
        assert.deepEqual(churner.seqs, Array.from({ length: total }, (_, i) => i + 1), `${churner.name}: every message once, in seq order`);
        const departed = churner.leftSeen.filter((left) => churners.some((other) => other.name === left));
        assert.deepEqual(departed, [], `${churner.name} saw peers leave that never left`);
      }
      const watcher = await join(nodes[0]!, `/ws?room=${room}`);
      const online = await who(watcher.client);
      for (const churner of churners) assert.ok(online.includes(churner.name), `${churner.name} is online`);
      await Promise.all(churners.map((churner) => churner.connection!.client.close()));
      await watcher.client.close();
    });
  });
}

// More connections from one address, and bigger bursts, than a public server allows: every client here is on loopback.
const LIMITS = { graceMs: GRACE_MS, presenceBatchMs: 0, maxConnectionsPerIp: 1000, rateBurst: 100 };

describe('everything at once: one process', async () => {
  concurrencySuite('one process', [await startTestServer(LIMITS)]);
});

withRedis('everything at once: three processes over Redis', async () => {
  const flags = ['--grace-ms', LIMITS.graceMs, '--presence-batch-ms', LIMITS.presenceBatchMs, '--max-connections-per-ip', LIMITS.maxConnectionsPerIp, '--rate-burst', LIMITS.rateBurst].map(String);
  const redis = await startRedis();
  concurrencySuite('three processes over Redis', await Promise.all([0, 1, 2].map(() => startNode(redis.url, flags))));
});
