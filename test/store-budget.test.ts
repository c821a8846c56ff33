// The SQLite store's disk budget (--max-store-bytes), on a real file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HistoryBudget } from '../lib/history.ts';
import { createSqliteStore } from '../lib/store-sqlite.ts';
import { tempDataDir } from './helpers.ts';

test('past --max-store-bytes the least recently written rooms lose their oldest messages first, and the newest of each stays', async () => {
  const maxStoreBytes = 400 * 1024;
  const store = await createSqliteStore({
    dataDir: tempDataDir(), synchronous: 'normal', historySize: 100_000, historyDays: 0, maxReplay: 100_000, recentWindow: 3,
    sessionTtlMs: 60_000, dedupeWindowMs: 60_000, now: Date.now, maintenanceMs: 50, historyBudget: new HistoryBudget(1024 ** 2), maxStoreBytes,
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
