import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistoryBudget, messageBytes, RoomHistory } from '../lib/history.ts';

const message = (text: string) => ({ sender: 'red-cat', message: text, ts: 0, epoch: 'e' });

test('past the budget the least recently used room lets its oldest messages go first, and positions stay true', () => {
  const size = messageBytes({ ...message('x'.repeat(100)), seq: 1 });
  const budget = new HistoryBudget(size * 10);
  const quiet = new RoomHistory(1000, { budget, room: 'quiet' });
  const busy = new RoomHistory(1000, { budget, room: 'busy' });
  for (let i = 0; i < 6; i++) quiet.append(message('x'.repeat(100)));
  for (let i = 0; i < 6; i++) busy.append(message('x'.repeat(100)));
  assert.ok(budget.bytes <= size * 10, `${budget.bytes} bytes held`);
  assert.equal(busy.read(1, 6).length, 6, 'the room in use keeps all of its messages');
  assert.ok(quiet.read(1, 6).length < 6, 'the quiet one gave some back');
  assert.equal(quiet.seq, 6, 'its numbering is untouched');
  assert.equal(quiet.oldest, 7 - quiet.read(1, 6).length, 'and it says which are still kept');
  assert.equal(budget.bytes, quiet.bytes + busy.bytes);
  budget.release('quiet', quiet.bytes);
  assert.equal(budget.bytes, busy.bytes);
});

test('a room alone over the budget sheds its own oldest', () => {
  const budget = new HistoryBudget(5000);
  const history = new RoomHistory(1000, { budget, room: 'solo' });
  for (let i = 0; i < 100; i++) history.append(message('y'.repeat(200)));
  assert.ok(budget.bytes <= 5000);
  assert.equal(history.read(100, 100).length, 1, 'the newest is kept');
});
