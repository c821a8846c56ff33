// The default store: one SQLite file (`plainchat.db`) under the data directory, through
// better-sqlite3, in WAL mode. Writes of one event-loop turn share one transaction, committed after
// the turn; an `ack` waits for that commit. Only a window of each active room's newest messages
// stays in memory; older ones are read from the file when a resume or a history page needs them.
//
// Tokens never reach the file: a session is kept by a hash of its token (16 bytes of SHA-256), and
// so is a message's sender session and, in `sent`, its client id for dedupe, kept for the dedupe
// window whether or not the message itself is still kept.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { type HistoryHolder, messageBytes, messagesBytes, planPage, planReplay, toTombstone } from './history.ts';
import { nameKey } from './names.ts';
import { upgradeFrom1, upgradeFrom2, upgradeFrom3 } from './store-sqlite-upgrade.ts';
import { atTurnEnd } from './turn.ts';
import type { ChatMessage, Topic } from './protocol.ts';
import { type Rule, ruleId } from './rules.ts';
import type { DirectMessage, Store, StoreOptions } from './store.ts';

export interface SqliteStoreOptions extends StoreOptions {
  dataDir: string;
  /** SQLite's `synchronous` in WAL mode: `normal` survives a crash of the process, `full` also a power loss. */
  synchronous: 'normal' | 'full';
  /** Bytes the file's data may take; past it the least recently used rooms' oldest messages are deleted at the next maintenance (0: no limit). */
  maxStoreBytes?: number;
  /** How often old messages, expired sessions and their mail are deleted, in ms (a minute). */
  maintenanceMs?: number;
}

/** A store that cannot be opened, with what to do about it; the server prints the message and exits. */
export class StoreError extends Error {}

