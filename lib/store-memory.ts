// The store in this process only (`--memory`): everything the SQLite store keeps, forgotten when the
// process ends. Its epoch is random, so positions from an earlier process are recognised as unknown.

import { randomBytes } from 'node:crypto';
import { DedupeWindow } from './dedupe.ts';
import { planPage, RoomHistory } from './history.ts';
import { nameKey } from './names.ts';
import type { Topic } from './protocol.ts';
import { isInForce, type Rule, ruleId } from './rules.ts';
import type { DirectMessage, Store, StoreOptions } from './store.ts';

interface KeptSession {
  room: string;
  name: string;
  lastSeen: number;
}

/** How often expired sessions are dropped, in ms. */
const SWEEP_MS = 60_000;

export function createMemoryStore(options: StoreOptions): Store {
  const { historySize, maxReplay, sessionTtlMs, dedupeWindowMs, now, historyBudget } = options;
  const epoch = randomBytes(8).toString('hex');
  const histories = new Map<string, RoomHistory>();
  // Only the seq is remembered, as on disk: a message the history budget let go is not held here.
  const sent = new DedupeWindow<number>(dedupeWindowMs);
  const sessions = new Map<string, KeptSession>();
  /** Token by `<room> <nameKey of the name>`. */
  const owners = new Map<string, string>();
  const mail = new Map<string, DirectMessage[]>();
  const topics = new Map<string, Topic>();
  const rules = new Map<string, Rule>();
  const secret = randomBytes(32).toString('base64url');
  const ownerKey = (room: string, name: string) => `${room} ${nameKey(name)}`;
  const historyOf = (room: string): RoomHistory => {
    let history = histories.get(room);
    if (!history) histories.set(room, (history = new RoomHistory(historySize, { budget: historyBudget, room })));
    return history;
  };
  const live = (token: string): KeptSession | undefined => {
    const session = sessions.get(token);
    if (session && now() - session.lastSeen > sessionTtlMs) {
      drop(token, session);
      return undefined;
    }
    return session;
  };
  const drop = (token: string, session: KeptSession) => {
    sessions.delete(token);
    mail.delete(token);
    if (owners.get(ownerKey(session.room, session.name)) === token) owners.delete(ownerKey(session.room, session.name));
  };
  const sweeper = setInterval(() => {
    for (const token of sessions.keys()) live(token);
  }, SWEEP_MS).unref();

  return {
    epoch,
    append(room, message, origin) {
      const key = origin?.id === undefined ? undefined : `${origin.token} ${origin.id}`;
      const prior = key === undefined ? undefined : sent.get(key, now());
      if (prior !== undefined) return { message: { ...message, epoch, seq: prior }, isNew: false };
      const numbered = historyOf(room).append({ ...message, epoch });
      if (key !== undefined) sent.set(key, numbered.seq, now());
      return { message: numbered, isNew: true };
    },
    commit: async () => {},
    afterCommit: (done) => done(true),
    replay: (room, since, recent, limit) => historyOf(room).replay(epoch, since, recent, maxReplay, limit),
    page(room, before, limit) {
      const history = historyOf(room);
      const { from, to, more } = planPage(history.seq, history.oldest, before, limit);
      return { messages: history.read(from, to), more };
    },
    tombstone: (room, seq, by) => histories.get(room)?.tombstone(seq, by),
    rooms: () => [...histories].filter(([, history]) => history.seq > 0).map(([room]) => room),
    sessionName(token, room) {
      const session = live(token);
      return session?.room === room ? session.name : undefined;
    },
    saveSession(token, room, name) {
      const session = sessions.get(token);
      if (session) owners.delete(ownerKey(session.room, session.name));
      // Moved to the end, so the map stays in the order sessions were last seen.
      sessions.delete(token);
      sessions.set(token, { room, name, lastSeen: now() });
      owners.set(ownerKey(room, name), token);
      for (const [oldest, kept] of sessions) {
        if (sessions.size <= options.maxSessions) break;
        drop(oldest, kept);
      }
    },
    nameOwner(room, name) {
      const token = owners.get(ownerKey(room, name));
      const session = token === undefined ? undefined : live(token);
      return token !== undefined && session ? { owner: token, name: session.name } : undefined;
    },
    keepDirect(owner, _room, message) {
      let box = mail.get(owner);
      if (!box) mail.set(owner, (box = []));
      if (box.length >= options.maxKeptDirect) return false;
      box.push(message);
      return true;
    },
    directFor: (token) => [...(mail.get(token) ?? [])],
    dropDirect(token, _room, count) {
      const box = mail.get(token);
      box?.splice(0, count);
      if (box?.length === 0) mail.delete(token);
    },
    topic: (room) => topics.get(room),
    setTopic(room, topic) {
      topics.set(room, topic);
    },
    rules: () => [...rules.values()].filter((rule) => isInForce(rule, now())),
    changeRules(changes) {
      for (const change of changes) {
        if ('set' in change) rules.set(ruleId(change.set), change.set);
        else rules.delete(change.lift);
      }
    },
    secret: () => secret,
    isHealthy: () => true,
    forgetRoom(room) {
      topics.delete(room);
      const history = histories.get(room);
      if (history) historyBudget.release(room, history.bytes);
      histories.delete(room);
    },
    async close() {
      clearInterval(sweeper);
    },
  };
}
