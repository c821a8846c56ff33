// The engine contract against this process's engine, over each store: in memory, and SQLite in a
// temporary data directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createMemoryEngine } from '../lib/engine-memory.ts';
import { HistoryBudget } from '../lib/history.ts';
import { createMemoryStore } from '../lib/store-memory.ts';
import { createSqliteStore } from '../lib/store-sqlite.ts';
import type { StoreOptions } from '../lib/store.ts';
import { engineContract, type EngineSettings, type EngineUnderTest } from './engine-contract.ts';

const storeOptions = (settings: EngineSettings): StoreOptions => ({ ...settings, historyDays: 0, recentWindow: 3, now: Date.now, historyBudget: new HistoryBudget(1024 ** 3), maxSessions: 1000 });

function underTest(settings: EngineSettings, store: ReturnType<typeof createMemoryStore>): EngineUnderTest {
  const events: EngineUnderTest['events'] = [];
  // Without a hub, a name counts as connected while it is online (as over Redis, until away()).
  const isConnected = (room: string, name: string) => {
    let isOnline = false;
    for (const { room: where, event } of events) {
      if (where === room && (event.type === 'peer-joined' || event.type === 'peer-left') && event.data === name) isOnline = event.type === 'peer-joined';
    }
    return isOnline;
  };
  const rules: EngineUnderTest['rules'] = [];
  const engine = createMemoryEngine({ store, roomTtlMs: settings.roomTtlMs, isConnected, listener: (room, event) => events.push({ room, event }), onRules: (changes) => rules.push(changes) });
  return { engine, events, rules };
}

engineContract('in memory', async (settings) => underTest(settings, createMemoryStore(storeOptions(settings))));

const dataDirs = mkdtempSync(join(tmpdir(), 'plainchat-engine-'));
after(() => rmSync(dataDirs, { recursive: true, force: true }));
let stores = 0;
engineContract('over SQLite', async (settings) =>
  underTest(settings, await createSqliteStore({ ...storeOptions(settings), dataDir: join(dataDirs, String(++stores)), synchronous: 'normal' })),
);
