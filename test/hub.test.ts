import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hub, type Peer } from '../lib/hub.ts';

function fakePeer(name: string, room = 'lobby'): Peer & { frames: Array<string | Buffer> } {
  const frames: Array<string | Buffer> = [];
  return { name, room, joinedAt: 0, frames, socket: {}, send: (frame) => frames.push(frame) };
}

test('a broadcast is serialized once: every recipient is handed the same bytes', () => {
  const hub = new Hub();
  const peers = ['a', 'b', 'c'].map((n) => fakePeer(n));
  for (const peer of peers) hub.add(peer);
  hub.dispatch('lobby', { type: 'message', data: { sender: 'a', message: 'hi', ts: 1, seq: 1, epoch: 'e' } });
  const [first] = peers[0]!.frames;
  assert.ok(Buffer.isBuffer(first));
  for (const peer of peers) {
    assert.equal(peer.frames.length, 1);
    assert.equal(peer.frames[0], first, 'the same Buffer object, not an equal copy');
  }
  assert.deepEqual(JSON.parse(first.toString()), { type: 'message', data: { sender: 'a', message: 'hi', ts: 1, seq: 1, epoch: 'e' } });
});

test('rooms are separate, and a peer is not told of its own arrival', () => {
  const hub = new Hub();
  const a = fakePeer('a');
  const b = fakePeer('b');
  const elsewhere = fakePeer('c', 'dev');
  for (const peer of [a, b, elsewhere]) hub.add(peer);
  hub.dispatch('lobby', { type: 'peer-joined', data: 'b' });
  assert.equal(a.frames.length, 1);
  assert.equal(b.frames.length, 0);
  assert.equal(elsewhere.frames.length, 0);
});

test('a removed peer hears nothing', () => {
  const hub = new Hub();
  const stays = fakePeer('a');
  const gone = fakePeer('b');
  hub.add(stays);
  hub.add(gone);
  hub.remove(gone);
  hub.dispatch('lobby', { type: 'peer-left', data: 'b' });
  assert.equal(stays.frames.length, 1);
  assert.equal(gone.frames.length, 0);
  assert.equal(hub.size, 1);
});
