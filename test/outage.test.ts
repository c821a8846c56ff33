// Redis going away while the chat runs, for longer than the node TTL, and coming back with its data
// or without it: two real plainchat processes over one real `redis-server`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from 'redis';
import type { ChatServer } from '../lib/server.ts';
import { join, type Joined, presenceView, type TestClient, until, who } from './helpers.ts';
import { type RedisServer, startNode, startRedis, withRedis } from './redis-server.ts';

const NODE_TTL_MS = 900;
const FLAGS = ['--grace-ms', '500', '--node-ttl-ms', String(NODE_TTL_MS)];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const isHealthy = async (node: ChatServer) => (await fetch(`${node.url}/healthz`)).status === 200;

/** Stops Redis for longer than the node TTL, then starts it again (empty, or with its data), and waits until every node is healthy. */
async function outage(redis: RedisServer, nodes: ChatServer[], { empty = false } = {}): Promise<void> {
  await redis.stop();
  await sleep(3 * NODE_TTL_MS);
  await (empty ? redis.startEmpty() : redis.start());
  await until(async () => (await Promise.all(nodes.map(isHealthy))).every(Boolean), 10_000, () => 'a node is not healthy 10 s after Redis came back');
}

/** Sends with an id until acknowledged: `unavailable` (Redis not back for this node yet) is retried, as the page does. */
async function sendAcked(client: TestClient, text: string, id: string): Promise<number> {
  for (let tries = 0; ; tries++) {
    const from = client.received.length;
    client.send({ type: 'message', data: text, id });
    await until(() => client.received.slice(from).some((e) => (e.type === 'ack' && e.data.id === id) || e.type === 'error'), 5000, () => `no answer to ${id}`);
    const answer = client.received.slice(from).find((e) => (e.type === 'ack' && e.data.id === id) || e.type === 'error')!;
    if (answer.type === 'ack') return answer.data.seq;
    assert.equal(answer.data.code, 'unavailable', JSON.stringify(answer.data));
    assert.ok(tries < 50, `${id} was never taken`);
    await sleep(100);
  }
}

/** A fresh Redis and two plainchat processes over it. */
async function twoNodes() {
  const redis = await startRedis();
  const nodes = await Promise.all([startNode(redis.url, FLAGS), startNode(redis.url, FLAGS)]);
  return { redis, nodes, one: nodes[0]!, two: nodes[1]! };
}

const leftIn = (peer: Joined) => peer.client.received.filter((e) => e.type === 'peer-left').flatMap((e) => e.data as string[]);

withRedis('Redis away for longer than the node TTL', async () => {
  const { redis, nodes, one, two } = await twoNodes();

  test('nobody connected is announced as left, no ghost remains, and every message acknowledged after it reaches every peer', async () => {
    const a = await join(one, '/ws?room=outage');
    const b = await join(two, '/ws?room=outage');
    const c = await join(two, '/ws?room=outage');
    const ghost = await join(one, '/ws?room=outage');
    const connected = [a, b, c];
    await until(() => connected.every((peer) => presenceView(peer.client.received).size === 4), 5000, () => 'the peers never saw each other');
    // Its leave falls due (after the 500 ms grace) while Redis is away.
    await ghost.client.close();
    await sleep(100);
    await outage(redis, nodes);

    for (let i = 0; i < 5; i++) {
      for (const [index, sender] of connected.entries()) {
        const text = `after ${i} from ${index}`;
        await sendAcked(sender.client, text, `o${i}-${index}`);
      }
    }
    const said = (peer: Joined) => new Set(peer.client.received.filter((e) => e.type === 'message' && e.data.message.startsWith('after ')).map((e) => e.data.message));
    await until(() => connected.every((peer) => said(peer).size === 15), 5000, () => `messages missing: ${connected.map((peer) => 15 - said(peer).size).join(', ')}`);
    for (const peer of connected) {
      const seqs = peer.client.received.filter((e) => e.type === 'message').map((e) => e.data.seq);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), 'each once, in seq order');
    }

    const everyone = new Set(connected.map((peer) => peer.name));
    await until(() => connected.every((peer) => presenceView(peer.client.received).size === 3), 5000, () => `the ghost stayed: ${connected.map((peer) => [...presenceView(peer.client.received)].join(' ')).join(' | ')}`);
    await sleep(3 * NODE_TTL_MS);
    for (const peer of connected) {
      assert.deepEqual(presenceView(peer.client.received), everyone, `${peer.name}'s list`);
      assert.deepEqual(new Set(await who(peer.client)), everyone, `/who for ${peer.name}`);
      assert.deepEqual(leftIn(peer), [ghost.name], `${peer.name} saw only the ghost leave`);
    }
    for (const peer of connected) await peer.client.close();
  });
});

