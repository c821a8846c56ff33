// The SQLite store's retention, on a real file: old messages and expired sessions are deleted from
// disk in the background, and what readers see honours the limits at once.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { HistoryBudget } from '../lib/history.ts';
import { createSqliteStore, DATABASE_FILE } from '../lib/store-sqlite.ts';
import { tempDataDir } from './helpers.ts';

const DAY_MS = 86_400_000;

async function open(dataDir: string, overrides: { historySize?: number; historyDays?: number; sessionTtlMs?: number; historyBudget?: HistoryBudget }, now: () => number) {
  return createSqliteStore({ dataDir, synchronous: 'normal', historySize: 1000, historyDays: 0, maxReplay: 1000, recentWindow: 3, sessionTtlMs: DAY_MS, maxKeptDirect: 100, maxSessions: 1000, dedupeWindowMs: DAY_MS, now, maintenanceMs: 50, historyBudget: new HistoryBudget(1024 ** 3), ...overrides });
}

/** Runs `sql` on the store's file once the store is closed. */
function query(dataDir: string, sql: string): unknown {
  const db = new Database(join(dataDir, DATABASE_FILE));
  try {
    return db.prepare(sql).pluck().get();
  } finally {
    db.close();
  }
}

test('a room keeps at most --history-size messages: readers see that many at once, and the rest leave the file', async () => {
  const dataDir = tempDataDir();
  const store = await open(dataDir, { historySize: 10 }, Date.now);
  for (let i = 1; i <= 25; i++) store.append('lobby', { sender: 'a', message: `m${i}`, ts: Date.now() }, { token: 't' });
  await store.commit();
  const page = store.page('lobby', 100, 100);
  assert.deepEqual(page.messages.map((m) => m.seq), Array.from({ length: 10 }, (_, i) => 16 + i));
  assert.equal(page.more, false);
  await sleep(200);
  await store.close();
  assert.equal(query(dataDir, 'SELECT count(*) FROM messages'), 10);
  const reopened = await open(dataDir, { historySize: 10 }, Date.now);
  assert.equal(reopened.append('lobby', { sender: 'a', message: 'next', ts: Date.now() }, { token: 't' }).message.seq, 26, 'seq goes on after a trim and a restart');
  await reopened.close();
});

test('with --history-days, older messages are deleted in the background; expired sessions and their mail go too', async () => {
  const dataDir = tempDataDir();
  let clock = Date.now();
  const store = await open(dataDir, { historyDays: 1, sessionTtlMs: DAY_MS }, () => clock);
  for (let i = 1; i <= 5; i++) store.append('lobby', { sender: 'a', message: `old ${i}`, ts: clock }, { token: 't' });
  store.saveSession('gone', 'lobby', 'Old Timer');
  store.keepDirect(store.nameOwner('lobby', 'old timer')!.owner, 'lobby', { from: 'x', to: 'Old Timer', message: 'hi', ts: clock });
  await store.commit();
  clock += 2 * DAY_MS;
  for (let i = 1; i <= 3; i++) store.append('lobby', { sender: 'a', message: `new ${i}`, ts: clock }, { token: 't' });
  store.saveSession('kept', 'lobby', 'Newcomer');
  await store.commit();
  await sleep(200);
  assert.deepEqual(store.page('lobby', 100, 100).messages.map((m) => m.message), ['new 1', 'new 2', 'new 3']);
  assert.equal(store.nameOwner('lobby', 'Old Timer'), undefined, 'the expired session no longer owns its name');
  assert.equal(store.sessionName('kept', 'lobby'), 'Newcomer');
  await store.close();
  assert.equal(query(dataDir, 'SELECT count(*) FROM messages'), 3);
  assert.equal(query(dataDir, 'SELECT count(*) FROM sessions'), 1);
  assert.equal(query(dataDir, 'SELECT count(*) FROM mail'), 0);
});

test('a retried id is recognised for the dedupe window even after its message left the history', async () => {
  const dataDir = tempDataDir();
  const store = await open(dataDir, { historySize: 2 }, Date.now);
  const first = store.append('lobby', { sender: 'a', message: 'once', ts: Date.now() }, { token: 't', id: 'x' });
  for (let i = 0; i < 5; i++) store.append('lobby', { sender: 'a', message: `more ${i}`, ts: Date.now() }, { token: 't' });
  await store.commit();
  await sleep(200);
  assert.equal(store.page('lobby', 100, 100).messages.some((m) => m.message === 'once'), false, 'trimmed');
  const retry = store.append('lobby', { sender: 'a', message: 'once', ts: Date.now() }, { token: 't', id: 'x' });
  assert.deepEqual([retry.isNew, retry.message.seq], [false, first.message.seq]);
  await store.close();
});