export const DATABASE_FILE = 'plainchat.db';
// 2: `sessions.name_key` is nameKey (lib/names.ts); a file of schema 1 is upgraded as it opens.
// Bump it, with an upgrade, whenever nameKey changes (unhomoglyph's data, say): keys are kept.
// 3: `messages.action` marks an action (`/me`), and `topics` keeps each room's topic.
// 4: `messages.deleted_by` marks a tombstone (its body is empty): who deleted the message.
// `rules` (moderation, see rules.ts) came within 4: a table a file lacks is made as it opens.
const SCHEMA_VERSION = '4';
const DAY_MS = 86_400_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (room TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY, room TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
  sender TEXT NOT NULL, body TEXT NOT NULL, session BLOB NOT NULL, action INTEGER NOT NULL DEFAULT 0, deleted_by TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_room ON messages (room, seq);
CREATE TABLE IF NOT EXISTS sent (dedupe BLOB PRIMARY KEY, seq INTEGER NOT NULL, ts INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  id BLOB PRIMARY KEY, room TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS sessions_by_name ON sessions (room, name_key);
CREATE INDEX IF NOT EXISTS sessions_by_last_seen ON sessions (last_seen);
CREATE TABLE IF NOT EXISTS mail (
  id INTEGER PRIMARY KEY, session BLOB NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL, ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS mail_by_session ON mail (session, id);
CREATE TABLE IF NOT EXISTS topics (room TEXT PRIMARY KEY, topic TEXT NOT NULL, by TEXT NOT NULL, ts INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, rule TEXT NOT NULL, until INTEGER) WITHOUT ROWID;
`;

interface Row {
  seq: number;
  ts: number;
  sender: string;
  body: string;
  action: number;
  deleted_by: string | null;
}

/** One room's numbering and the newest committed messages, in memory while the room is active. */
interface RoomState {
  /** The last seq handed out, committed or not. */
  seq: number;
  /** The last seq that is durable; readers see up to here. */
  committed: number;
  /** The newest committed messages, at most `recentWindow`, fewer when the history budget took some back (they are on disk). */
  recent: ChatMessage[];
  /** What `recent` holds, in the history budget's terms; `shed` gives its oldest back to the budget. */
  holder: HistoryHolder & { bytes: number };
  /** Appended in the open batch, not yet durable. */
  pending: ChatMessage[];
}

interface Batch {
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  rooms: Set<string>;
  /** Told synchronously how the commit went (see Store.afterCommit). */
  callbacks: Array<(isCommitted: boolean) => void>;
  failure?: Error;
}

const hash = (text: string): Buffer => createHash('sha256').update(text).digest().subarray(0, 16);

/** Loads better-sqlite3, or says what to run when it is missing or its native part did not build. */
async function loadBinding(): Promise<typeof BetterSqlite3> {
  try {
    return (await import('better-sqlite3')).default;
  } catch (err) {
    throw new StoreError(bindingHelp(err));
  }
}

function bindingHelp(err: unknown): string {
  return (
    `the SQLite store needs better-sqlite3, which is missing or did not build (${String((err as Error).message).split('\n')[0]}). ` +
    'Run `npm install` (or `npm rebuild better-sqlite3`; building it needs python3, make and a C++ compiler), or start with --memory to keep everything in memory'
  );
}

/** Opens (creating if need be) the store under `dataDir`. Throws a StoreError that says how to fix what is wrong. */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const { dataDir, synchronous, historySize, historyDays, maxReplay, recentWindow, sessionTtlMs, dedupeWindowMs, now, historyBudget, maxStoreBytes = 0, maintenanceMs = 60_000 } = options;
  const Database = await loadBinding();
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    throw new StoreError(`cannot create the data directory ${dataDir} (${(err as Error).message}); pick another with --data-dir or DATA_DIR, or start with --memory`);
  }
  const file = join(dataDir, DATABASE_FILE);
  let db: BetterSqlite3.Database;
  try {
    db = new Database(file);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('SQLITE')) throw new StoreError(bindingHelp(err));
    throw new StoreError(`cannot open ${file} (${(err as Error).message}); check that the data directory is writable, or pick another with --data-dir`);
  }
  let epoch: string;
  let secret: string;
  try {
    // One process at a time: a second plainchat on the same directory would number messages twice.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec(SCHEMA);
    // The secret (invitations are signed with it) is made with the file, or the first time a file of before it opens.
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?), ('epoch', ?), ('secret', ?)").run(SCHEMA_VERSION, randomBytes(8).toString('hex'), randomBytes(32).toString('base64url'));
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((row) => [row.key, row.value]));
    if (meta.get('schema') === '1') {
      upgradeFrom1(db);
      meta.set('schema', '2');
    }
    if (meta.get('schema') === '2') {
      upgradeFrom2(db);
      meta.set('schema', '3');
    }
    if (meta.get('schema') === '3') {
      upgradeFrom3(db);
      meta.set('schema', '4');
    }
    if (meta.get('schema') !== SCHEMA_VERSION) throw new StoreError(`${file} has schema ${meta.get('schema')}, this plainchat reads ${SCHEMA_VERSION}; use a matching plainchat or another --data-dir`);
    epoch = meta.get('epoch')!;
    secret = meta.get('secret')!;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY') throw new StoreError(`${file} is in use by another plainchat process; stop it, or give this one another --data-dir`);
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new StoreError(`${file} is not a readable SQLite database (${(err as Error).message}); restore it from a backup, or move it away to start with an empty store`);
    }
    throw new StoreError(`cannot use ${file} (${(err as Error).message}); check that the data directory is writable, or pick another with --data-dir`);
  }

  // The file this store opened: one removed or replaced under a running server would take every
  // later write with it, so each commit first checks that it is still there.
  const inode = statSync(file).ino;
  const isFileInPlace = (): boolean => {
    try {
      return statSync(file).ino === inode;
    } catch {
      return false;
    }
  };
  let isHealthy = true;

  const sql = {
    roomSeq: db.prepare('SELECT seq FROM rooms WHERE room = ?').pluck(),
    saveRoom: db.prepare('INSERT INTO rooms (room, seq) VALUES (?, ?) ON CONFLICT (room) DO UPDATE SET seq = excluded.seq'),
    insert: db.prepare('INSERT INTO messages (room, seq, ts, sender, body, session, action) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    remember: db.prepare('INSERT OR REPLACE INTO sent (dedupe, seq, ts) VALUES (?, ?, ?)'),
    prior: db.prepare('SELECT seq FROM sent WHERE dedupe = ? AND ts >= ?').pluck(),
    forgetSent: db.prepare('DELETE FROM sent WHERE ts < ?'),
    range: db.prepare('SELECT seq, ts, sender, body, action, deleted_by FROM messages WHERE room = ? AND seq BETWEEN ? AND ? ORDER BY seq'),
    tombstone: db.prepare("UPDATE messages SET body = '', action = 0, deleted_by = ? WHERE room = ? AND seq = ?"),
    oldest: db.prepare('SELECT min(seq) FROM messages WHERE room = ?').pluck(),
    rooms: db.prepare('SELECT room FROM rooms WHERE EXISTS (SELECT 1 FROM messages WHERE messages.room = rooms.room)').pluck(),
    trimRoom: db.prepare('DELETE FROM messages WHERE room = ? AND seq <= ?'),
    // Rooms by their newest message's id, the least recently written first; one index lookup each.
    byLastUse: db.prepare('SELECT room, (SELECT min(seq) FROM messages m WHERE m.room = r.room) AS oldest, seq AS newest FROM rooms r ORDER BY (SELECT max(id) FROM messages m WHERE m.room = r.room)'),
    firstKept: db.prepare('SELECT id FROM messages WHERE ts >= ? ORDER BY id LIMIT 1').pluck(),
    trimBefore: db.prepare('DELETE FROM messages WHERE id < ?'),
    trimAll: db.prepare('DELETE FROM messages'),
    session: db.prepare('SELECT room, name, last_seen AS lastSeen FROM sessions WHERE id = ?'),
    owner: db.prepare('SELECT id, name, last_seen AS lastSeen FROM sessions WHERE room = ? AND name_key = ?'),
    freeName: db.prepare('DELETE FROM sessions WHERE room = ? AND name_key = ? AND id <> ?'),
    saveSession: db.prepare(
      'INSERT INTO sessions (id, room, name, name_key, last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET room = excluded.room, name = excluded.name, name_key = excluded.name_key, last_seen = excluded.last_seen',
    ),
    expire: db.prepare('DELETE FROM sessions WHERE last_seen < ?'),
    // The least recently seen past --max-sessions.
    expireBeyond: db.prepare('DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY last_seen DESC LIMIT -1 OFFSET ?)'),
    orphanMail: db.prepare('DELETE FROM mail WHERE session NOT IN (SELECT id FROM sessions)'),
    keepMail: db.prepare('INSERT INTO mail (session, sender, recipient, body, ts) VALUES (?, ?, ?, ?, ?)'),
    countMail: db.prepare('SELECT count(*) FROM mail WHERE session = ?').pluck(),
    mail: db.prepare('SELECT sender, recipient, body, ts FROM mail WHERE session = ? ORDER BY id'),
    topic: db.prepare('SELECT topic, by, ts FROM topics WHERE room = ?'),
    rules: db.prepare('SELECT rule FROM rules WHERE until IS NULL OR until > ?').pluck(),
    expireRules: db.prepare('DELETE FROM rules WHERE until <= ?'),
    setRule: db.prepare('INSERT OR REPLACE INTO rules (id, rule, until) VALUES (?, ?, ?)'),
    liftRule: db.prepare('DELETE FROM rules WHERE id = ?'),
    setTopic: db.prepare('INSERT INTO topics (room, topic, by, ts) VALUES (?, ?, ?, ?) ON CONFLICT (room) DO UPDATE SET topic = excluded.topic, by = excluded.by, ts = excluded.ts'),
    dropMail: db.prepare('DELETE FROM mail WHERE id IN (SELECT id FROM mail WHERE session = ? ORDER BY id LIMIT ?)'),
  };

  const toMessage = (row: Row): ChatMessage => {
    const message: ChatMessage = { sender: row.sender, message: row.body, ts: row.ts, epoch, seq: row.seq, ...(row.action ? { action: true } : {}) };
    return row.deleted_by === null ? message : toTombstone(message, row.deleted_by);
  };
  const states = new Map<string, RoomState>();
  /** Rooms with messages since the last trim. */
  const touched = new Set<string>();
  const stateOf = (room: string): RoomState => {
    let state = states.get(room);
    if (!state) {
      const seq = (sql.roomSeq.get(room) as number | undefined) ?? 0;
      state = { seq, committed: seq, recent: [], pending: [], holder: { bytes: 0, shed: () => 0 } };
      const held = state;
      held.holder.shed = () => dropRecent(held, Math.ceil(held.recent.length / 4));
      states.set(room, state);
      keepRecent(room, state, (sql.range.all(room, seq - recentWindow + 1, seq) as Row[]).map(toMessage));
    }
    return state;
  };
  /** Adds newly committed messages to the room's window, within `recentWindow` and the history budget. */
  const keepRecent = (room: string, state: RoomState, messages: ChatMessage[]): void => {
    state.recent.push(...messages);
    let grown = messagesBytes(messages);
    state.holder.bytes += grown;
    const excess = state.recent.length - recentWindow;
    if (excess > 0) grown -= dropRecent(state, excess);
    historyBudget.add(room, state.holder, grown);
  };
  /** Drops the window's `count` oldest (the file keeps them) and returns the bytes freed. */
  const dropRecent = (state: RoomState, count: number): number => {
    const freed = messagesBytes(state.recent.splice(0, count));
    state.holder.bytes -= freed;
    return freed;
  };
  /** Committed messages `from`..`to`, from the window when it covers them. */
  const read = (room: string, state: RoomState, from: number, to: number): ChatMessage[] => {
    if (from > to) return [];
    const first = state.recent[0]?.seq ?? state.committed + 1;
    if (from >= first) return state.recent.slice(from - first, to - first + 1);
    return (sql.range.all(room, from, to) as Row[]).map(toMessage);
  };
  /** The oldest message readers may see: those past --history-size count as gone before the trim deletes them. */
  const oldestOf = (room: string, state: RoomState): number => Math.max((sql.oldest.get(room) as number | null) ?? state.committed + 1, state.committed - historySize + 1);

  let batch: Batch | undefined;
  /** Runs a write inside this turn's transaction, opening it (and scheduling its commit) if need be. */
  const write = <T>(room: string | undefined, run: () => T): T => {
    if (!batch) {
      db.exec('BEGIN');
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      // Nobody may be waiting (a session saved on the way out); a failure is reported to those who are.
      done.catch(() => {});
      batch = { done, resolve, reject, rooms: new Set(), callbacks: [] };
      atTurnEnd(commitBatch);
    }
    if (room !== undefined) batch.rooms.add(room);
    try {
      return run();
    } catch (err) {
      batch.failure ??= err as Error;
      throw err;
    }
  };
  const commitBatch = (): void => {
    const current = batch;
    if (!current) return;
    batch = undefined;
    try {
      if (current.failure) throw current.failure;
      if (!isFileInPlace()) throw new StoreError(`${file} was removed or replaced while the server ran; nothing more can be kept until the server is restarted`);
      for (const room of current.rooms) {
        const state = states.get(room);
        if (state && state.seq !== state.committed) sql.saveRoom.run(room, state.seq);
      }
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      // The batch never happened: its seqs are handed out again.
      for (const room of current.rooms) {
        const state = states.get(room);
        if (!state) continue;
        state.seq = state.committed;
        state.pending = [];
      }
      isHealthy = false;
      for (const done of current.callbacks) done(false);
      current.reject(err as Error);
      return;
    }
    isHealthy = true;
    for (const room of current.rooms) {
      const state = states.get(room);
      if (!state || state.pending.length === 0) continue;
      state.committed = state.seq;
      keepRecent(room, state, state.pending);
      state.pending = [];
      touched.add(room);
    }
    for (const done of current.callbacks) done(true);
    current.resolve();
  };

  /** Deletes messages past the retention, expired sessions and the mail they had. */
  const maintain = (): void => {
    write(undefined, () => {
      for (const room of touched) {
        const state = states.get(room);
        if (state && state.committed > historySize) sql.trimRoom.run(room, state.committed - historySize);
      }
      touched.clear();
      if (historyDays > 0) {
        const first = sql.firstKept.get(now() - historyDays * DAY_MS) as number | undefined;
        if (first === undefined) sql.trimAll.run();
        else sql.trimBefore.run(first);
      }
      if (sql.expire.run(now() - sessionTtlMs).changes + sql.expireBeyond.run(options.maxSessions).changes > 0) sql.orphanMail.run();
      sql.forgetSent.run(now() - dedupeWindowMs);
      if (maxStoreBytes > 0) keepWithinDisk();
    });
  };
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const usedBytes = () => ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * pageSize;
  /**
   * Keeps the file's data within --max-store-bytes: the least recently written room gives up the
   * older half of what it keeps, again and again, down to its newest message, before the next room
   * gives up anything. Deleted pages are reused by later writes, so the file stops growing.
   */
  const keepWithinDisk = (): void => {
    if (usedBytes() <= maxStoreBytes) return;
    for (const { room, oldest, newest } of sql.byLastUse.all() as Array<{ room: string; oldest: number | null; newest: number }>) {
      for (let first = oldest ?? newest; first < newest; first += Math.ceil((newest - first) / 2)) {
        sql.trimRoom.run(room, first + Math.ceil((newest - first) / 2) - 1);
        if (usedBytes() <= maxStoreBytes) return;
      }
    }
  };
  const maintenance = setInterval(() => {
    try {
      maintain();
    } catch {
      // A failed trim is tried again at the next tick; the chat goes on.
    }
  }, maintenanceMs).unref();
  maintain();

  const liveSession = (row: { lastSeen: number } | undefined) => row !== undefined && now() - row.lastSeen <= sessionTtlMs;

  return {
    epoch,
    append(room, message, origin) {
      const state = stateOf(room);
      const dedupe = origin?.id === undefined ? null : hash(`${origin.token} ${origin.id}`);
      if (dedupe) {
        // The first send's seq, even if its message has since left the history.
        const prior = sql.prior.get(dedupe, now() - dedupeWindowMs) as number | undefined;
        if (prior !== undefined) return { message: { ...message, epoch, seq: prior }, isNew: false };
      }
      const numbered: ChatMessage = { ...message, epoch, seq: state.seq + 1 };
      write(room, () => {
        sql.insert.run(room, numbered.seq, numbered.ts, numbered.sender, numbered.message, hash(origin?.token ?? ''), numbered.action ? 1 : 0);
        if (dedupe) sql.remember.run(dedupe, numbered.seq, numbered.ts);
      });
      state.seq = numbered.seq;
      state.pending.push(numbered);
      return { message: numbered, isNew: true };
    },
    commit: () => batch?.done ?? Promise.resolve(),
    afterCommit(done) {
      if (batch) batch.callbacks.push(done);
      else done(true);
    },
    replay(room, since, recent, limit) {
      const state = stateOf(room);
      const { replay, from, to } = planReplay(epoch, state.committed, oldestOf(room, state), since, recent, maxReplay, limit);
      return { ...replay, messages: read(room, state, from, to) };
    },
    page(room, before, limit) {
      const state = stateOf(room);
      const { from, to, more } = planPage(state.committed, oldestOf(room, state), before, limit);
      return { messages: read(room, state, from, to), more };
    },
    tombstone(room, seq, by) {
      const state = stateOf(room);
      if (seq < oldestOf(room, state) || seq > state.committed) return undefined;
      const [kept] = read(room, state, seq, seq);
      if (!kept || kept.deleted) return kept && { message: kept, isNew: false };
      const tombstone = toTombstone(kept, by);
      write(room, () => sql.tombstone.run(by, room, seq));
      // The window shows it once it is durable, as it shows a message.
      batch!.callbacks.push((isCommitted) => {
        const index = seq - (state.recent[0]?.seq ?? Infinity);
        if (!isCommitted || state.recent[index]?.seq !== seq) return;
        const freed = messageBytes(state.recent[index]!) - messageBytes(tombstone);
        state.recent[index] = tombstone;
        state.holder.bytes -= freed;
        historyBudget.add(room, state.holder, -freed);
      });
      return { message: tombstone, isNew: true };
    },
    rooms: () => sql.rooms.all() as string[],
    sessionName(token, room) {
      const row = sql.session.get(hash(token)) as { room: string; name: string; lastSeen: number } | undefined;
      return liveSession(row) && row!.room === room ? row!.name : undefined;
    },
    saveSession(token, room, name) {
      const id = hash(token);
      write(undefined, () => {
        const key = nameKey(name);
        sql.freeName.run(room, key, id);
        sql.saveSession.run(id, room, name, key, now());
      });
    },
    nameOwner(room, name) {
      const row = sql.owner.get(room, nameKey(name)) as { id: Buffer; name: string; lastSeen: number } | undefined;
      return liveSession(row) ? { owner: row!.id.toString('hex'), name: row!.name } : undefined;
    },
    keepDirect(owner, _room, { from, to, message, ts }: DirectMessage) {
      const id = Buffer.from(owner, 'hex');
      return write(undefined, () => {
        if ((sql.countMail.get(id) as number) >= options.maxKeptDirect) return false;
        sql.keepMail.run(id, from, to, message, ts);
        return true;
      });
    },
    directFor(token) {
      const rows = sql.mail.all(hash(token)) as Array<{ sender: string; recipient: string; body: string; ts: number }>;
      return rows.map((row) => ({ from: row.sender, to: row.recipient, message: row.body, ts: row.ts }));
    },
    dropDirect(token, _room, count) {
      if (count > 0) write(undefined, () => sql.dropMail.run(hash(token), count));
    },
    topic: (room) => sql.topic.get(room) as Topic | undefined,
    rules: () => (sql.rules.all(now()) as string[]).map((text) => JSON.parse(text) as Rule),
    changeRules(changes) {
      write(undefined, () => {
        // Those past their time go as the next change is kept.
        sql.expireRules.run(now());
        for (const change of changes) {
          if ('lift' in change) sql.liftRule.run(change.lift);
          else sql.setRule.run(ruleId(change.set), JSON.stringify(change.set), 'until' in change.set ? change.set.until : null);
        }
      });
    },
    secret: () => secret,
    setTopic(room, { topic, by, ts }) {
      write(room, () => sql.setTopic.run(room, topic, by, ts));
    },
    isHealthy: () => isHealthy,
    forgetRoom(room) {
      const state = states.get(room);
      if (!state || state.pending.length > 0) return;
      historyBudget.release(room, state.holder.bytes);
      states.delete(room);
    },
    async close() {
      clearInterval(maintenance);
      commitBatch();
      db.close();
    },
  };
}
