// Several plainchat processes over one Redis act as one chat: the server processes here are real
// (`server.ts --redis-url`), and so is the `redis-server` each run starts on a free port.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join, nextMessage, scrape, spawnServer } from './helpers.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const NODE_FLAGS = ['--grace-ms', '500', '--node-ttl-ms', '900'];

withRedis('several processes over Redis', async () => {
  const redis = await startRedis();
  const [one, two] = await Promise.all([startNode(redis.url, NODE_FLAGS), startNode(redis.url, NODE_FLAGS)]);

  test('peers on two nodes see each other, get different names, and hear every message once, in seq order', async () => {
    const a = await join(one);
    const b = await join(two);
    assert.notEqual(a.name.toLowerCase(), b.name.toLowerCase());
    assert.ok(b.peers.includes(a.name), 'the snapshot on node two lists the peer on node one');
    assert.deepEqual((await a.client.nextOfType('peer-joined')).data, [b.name]);

    a.client.send('from one');
    const atB = await nextMessage(b.client, 'from one');
    b.client.send('from two');
    const atA = await nextMessage(a.client, 'from two');
    assert.equal(atB.data.sender, a.name);
    assert.equal(atA.data.seq, atB.data.seq + 1, 'one seq per room across nodes');
    assert.equal(atA.data.epoch, atB.data.epoch);
    const heardByA = a.client.received.filter((e) => e.type === 'message').map((e) => e.data.message);
    assert.deepEqual(heardByA, ['from one', 'from two'], 'each once, in order');

    await b.client.close();
    assert.deepEqual((await a.client.nextOfType('peer-left', 15_000)).data, [b.name], 'a leave on node two reaches node one');
    await a.client.close();
  });

  test('a direct message reaches its recipient on the other node, and no one else', async () => {
    const sender = await join(one, '/ws?room=dm');
    const recipient = await join(two, '/ws?room=dm');
    const bystander = await join(two, '/ws?room=dm');
    sender.client.send(`/msg ${recipient.name.toUpperCase()} psst`);
    const expected = { from: sender.name, to: recipient.name, message: 'psst' };
    const { ts, ...got } = (await recipient.client.nextOfType('direct-message')).data;
    assert.deepEqual(got, expected);
    const { ts: ts2, ...echo } = (await sender.client.nextOfType('direct-message')).data;
    assert.deepEqual(echo, expected, 'the sender sees it as sent');
    bystander.client.send('marker');
    await nextMessage(bystander.client, 'marker');
    assert.ok(!bystander.client.received.some((e) => e.type === 'direct-message'), 'the bystander heard nothing of it');
    for (const peer of [sender, recipient, bystander]) await peer.client.close();
  });

  test('a direct message to a peer between two connections (in its grace period) is kept for it, whichever node it comes back on', async () => {
    const sender = await join(one, '/ws?room=grace');
    const recipient = await join(two, '/ws?room=grace');
    await recipient.client.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    sender.client.send(`/msg ${recipient.name} while you were gone`);
    assert.equal((await sender.client.nextOfType('direct-message')).data.stored, true, 'kept, says the sender\'s copy');
    const back = await join(one, `/ws?room=grace&token=${recipient.token}`);
    const { data } = await back.client.nextOfType('direct-message');
    assert.deepEqual([data.from, data.message, data.missed], [sender.name, 'while you were gone', true]);
    back.client.send(`/msg ${sender.name} back`);
    assert.equal((await sender.client.nextOfType('direct-message')).data.message, 'back', 'and once it is back, live');
    for (const peer of [sender, back]) await peer.client.close();
  });

  test('a session token keeps its name on the other node, and nobody sees it leave', async () => {
    const watcher = await join(one, '/ws?room=hop');
    const hopper = await join(one, '/ws?room=hop');
    await hopper.client.close();
    const back = await join(two, `/ws?room=hop&token=${hopper.token}`);
    assert.equal(back.name, hopper.name, 'the same name on the other node');
    // Longer than the grace period (500 ms): the first node's leave must not happen.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    back.client.send('still me');
    await nextMessage(watcher.client, 'still me');
    assert.ok(!watcher.client.received.some((e) => e.type === 'peer-left' && e.data.includes(hopper.name)), 'no leave was seen');
    const fresh = await join(two, '/ws?room=hop');
    assert.ok(fresh.peers.includes(hopper.name), 'and the name is still held');
    for (const peer of [watcher, back, fresh]) await peer.client.close();
  });

  test('a retry of an acknowledged message on the other node is acknowledged again, not sent twice', async () => {
    const watcher = await join(two, '/ws?room=retry');
    const sender = await join(one, '/ws?room=retry');
    sender.client.send({ type: 'message', data: 'exactly once', id: 'r1' });
    const { seq } = (await sender.client.nextOfType('ack')).data;
    await sender.client.close();
    const back = await join(two, `/ws?room=retry&token=${sender.token}`);
    back.client.send({ type: 'message', data: 'exactly once', id: 'r1' });
    assert.deepEqual((await back.client.nextOfType('ack')).data, { id: 'r1', seq });
    back.client.send('marker');
    await nextMessage(watcher.client, 'marker');
    assert.equal(watcher.client.received.filter((e) => e.type === 'message' && e.data.message === 'exactly once').length, 1);
    for (const peer of [watcher, back]) await peer.client.close();
  });

  test('the peers of a node that dies leave everywhere within about the node TTL', async () => {
    const doomedNode = await startNode(redis.url, NODE_FLAGS);
    const watcher = await join(one, '/ws?room=crash');
    const doomed = await join(doomedNode, '/ws?room=crash');
    assert.deepEqual((await watcher.client.nextOfType('peer-joined')).data, [doomed.name]);
    doomedNode.kill();
    const started = Date.now();
    assert.deepEqual((await watcher.client.nextOfType('peer-left', 5000)).data, [doomed.name]);
    assert.ok(Date.now() - started < 3000, `gone after ${Date.now() - started} ms with a 900 ms node TTL`);
    const fresh = await join(two, '/ws?room=crash');
    assert.ok(!fresh.peers.includes(doomed.name), 'and gone from every snapshot');
    await watcher.client.close();
    await fresh.client.close();
  });

  test('a client that reconnects to the other node resumes where it was', async () => {
    const talker = await join(one, '/ws?room=resume');
    const reader = await join(one, '/ws?room=resume');
    talker.client.send('before');
    const before = await nextMessage(reader.client, 'before');
    await reader.client.close();
    talker.client.send('while away');
    await nextMessage(talker.client, 'while away');
    const back = await join(two, `/ws?room=resume&epoch=${before.data.epoch}&lastSeq=${before.data.seq}`);
    assert.equal(back.synced.recovered, true);
    assert.deepEqual(back.history.map((m) => m.message), ['while away']);
    await talker.client.close();
    await back.client.close();
  });
});

