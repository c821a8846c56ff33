import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RoomHistory } from '../lib/history.ts';
import { newToken, Sessions } from '../lib/sessions.ts';

test('a session ends after the grace period unless a connection takes it back', async () => {
  const sessions = new Sessions({ graceMs: 50, now: Date.now });
  const ended: string[] = [];
  const kept = sessions.create('lobby', 'kept', newToken());
  sessions.detach(kept, () => ended.push('kept'));
  assert.equal(sessions.resume(kept.token, 'dev'), undefined, 'a token is good in its own room only');
  assert.equal(sessions.resume(kept.token, 'lobby'), kept);
  const gone = sessions.create('lobby', 'gone', newToken());
  sessions.detach(gone, () => ended.push('gone'));
  await sleep(80);
  assert.deepEqual(ended, ['gone']);
  assert.equal(sessions.resume(gone.token, 'lobby'), undefined);
  const kicked = sessions.create('lobby', 'kicked', newToken());
  sessions.detach(kicked, () => ended.push('kicked'), true);
  assert.deepEqual(ended, ['gone', 'kicked'], 'a kick ends the session at once');
});

test('history numbers without gaps and keeps only its capacity', () => {
  const history = new RoomHistory(3);
  for (const text of ['a', 'b', 'c', 'd']) history.append({ sender: 's', message: text, ts: 0, epoch: 'e' });
  assert.equal(history.seq, 4);
  assert.deepEqual(history.replay('e', undefined, 10).messages.map((m) => [m.seq, m.message]), [[2, 'b'], [3, 'c'], [4, 'd']]);
  assert.deepEqual(history.replay('e', { epoch: 'e', seq: 1 }, 0).messages.map((m) => m.seq), [2, 3, 4]);
  assert.equal(history.replay('e', { epoch: 'e', seq: 0 }, 0).reason, 'too-old');
  assert.equal(history.replay('e', undefined, 0).messages.length, 0, 'history on join can be off');
});
