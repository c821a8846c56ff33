// What the chat keeps, behind one interface: each room's numbered messages, the sessions that own
// names, remembered message ids and direct messages waiting for their recipient. Kept in SQLite
// under the data directory by default (store-sqlite.ts), or in this process only (store-memory.ts,
// `--memory`). Presence (who is connected now) is not kept: it is the engine's.
//
// Every write goes into the current batch; `commit()` resolves once the batch is durable. Reads see
// only what is committed, so nothing a reader is given can still be rolled back.

import type { HistoryBudget, Position, Replay } from './history.ts';
import type { ChatMessage, Topic } from './protocol.ts';
import type { Rule, RuleChange } from './rules.ts';

/** A direct message as its two ends see it. `stored` (to the sender) and `missed` (to the recipient) mark one kept for an offline recipient. */
export interface DirectMessage {
  from: string;
  to: string;
  message: string;
  ts: number;
}

/** Who sent a message: the session's token and, for an acknowledged send, the client's id for it. */
export interface Origin {
  token: string;
  id?: string;
}

/** A page of older messages, oldest first; `more` when older ones are still kept. */
export interface HistoryPage {
  messages: ChatMessage[];
  more: boolean;
}

export interface StoreOptions {
  /** Messages kept per room; older ones are deleted. */
  historySize: number;
  /** Days a message is kept (0: no age limit). */
  historyDays: number;
  /** Most messages a resume replays; a client further behind is told `too-old`. */
  maxReplay: number;
  /** Newest messages of an active room kept in memory, for joins and resumes without a read. */
  recentWindow: number;
  /** How long a session owns its name after it was last connected, in ms. */
  sessionTtlMs: number;
  /** Most direct messages kept for one session while it is away. */
  maxKeptDirect: number;
  /** Most sessions kept in all; past it the least recently seen are forgotten (their names freed). */
  maxSessions: number;
  /** How long a message id is remembered against retries, in ms. */
  dedupeWindowMs: number;
  now: () => number;
  /** The memory all rooms' messages kept in memory share (see HistoryBudget). */
  historyBudget: HistoryBudget;
}

export interface Store {
  /** Names this store's history: the same for as long as the history lasts. */
  readonly epoch: string;
  /**
   * Numbers the room's next message and writes it in the current batch. With an origin id that the
   * session already used within the dedupe window, writes nothing and returns that message.
   */
  append(room: string, message: Omit<ChatMessage, 'seq' | 'epoch'>, origin?: Origin): { message: ChatMessage; isNew: boolean };
  /**
   * Resolves once every write made so far is durable; rejects when the batch could not be written,
   * and then none of it happened (its messages are unnumbered again).
   */
  commit(): Promise<void>;
  /**
   * Calls `done` once every write made so far is durable (`true`) or was rolled back (`false`):
   * at once when nothing is pending, else synchronously inside the commit, so that what it sends
   * leaves in the same turn as the commit.
   */
  afterCommit(done: (isCommitted: boolean) => void): void;
  /** What a connecting client is owed (see Engine.replay), from committed messages only. */
  replay(room: string, since: Position | 'malformed' | undefined, recent: number, limit?: number): Replay;
  /** Up to `limit` committed messages before `before`, oldest first. */
  page(room: string, before: number, limit: number): HistoryPage;
  /**
   * Replaces the committed message `seq` by its tombstone in the current batch (see
   * Engine.deleteMessage): `isNew` unless it was a tombstone already; undefined when not kept.
   */
  tombstone(room: string, seq: number, by: string): { message: ChatMessage; isNew: boolean } | undefined;
  /** Rooms with kept messages. */
  rooms(): string[];
  /** The name a live session holds in `room`, or undefined when the token is unknown there or expired. */
  sessionName(token: string, room: string): string | undefined;
  /** Keeps (or renews, from now) the session's ownership of `name` in `room`. */
  saveSession(token: string, room: string, name: string): void;
  /** Whoever owns `name` in `room` (compared by nameKey), as an opaque key for `keepDirect`, or undefined. */
  nameOwner(room: string, name: string): { owner: string; name: string } | undefined;
  /** Keeps a direct message for a session that is not connected. */
  /** Returns false, keeping nothing, when the session has `maxKeptDirect` waiting already. */
  keepDirect(owner: string, room: string, message: DirectMessage): boolean;
  /** The direct messages kept for the session, oldest first. */
  directFor(token: string, room: string): DirectMessage[];
  /** Forgets the session's `count` oldest kept direct messages: they have been handed out. */
  dropDirect(token: string, room: string, count: number): void;
  /** The room's topic, as last set (committed). */
  topic(room: string): Topic | undefined;
  /** Keeps the room's topic, in the current batch. */
  setTopic(room: string, topic: Topic): void;
  /** The moderation rules kept (see rules.ts), those no longer in force left out. */
  rules(): Rule[];
  /** Keeps changes to the rules (a rule set, or lifted by its id), in the current batch. */
  changeRules(changes: ReadonlyArray<Exclude<RuleChange, { reset: Rule[] }>>): void;
  /** A random secret made the first time it is asked for and kept as long as the store (invitations are signed with it). */
  secret(): string;
  /** False while writes fail (the last commit did): sends then get `unavailable`, and /healthz says so. */
  isHealthy(): boolean;
  /** The room has had no peers for a while: its in-memory state may go (history too, in memory). */
  forgetRoom(room: string): void;
  /** Writes what is pending and releases the store. */
  close(): Promise<void>;
}