withRedis('every node restarting', async () => {
  test('history and positions outlive every node: a node started afterwards serves them', async () => {
    const redis = await startRedis();
    const first = await startNode(redis.url, NODE_FLAGS);
    const talker = await join(first, '/ws?room=restart');
    talker.client.send('said before the restart');
    const said = await nextMessage(talker.client, 'said before the restart');
    await talker.client.close();
    first.kill();
    const second = await startNode(redis.url, NODE_FLAGS);
    const fresh = await join(second, '/ws?room=restart');
    assert.deepEqual(fresh.history.map((m) => m.message), ['said before the restart']);
    const resumed = await join(second, `/ws?room=restart&epoch=${said.data.epoch}&lastSeq=${said.data.seq - 1}`);
    assert.equal(resumed.synced.recovered, true, 'a position from before the restart still resumes');
    assert.deepEqual(resumed.history.map((m) => m.message), ['said before the restart']);
    await fresh.client.close();
    await resumed.client.close();
  });
});

withRedis('Redis going away', async () => {
  test('while Redis is down a send gets unavailable and /healthz 503; once it is back the chat goes on and nothing acknowledged is lost', async () => {
    const redis = await startRedis();
    const node = await startNode(redis.url, NODE_FLAGS);
    const health = async () => (await fetch(`${node.url}/healthz`)).status;
    const peer = await join(node, '/ws?room=outage');
    peer.client.send({ type: 'message', data: 'before', id: 'm1' });
    assert.deepEqual((await peer.client.nextOfType('ack')).data, { id: 'm1', seq: 1 });

    await redis.stop();
    peer.client.send('into the void?');
    assert.equal((await peer.client.nextOfType('error', 5000)).data.code, 'unavailable');
    // A send with an id is told which one went nowhere (the page keeps it and tries again).
    peer.client.send({ type: 'message', data: 'into the void, with an id', id: 'm2' });
    const refused = (await peer.client.nextOfType('error', 5000)).data;
    assert.deepEqual([refused.code, refused.id], ['unavailable', 'm2']);
    assert.equal(await health(), 503);
    // Found from outside: a /who while Redis was away took the whole process down.
    peer.client.send('/who');
    assert.equal((await peer.client.nextOfType('error', 5000)).data.code, 'unavailable', '/who is answered too');
    assert.equal(await health(), 503, 'and the server is still up');

    await redis.start();
    for (let tries = 0; (await health()) !== 200; tries++) {
      assert.ok(tries < 100, '/healthz is 200 again within 10 s of Redis coming back');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    peer.client.send({ type: 'message', data: 'after', id: 'm2' });
    await nextMessage(peer.client, 'after');
    assert.deepEqual((await peer.client.nextOfType('ack')).data, { id: 'm2', seq: 2 }, 'its own copy first, then the ack');
    const newcomer = await join(node, '/ws?room=outage');
    assert.deepEqual(newcomer.history.map((m) => m.message), ['before', 'after'], 'the acknowledged messages, and only those');
    await peer.client.close();
    await newcomer.client.close();
  });
});

withRedis('--workers', async () => {
  test('two workers share one port and one chat', async () => {
    const redis = await startRedis();
    const { port } = await spawnServer(['--redis-url', redis.url, '--workers', '2']);
    const server = { url: `http://127.0.0.1:${port}`, port, close: async () => {} };
    const peers = await Promise.all([join(server), join(server), join(server)]);
    peers[0]!.client.send('to everyone');
    for (const peer of peers) await nextMessage(peer.client, 'to everyone');
    // Each worker counts its own peers: three split over two shows as 1 on one and 2 on the other.
    const seen = new Set<number>();
    for (let tries = 0; tries < 40 && seen.size < 2; tries++) seen.add((await scrape(server)).get('plainchat_peers')!);
    assert.deepEqual([...seen].sort(), [1, 2], 'connections went to both workers');
    for (const peer of peers) await peer.client.close();
  });
});

test('--workers without --redis-url is refused with what to do', async () => {
  await assert.rejects(spawnServer(['--workers', '2']), /--workers 2 needs --redis-url/);
});

test('a server whose Redis cannot be reached says so and exits 1', async () => {
  await assert.rejects(spawnServer(['--redis-url', 'redis://127.0.0.1:1']), /cannot start: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
});