withRedis('a process whose subscriber keeps dropping', async () => {
  test('is still alive while it resyncs: nobody on it is announced as left, and the chat goes on after', async () => {
    const redis = await startRedis();
    const admin = createClient({ url: redis.url });
    await admin.connect();
    const subscribers = async () => (await admin.clientList()).filter((client) => client.flags.includes('P')).map((client) => client.id);
    const one = await startNode(redis.url, FLAGS);
    const ofOne = new Set(await subscribers());
    const two = await startNode(redis.url, FLAGS);
    const a = await join(one, '/ws?room=drops');
    const b = await join(two, '/ws?room=drops');
    await until(() => presenceView(a.client.received).size === 2, 5000, () => 'a never saw b');
    // Two's subscriber is cut again and again, for three node TTLs: each resync waits for a mark it may never hear.
    const until3Ttl = Date.now() + 3 * NODE_TTL_MS;
    while (Date.now() < until3Ttl) {
      for (const id of await subscribers()) if (!ofOne.has(id)) await admin.clientKill({ filter: 'ID', id });
      await sleep(100);
    }
    await sleep(3 * NODE_TTL_MS);
    await sendAcked(b.client, 'still here', 'd1');
    await until(() => a.client.received.some((e) => e.type === 'message' && e.data.message === 'still here'), 5000, () => 'b\'s message never reached a');
    assert.deepEqual(leftIn(a), [], 'b never left');
    assert.deepEqual(presenceView(a.client.received), new Set([a.name, b.name]));
    await a.client.close();
    await b.client.close();
    await admin.quit();
  });
});

withRedis('Redis back without its data', async () => {
  const { redis, nodes, one, two } = await twoNodes();

  test('a new epoch, every connected name and session registered again, no name twice, and old positions answered unknown-epoch', async () => {
    const a = await join(one, '/ws?room=empty');
    const b = await join(two, '/ws?room=empty');
    const seq = await sendAcked(a.client, 'before', 'e1');
    const { epoch } = a.synced;
    await outage(redis, nodes, { empty: true });

    for (const peer of [a, b]) {
      await until(() => peer.client.received.some((e) => e.type === 'history-reset'), 5000, () => `${peer.name} was not told that history restarted`);
      const reset = peer.client.received.find((e) => e.type === 'history-reset')!;
      assert.notEqual(reset.data.epoch, epoch, 'a new epoch');
    }
    const everyone = new Set([a.name, b.name]);
    assert.deepEqual(new Set(await who(a.client)), everyone, 'the connected peers are online again');

    const newcomers = await Promise.all(Array.from({ length: 20 }, (_, i) => join(nodes[i % 2]!, '/ws?room=empty')));
    const names = [a.name, b.name, ...newcomers.map((peer) => peer.name)];
    assert.equal(new Set(names.map((name) => name.toLowerCase())).size, 22, 'no name twice');

    const resumed = await join(two, `/ws?room=empty&epoch=${epoch}&lastSeq=${seq}`);
    assert.equal(resumed.synced.reason, 'unknown-epoch');
    const again = await join(two, `/ws?room=empty&token=${a.token}`);
    assert.equal(again.name, a.name, 'the session was registered again');

    const after = await sendAcked(a.client, 'after', 'e2');
    assert.equal(after, 1, 'numbering restarts');
    await until(() => b.client.received.some((e) => e.type === 'message' && e.data.message === 'after'), 5000, () => 'the other node never delivered the first message of the new epoch');
    for (const peer of [a, b, ...newcomers, resumed, again]) await peer.client.close();
  });
});