test('tokens never reach the file', async () => {
  const dataDir = tempDataDir();
  const token = 'K4L3Do5mC8pPDLBv0bpPc0YLW05qnShJ';
  const store = await open(dataDir, {}, Date.now);
  store.saveSession(token, 'lobby', 'Ada');
  store.append('lobby', { sender: 'Ada', message: 'hello', ts: Date.now() }, { token, id: 'id-1' });
  await store.close();
  const db = new Database(join(dataDir, DATABASE_FILE));
  const dump = JSON.stringify([db.prepare('SELECT * FROM sessions').all(), db.prepare('SELECT * FROM messages').all()], (_, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v));
  db.close();
  assert.ok(dump.includes('Ada'));
  assert.ok(!dump.includes(token), 'only a hash of the token is kept');
});

test('a file of schema 1 (names keyed in lower case) is rekeyed by nameKey once; of two look-alikes the one seen last keeps its name', async () => {
  const dataDir = tempDataDir();
  let clock = Date.now();
  const store = await open(dataDir, {}, () => clock);
  // Each in a room of its own (the new keys would make them free one another), moved to one below.
  const sessions: Array<[string, string]> = [
    ['token-old', 'orchid-eagle'],
    ['token-new', '\u043erchid-eagle'],
    ['token-older', 'rnaroon-rnoose'],
    ['token-newer', 'maroon-moose'],
    ['token-ada', 'Ada'],
  ];
  for (const [token, name] of sessions) {
    store.saveSession(token, token, name);
    clock += 1000;
  }
  store.keepDirect(store.nameOwner('token-old', 'orchid-eagle')!.owner, 'token-old', { from: 'x', to: 'orchid-eagle', message: 'kept', ts: clock });
  await store.close();
  const db = new Database(join(dataDir, DATABASE_FILE));
  db.exec('DROP INDEX sessions_by_name');
  for (const { id, name } of db.prepare('SELECT id, name FROM sessions').all() as Array<{ id: Buffer; name: string }>) {
    db.prepare("UPDATE sessions SET room = 'lobby', name_key = ? WHERE id = ?").run(name.toLowerCase(), id);
  }
  db.exec("CREATE UNIQUE INDEX sessions_by_name ON sessions (room, name_key); ALTER TABLE messages DROP COLUMN action; ALTER TABLE messages DROP COLUMN deleted_by; UPDATE meta SET value = '1' WHERE key = 'schema'");
  db.close();

  const upgraded = await open(dataDir, {}, () => clock);
  assert.equal(upgraded.nameOwner('lobby', 'ORCHID-EAGLE')?.name, '\u043erchid-eagle', 'the look-alike seen last keeps the name');
  assert.equal(upgraded.sessionName('token-new', 'lobby'), '\u043erchid-eagle');
  assert.equal(upgraded.sessionName('token-old', 'lobby'), undefined, 'the other is dropped: a fresh name when it comes back');
  assert.equal(upgraded.sessionName('token-older', 'lobby'), undefined, "its old key was the newer one's new key");
  assert.equal(upgraded.nameOwner('lobby', 'maroon-moose')?.name, 'maroon-moose');
  assert.equal(upgraded.nameOwner('lobby', 'ada')?.name, 'Ada');
  await upgraded.close();
  assert.equal(query(dataDir, "SELECT value FROM meta WHERE key = 'schema'"), '4');
  assert.equal(query(dataDir, 'SELECT count(*) FROM sessions'), 3);
  assert.equal(query(dataDir, 'SELECT count(*) FROM mail'), 0, "the dropped session's mail went with it");

  const reopened = await open(dataDir, {}, () => clock);
  assert.equal(reopened.sessionName('token-ada', 'lobby'), 'Ada', 'opens as schema 4, with nothing more to do');
  await reopened.close();
});

