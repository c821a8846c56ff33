// Upgrades of a plainchat.db written by an older plainchat, run once as the store opens, each in
// one transaction that also records the new schema version, so that a crash leaves the old file.

import type BetterSqlite3 from 'better-sqlite3';
import { nameKey } from './names.ts';

/**
 * Schema 1 to 2: `sessions.name_key` was the name in lower case; it is nameKey now. Names kept
 * before look-alikes were refused can share a key in a room: the most recently seen session keeps
 * its name, and the others are dropped with their mail, so that their owners get a fresh name
 * when they come back.
 */
export function upgradeFrom1(db: BetterSqlite3.Database): void {
  const rows = db.prepare('SELECT id, room, name FROM sessions ORDER BY last_seen DESC, id').all() as Array<{ id: Buffer; room: string; name: string }>;
  const rekey = db.prepare('UPDATE sessions SET name_key = ? WHERE id = ?');
  const drop = db.prepare('DELETE FROM sessions WHERE id = ?');
  const dropMail = db.prepare('DELETE FROM mail WHERE session = ?');
  db.transaction(() => {
    // Off while the keys change: a row's new key may still be another row's old one.
    db.exec('DROP INDEX sessions_by_name');
    const claimed = new Set<string>();
    for (const { id, room, name } of rows) {
      const key = nameKey(name);
      // Room names have no newline.
      const claim = `${room}\n${key}`;
      if (claimed.has(claim)) {
        drop.run(id);
        dropMail.run(id);
        continue;
      }
      claimed.add(claim);
      rekey.run(key, id);
    }
    db.exec('CREATE UNIQUE INDEX sessions_by_name ON sessions (room, name_key)');
    db.prepare("UPDATE meta SET value = '2' WHERE key = 'schema'").run();
  })();
}

/** Schema 2 to 3: messages gain `action` (every message kept before is a plain one); `topics` is made by the schema itself. */
export function upgradeFrom2(db: BetterSqlite3.Database): void {
  db.transaction(() => {
    db.exec('ALTER TABLE messages ADD COLUMN action INTEGER NOT NULL DEFAULT 0');
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'schema'").run();
  })();
}

/** Schema 3 to 4: messages gain `deleted_by` (a tombstone's deleter; none was deleted before). */
export function upgradeFrom3(db: BetterSqlite3.Database): void {
  db.transaction(() => {
    db.exec('ALTER TABLE messages ADD COLUMN deleted_by TEXT');
    db.prepare("UPDATE meta SET value = '4' WHERE key = 'schema'").run();
  })();
}
