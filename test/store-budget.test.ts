// The stores' bounds on a real file (and in memory): the disk budget (--max-store-bytes) and the sessions kept (--max-sessions).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HistoryBudget } from '../lib/history.ts';
import { createMemoryStore } from '../lib/store-memory.ts';
import { createSqliteStore } from '../lib/store-sqlite.ts';
import { tempDataDir } from './helpers.ts';

test('past --max-store-bytes the least recently written rooms lose their oldest messages first, and the newest of each stays', async () => {
  const maxStoreBytes = 400 * 1024;
  const store = await createSqliteStore({
    dataDir: tempDataDir(), synchronous: 'normal', historySize: 100_000, historyDays: 0, maxReplay: 100_000, recentWindow: 3,
    sessionTtlMs: 60_000, maxKeptDirect: 100, maxSessions: 1000, dedupeWindowMs: 60_000, now: Date.now, maintenanceMs: 50, historyBudget: new HistoryBudget(1024 ** 2), maxStoreBytes,
  });
  const body = 'z'.repeat(4000);
  // 3 rooms x 100 messages of 4 KB: about 1.2 MB, three times the budget; `old` is written first.
  for (const room of ['old', 'middle', 'new']) {
    for (let i = 0; i < 100; i++) store.append(room, { sender: 'red-cat', message: body, ts: Date.now() });
    await store.commit();
  }
  await sleep(300);
  const kept = (room: string) => store.page(room, 101, 1000).messages.length;
  assert.ok(kept('old') < kept('new'), `the least recently written room gave up more: old ${kept('old')}, new ${kept('new')}`);
  assert.ok(kept('old') + kept('middle') + kept('new') <= 100, `about the budget's worth is kept: ${kept('old') + kept('middle') + kept('new')} messages`);
  for (const room of ['old', 'middle', 'new']) assert.equal(store.page(room, 101, 1).messages[0]?.seq, 100, `${room} keeps its newest`);
  // The numbering goes on.
  assert.equal(store.append('old', { sender: 'red-cat', message: 'next', ts: Date.now() }).message.seq, 101);
  await store.commit();
  await store.close();
});

test('past --max-sessions the least recently seen sessions are forgotten and their names freed, in either store', async () => {
  let clock = 1000;
  const options = {
    historySize: 100, historyDays: 0, maxReplay: 100, recentWindow: 3, sessionTtlMs: 60_000, maxKeptDirect: 100, maxSessions: 3,
    dedupeWindowMs: 60_000, now: () => clock, historyBudget: new HistoryBudget(1024 ** 2),
  };
  for (const store of [createMemoryStore(options), await createSqliteStore({ ...options, dataDir: tempDataDir(), synchronous: 'normal', maintenanceMs: 50 })]) {
    for (let i = 1; i <= 5; i++) {
      clock++;
      store.saveSession(`token-${i}`, 'lobby', `name-${i}`);
      await store.commit();
    }
    // Seen again: now the most recent.
    clock++;
    store.saveSession('token-1', 'lobby', 'name-1');
    await store.commit();
    await sleep(200);
    const kept = [1, 2, 3, 4, 5].filter((i) => store.sessionName(`token-${i}`, 'lobby') === `name-${i}`);
    assert.deepEqual(kept, [1, 4, 5]);
    assert.equal(store.nameOwner('lobby', 'name-2'), undefined, 'a forgotten session\'s name is free');
    await store.close();
  }
});
