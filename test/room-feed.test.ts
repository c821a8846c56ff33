import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoomEvent } from '../lib/engine.ts';
import type { ChatMessage } from '../lib/protocol.ts';
import { RoomFeed } from '../lib/room-feed.ts';

const message = (seq: number, epoch = 'e1'): ChatMessage => ({ sender: 'a', message: `m${seq}`, ts: seq, seq, epoch });

/** A feed over a history of `kept` messages, recording what it delivers and what it reads. */
function feedOver(kept: number[] = []) {
  const delivered: RoomEvent[] = [];
  const reads: Array<[number, number]> = [];
  let foreign = 0;
  const feed = new RoomFeed({
    deliver: (event) => delivered.push(event),
    read: async (from, to) => {
      reads.push([from, to]);
      return kept.filter((seq) => seq >= from && seq <= to).map((seq) => message(seq));
    },
    epoch: () => 'e1',
    onForeignEpoch: () => foreign++,
    retryMs: 10,
  });
  const seqs = () => delivered.flatMap((event) => (event.type === 'message' ? [event.data.seq] : []));
  const said = () => delivered.map((event) => (event.type === 'message' ? `#${event.data.seq}` : `${event.type} ${JSON.stringify(event.data)}`));
  return { feed, delivered, reads, seqs, said, foreign: () => foreign };
}

/** Starts a feed the way a first join does: its mark, then its answer with the room's snapshot. */
function started(seq: number, names: string[], kept: number[] = []) {
  const under = feedOver(kept);
  const entered: string[][] = [];
  under.feed.expect('t0', (snapshot) => entered.push(snapshot));
  under.feed.receive({ type: 'peer-joined', data: names.at(-1)!, sync: 't0' });
  under.feed.answered('t0', { seq, names });
  return { ...under, entered };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a first join settles at its mark on its snapshot; what came before the mark is not passed on', () => {
  const { feed, said } = feedOver();
  const entries: string[][] = [];
  feed.expect('t1', (names) => entries.push(names));
  feed.receive({ type: 'message', data: message(3) });
  feed.receive({ type: 'peer-joined', data: 'ada', sync: 't1' });
  // The answer is late: what comes after the mark waits for it.
  feed.receive({ type: 'message', data: message(5) });
  feed.receive({ type: 'peer-joined', data: 'bob' });
  assert.deepEqual(entries, []);
  feed.answered('t1', { seq: 4, names: ['cy', 'ada'] });
  assert.deepEqual(entries, [['cy', 'ada']]);
  assert.deepEqual(said(), ['peer-joined "ada"', '#5', 'peer-joined "bob"']);
});

test('a message heard twice, or one the snapshot already had, is passed on once', () => {
  const { feed, seqs } = started(2, ['ada']);
  for (const seq of [1, 2, 3, 3, 4, 2]) feed.receive({ type: 'message', data: message(seq) });
  assert.deepEqual(seqs(), [3, 4]);
});

test('a gap is read from history and everything behind it waits, so order holds', async () => {
  const { feed, seqs, reads, said } = started(1, ['ada'], [1, 2, 3, 4, 5]);
  feed.receive({ type: 'message', data: message(4) });
  feed.receive({ type: 'peer-left', data: 'ada' });
  feed.receive({ type: 'message', data: message(5) });
  assert.deepEqual(seqs(), [], 'held back while history is read');
  await tick();
  assert.deepEqual(reads, [[2, 3]]);
  assert.deepEqual(said().slice(1), ['#2', '#3', '#4', 'peer-left "ada"', '#5']);
});

test('a join or leave that changes nothing is dropped; a rename moves what this process holds', () => {
  const { feed, said } = started(0, ['ada', 'bob']);
  feed.holds.set('bob', { name: 'bob', token: 't' });
  feed.receive({ type: 'peer-joined', data: 'ada' });
  feed.receive({ type: 'peer-left', data: 'cy' });
  feed.receive({ type: 'peer-renamed', data: { from: 'bob', to: 'Bo' } });
  feed.receive({ type: 'peer-renamed', data: { from: 'bob', to: 'Bo' } });
  assert.deepEqual(said().slice(1), ['peer-renamed {"from":"bob","to":"Bo"}']);
  assert.deepEqual([...feed.holds.values()], [{ name: 'Bo', token: 't' }]);
});

test('delivered() resolves once the listener has had the message; catchUp reads one never heard', async () => {
  const { feed, seqs } = started(0, ['ada'], [1, 2]);
  let isDone = false;
  void feed.delivered(2).then(() => (isDone = true));
  feed.receive({ type: 'message', data: message(1) });
  await tick();
  assert.equal(isDone, false);
  feed.catchUp(2);
  await tick();
  await tick();
  assert.deepEqual(seqs(), [1, 2]);
  assert.equal(isDone, true);
});

test('a resync replaces presence with its snapshot (telling who came and went) and reads the messages missed', async () => {
  const { feed, said } = started(1, ['ada', 'bob'], [1, 2, 3]);
  let settled = 0;
  feed.expect('r1', () => settled++, true);
  feed.receive({ type: 'sync', sync: 'r1' });
  feed.receive({ type: 'message', data: message(4) });
  feed.answered('r1', { seq: 3, names: ['bob', 'cy'] });
  assert.equal(settled, 1);
  await tick();
  assert.deepEqual(said().slice(1), ['peer-left "ada"', 'peer-joined "cy"', '#2', '#3', '#4']);
});

test('a join whose mark was lost while the subscriber was away settles at the next resync', () => {
  const { feed } = started(0, ['ada']);
  const entries: string[][] = [];
  feed.expect('j1', (names) => entries.push(names));
  feed.answered('j1');
  feed.expect('r1', () => {}, true);
  feed.answered('r1', { seq: 0, names: ['ada', 'bob'] });
  feed.receive({ type: 'sync', sync: 'r1' });
  assert.deepEqual(entries, [['ada', 'bob']]);
});

test('a message of another epoch is not passed on, and says so', () => {
  const { feed, seqs, foreign } = started(0, ['ada']);
  feed.receive({ type: 'message', data: message(1, 'e2') });
  assert.deepEqual(seqs(), []);
  assert.equal(foreign(), 1);
});