test('a file of schema 2 (no actions, no topics) keeps its messages and takes actions and topics once upgraded', async () => {
  const dataDir = tempDataDir();
  const store = await open(dataDir, {}, Date.now);
  store.append('lobby', { sender: 'ada', message: 'before', ts: 1 });
  await store.close();
  const db = new Database(join(dataDir, DATABASE_FILE));
  db.exec("ALTER TABLE messages DROP COLUMN action; ALTER TABLE messages DROP COLUMN deleted_by; DROP TABLE topics; UPDATE meta SET value = '2' WHERE key = 'schema'");
  db.close();

  const upgraded = await open(dataDir, {}, Date.now);
  upgraded.append('lobby', { sender: 'ada', message: 'waves', ts: 2, action: true });
  upgraded.setTopic('lobby', { topic: 'release day', by: 'ada', ts: 3 });
  await upgraded.commit();
  await upgraded.close();
  assert.equal(query(dataDir, "SELECT value FROM meta WHERE key = 'schema'"), '4');
  const reopened = await open(dataDir, {}, Date.now);
  assert.deepEqual(reopened.page('lobby', 3, 10).messages.map(({ message, action }) => ({ message, action })), [
    { message: 'before', action: undefined },
    { message: 'waves', action: true },
  ]);
  assert.deepEqual(reopened.topic('lobby'), { topic: 'release day', by: 'ada', ts: 3 });
  await reopened.close();
});

test('a file of schema 3 (no tombstones) keeps its messages, and one can be deleted once upgraded, on disk and after a restart', async () => {
  const dataDir = tempDataDir();
  const store = await open(dataDir, {}, Date.now);
  store.append('lobby', { sender: 'ada', message: 'keep', ts: 1 });
  store.append('lobby', { sender: 'ada', message: 'secret', ts: 2, action: true });
  await store.close();
  const db = new Database(join(dataDir, DATABASE_FILE));
  db.exec("ALTER TABLE messages DROP COLUMN deleted_by; UPDATE meta SET value = '3' WHERE key = 'schema'");
  db.close();

  const upgraded = await open(dataDir, {}, Date.now);
  assert.deepEqual(upgraded.page('lobby', 3, 10).messages.map((m) => m.message), ['keep', 'secret']);
  assert.equal(upgraded.tombstone('lobby', 2, 'api')?.isNew, true);
  assert.equal(upgraded.tombstone('lobby', 3, 'api'), undefined, 'not kept');
  await upgraded.commit();
  assert.deepEqual(upgraded.page('lobby', 3, 10).messages[1], { sender: 'ada', message: '', ts: 2, seq: 2, epoch: upgraded.epoch, deleted: true, deletedBy: 'api' }, 'the window holds the tombstone');
  await upgraded.close();
  assert.equal(query(dataDir, "SELECT value FROM meta WHERE key = 'schema'"), '4');
  assert.equal(query(dataDir, "SELECT count(*) FROM messages WHERE body LIKE '%secret%'"), 0, 'the text left the file');
  const reopened = await open(dataDir, {}, Date.now);
  assert.deepEqual(reopened.page('lobby', 3, 10).messages.map((m) => [m.message, m.deletedBy, m.action]), [['keep', undefined, undefined], ['', 'api', undefined]]);
  assert.equal(reopened.tombstone('lobby', 2, 'other')?.isNew, false, 'a tombstone already');
  await reopened.close();
});

test('moderation rules and the secret outlive a restart; a rule past its time is no longer read, and leaves the file with the next change', async () => {
  const dataDir = tempDataDir();
  let clock = 1_000_000;
  const store = await open(dataDir, {}, () => clock);
  const secret = store.secret();
  store.changeRules([
    { set: { kind: 'ban', key: 'ip:1.2.3.4', name: 'Spam Bot', by: 'Mod', reason: 'spam', until: null } },
    { set: { kind: 'mute', room: 'lobby', key: 'token:t', name: 'Loud', by: 'Mod', until: clock + 1000 } },
    { set: { kind: 'slow', room: 'lobby', seconds: 5, by: 'Mod' } },
  ]);
  await store.commit();
  await store.close();
  const reopened = await open(dataDir, {}, () => clock);
  assert.equal(reopened.secret(), secret, 'invitations made before still verify');
  assert.deepEqual(reopened.rules().map((rule) => rule.kind).sort(), ['ban', 'mute', 'slow']);
  clock += 1000;
  assert.deepEqual(reopened.rules().map((rule) => rule.kind).sort(), ['ban', 'slow'], 'the mute is over');
  reopened.changeRules([{ lift: 'slow\nlobby\n' }]);
  await reopened.commit();
  await reopened.close();
  assert.equal(query(dataDir, 'SELECT count(*) FROM rules'), 1, 'the lifted rule and the one past its time are gone');
});
