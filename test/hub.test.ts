import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Hub, type Peer } from '../lib/hub.ts';
import { createCounters } from '../lib/metrics.ts';

function fakePeer(name: string, room = 'lobby'): Peer & { frames: Buffer[] } {
  const frames: Buffer[] = [];
  return { name, room, frames, deliver: (frame) => frames.push(frame), disconnect: () => {}, ruleKeys: [], isModerator: false };
}

/** The JSON payloads of `peer`'s frames (each a short unmasked text frame: a 2-byte header). */
function events(peer: { frames: Buffer[] }): unknown[] {
  return peer.frames.map((frame) => JSON.parse(frame.subarray(2).toString()));
}

test('a broadcast is framed once: every recipient is handed the same bytes', () => {
  const counters = createCounters();
  const hub = new Hub(counters);
  const peers = ['a', 'b', 'c'].map((n) => fakePeer(n));
  for (const peer of peers) hub.add(peer);
  const message = { sender: 'a', message: 'hi', ts: 1, seq: 1, epoch: 'e' };
  hub.dispatch('lobby', { type: 'message', data: message });
  const [first] = peers[0]!.frames;
  for (const peer of peers) {
    assert.equal(peer.frames.length, 1);
    assert.equal(peer.frames[0], first, 'the same Buffer object, not an equal copy');
  }
  assert.equal(first![0], 0x81, 'a final text frame');
  assert.deepEqual(events(peers[0]!), [{ type: 'message', data: message }]);
  assert.equal(counters.deliveries, 3);
});

test('joins and leaves of one turn go out together, in order, and rooms are separate', async () => {
  const hub = new Hub(createCounters());
  const a = fakePeer('a');
  const elsewhere = fakePeer('z', 'dev');
  hub.add(a);
  hub.add(elsewhere);
  for (const name of ['b', 'c', 'd']) hub.dispatch('lobby', { type: 'peer-joined', data: name });
  hub.dispatch('lobby', { type: 'peer-left', data: 'b' });
  hub.dispatch('lobby', { type: 'peer-joined', data: 'e' });
  assert.equal(a.frames.length, 2, 'a change of kind sends what waited; the rest waits for the end of the turn');
  await nextTurn();
  assert.deepEqual(events(a), [
    { type: 'peer-joined', data: ['b', 'c', 'd'] },
    { type: 'peer-left', data: ['b'] },
    { type: 'peer-joined', data: ['e'] },
  ]);
  assert.equal(elsewhere.frames.length, 0);
});

test('joins within the batch window go out together, and not before it ends', async () => {
  // A window much longer than the steps inside it, so that a loaded machine does not outrun it.
  const hub = new Hub(createCounters(), 400);
  const a = fakePeer('a');
  hub.add(a);
  hub.dispatch('lobby', { type: 'peer-joined', data: 'b' });
  await sleep(10);
  hub.dispatch('lobby', { type: 'peer-joined', data: 'c' });
  await nextTurn();
  assert.equal(a.frames.length, 0, 'nothing before the window ends');
  await sleep(500);
  assert.deepEqual(events(a), [{ type: 'peer-joined', data: ['b', 'c'] }]);
});

test('a peer added while joins wait (its own among them) hears only of those heard after it', async () => {
  const hub = new Hub(createCounters());
  const peers = ['a', 'b "q"', 'é\\'].map((n) => fakePeer(n));
  for (const peer of peers) {
    hub.dispatch('lobby', { type: 'peer-joined', data: peer.name });
    hub.add(peer);
  }
  await nextTurn();
  assert.deepEqual(peers.map(events), [[{ type: 'peer-joined', data: ['b "q"', 'é\\'] }], [{ type: 'peer-joined', data: ['é\\'] }], []]);
});

test('waiting presence is sent before any other event of the room', () => {
  const hub = new Hub(createCounters());
  const a = fakePeer('a');
  hub.add(a);
  hub.dispatch('lobby', { type: 'peer-joined', data: 'b' });
  hub.dispatch('lobby', { type: 'typing', data: { name: 'b', typing: true } });
  assert.deepEqual(events(a), [
    { type: 'peer-joined', data: ['b'] },
    { type: 'typing', data: { name: 'b', typing: true } },
  ]);
});

test('a peer is not told that it is typing, and a removed peer hears nothing', () => {
  const hub = new Hub(createCounters());
  const stays = fakePeer('a');
  const typist = fakePeer('t');
  const gone = fakePeer('b');
  for (const peer of [stays, typist, gone]) hub.add(peer);
  hub.remove(gone);
  hub.dispatch('lobby', { type: 'typing', data: { name: 't', typing: true } });
  assert.equal(stays.frames.length, 1);
  assert.equal(typist.frames.length, 0);
  assert.equal(gone.frames.length, 0);
  assert.equal(hub.size, 2);
});

test('a snapshot frame lists exactly the names given, however the last one differed', () => {
  const hub = new Hub(createCounters());
  const snapshots = [[], ['a'], ['a', 'b'], ['a', 'b', 'c', 'd'], ['a', 'c', 'd'], ['a', 'c', 'd', 'é"\\'], ['x']];
  for (const names of snapshots) {
    const frame = hub.snapshotFrame('lobby', names);
    assert.deepEqual(JSON.parse(frame.subarray(2).toString()), { type: 'update-peers', data: names });
  }
  assert.deepEqual(JSON.parse(hub.snapshotFrame('dev', ['z']).subarray(2).toString()).data, ['z'], 'rooms are separate');
});
