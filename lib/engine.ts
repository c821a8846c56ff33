// The seam between one process's sockets and the shared chat state (presence, numbered history). The in-memory engine is the
// default; an engine over Redis implements the same interface so that several processes act as one.

import type { Position, Replay } from './history.ts';
import type { ChatMessage, MessageDeleted, Moderated, PeerKicked, Topic } from './protocol.ts';
import type { Rule, RuleChange } from './rules.ts';
import type { DirectMessage, HistoryPage, Origin } from './store.ts';

/** What happened in a room, as every node hears it. Presence is a snapshot on join, then these diffs. */
export type RoomEvent =
  | { type: 'peer-joined'; data: string }
  | { type: 'peer-left'; data: string }
  | { type: 'peer-renamed'; data: { from: string; to: string } }
  | { type: 'typing'; data: { name: string; typing: boolean } }
  // Said just before its `peer-left`, by a peer that quit with a reason.
  | { type: 'peer-quit'; data: { name: string; reason: string } }
  | { type: 'topic'; data: Topic }
  | { type: 'direct-message'; data: DirectMessage & { stored?: true } }
  | { type: 'message'; data: ChatMessage }
  // The history this room's positions refer to is gone (Redis came back empty): numbering restarts in `epoch`.
  | { type: 'history-reset'; data: { epoch: string } }
  // A kept message became a tombstone (Engine.deleteMessage).
  | { type: 'message-deleted'; data: MessageDeleted }
  // Every connection of the name is to close (Engine.kick); its `peer-left` follows as they do.
  | { type: 'peer-kicked'; data: PeerKicked }
  // A moderator's act, told as a line; a ban or mute is recorded by each process serving its target (see moderation.ts).
  | { type: 'moderation'; data: Moderated };

/** Receives every change to the moderation rules, on every process, in the order they were kept. */
export type RulesListener = (changes: RuleChange[]) => void;

/** A change a moderator makes: a rule set, or lifted by its id (see rules.ts). */
export type RuleEdit = Exclude<RuleChange, { reset: Rule[] }>;

/** Receives every event of every room, in each room's order. */
export type RoomListener = (room: string, event: RoomEvent) => void;

/**
 * How a direct message went: to a connected recipient, kept for one not connected now, to nobody
 * of that name, or to nobody because the recipient away has as many kept as it may (--max-kept-direct).
 */
export type DirectOutcome = 'live' | 'stored' | 'unknown' | 'full';

/** A peer's place in a room: its unique name and everyone online when it joined, itself included. */
export interface Presence {
  name: string;
  peers: string[];
}

/** How a session enters a room's presence (see Engine.join). */
export interface JoinRequest {
  /** The session's token: the name is owned by it from the join on. */
  token: string;
  /** The name the session owns already; without it a fresh name is picked. */
  name?: string;
  /**
   * Called once, synchronously at the point of the room's event stream where the join takes
   * effect, with the presence there (the joiner included). Every event the listener gets after this
   * call happened after that point, and none before it does: a caller that starts listening here
   * (the hub) misses nothing and hears nothing twice.
   */
  onEnter?: (presence: Presence) => void;
}

export interface Engine {
  /**
   * Enters `room`'s presence for a session, announces `peer-joined` unless the name is online
   * already (another connection of the session, on any process), and resolves with the presence
   * snapshot once `onEnter` has run. Without `name`, a fresh name is picked that nobody is online
   * under and no session owns. With it, the session comes back under its name; resolves undefined
   * when the name now belongs to another session (only after Redis lost its data).
   */
  join(room: string, request: JoinRequest): Promise<Presence | undefined>;
  /**
   * Releases `name` from presence and announces `peer-left`. Leaving twice is harmless. With the
   * session's `token`, an engine that keeps sessions renews its ownership of the name from now.
   */
  leave(room: string, name: string, token?: string): Promise<void>;
  /** Every room that has peers or unexpired history, with how many peers it has. */
  rooms(): Promise<Array<{ room: string; peers: number }>>;
  /**
   * Renames `from` to `to` for the session `token`, keeps the session's claim on `to` (as
   * registerSession does), and announces `peer-renamed`; or returns false when `to` is taken
   * (compared by nameKey, so a look-alike or another case of a name is that name): someone is
   * online under it, or another session owns it.
   */
  rename(room: string, from: string, to: string, token: string): Promise<boolean>;
  /**
   * The last connection of this process's session holding `name` closed: the name stays online
   * for the grace period, but a direct message to it must be kept, unless another process has a
   * connection of it. The next join of the session ends this.
   */
  away(room: string, name: string): Promise<void>;
  /** Delivers an event that is not kept (typing, a quit's reason, a moderator's act) to every listener of `room`. */
  signal(room: string, event: RoomEvent & { type: 'typing' | 'peer-quit' | 'moderation' }): Promise<void>;
  /** Keeps the room's topic (kept with its history) and then delivers `topic` to every listener of `room`. */
  setTopic(room: string, topic: Topic): Promise<void>;
  /** The room's topic, if one was set. */
  topic(room: string): Promise<Topic | undefined>;
  /**
   * Sends a direct message to the peer of `room` called `message.to` (by nameKey, as rename
   * compares): to its connections, or, when none is connected now but a session owns the name,
   * kept for its next connection. Either way the sender's connections get it too (marked `stored`
   * when kept).
   */
  direct(room: string, message: DirectMessage): Promise<DirectOutcome>;
  /** The direct messages kept for this session while it was away, oldest first. */
  missed(token: string, room: string): Promise<DirectMessage[]>;
  /** The `count` oldest of them were handed out: each is handed out once. */
  dropMissed(token: string, room: string, count: number): Promise<void>;
  /** Everyone in `room` now. */
  peers(room: string): Promise<string[]>;
  /**
   * Numbers a chat message (the room's next `seq`), keeps it in history, and delivers it to every
   * listener; resolves once it is kept (durably, with a store on disk) and this process's listener
   * has had it, so that the sender's own copy always goes out before its ack. With `origin.id`, an id the
   * session already published within the dedupe window returns that message again and publishes nothing.
   */
  publish(room: string, message: Omit<ChatMessage, 'seq' | 'epoch'>, origin: Origin): Promise<ChatMessage>;
  /**
   * What a connecting client is owed: the messages after `since`, or the `recent` newest with the
   * reason a resume failed. No message published after this call resolves is in it, and every one
   * published before is, so a client that starts listening at the same moment sees no gap and no
   * duplicate. With `limit`, only the first `limit` of its messages are read: the rest (up to the
   * replay's `seq`) are read with `history`, page by page, as the client takes them.
   */
  replay(room: string, since: Position | 'malformed' | undefined, recent: number, limit?: number): Promise<Replay>;
  /** Up to `limit` messages before seq `before`, oldest first, and whether older ones are kept. */
  history(room: string, before: number, limit: number): Promise<HistoryPage>;
  /**
   * Replaces the kept message `seq` of `room` by its tombstone (sender, ts, seq and epoch kept,
   * the text dropped, marked `deleted` by `by`) wherever history is read from, and tells every
   * listener `message-deleted`. Resolves with the tombstone, or undefined when no message of that
   * seq is kept. A message deleted already stays as it is, and nobody is told again.
   */
  deleteMessage(room: string, seq: number, by: string): Promise<ChatMessage | undefined>;
  /**
   * Tells every listener of `room` (on every process) `peer-kicked`, so that each closes its
   * connections of the name; resolves with the name as it is online (found by nameKey), or
   * undefined, telling nobody, when nobody of that name is online in the room.
   */
  kick(room: string, kick: PeerKicked): Promise<string | undefined>;
  /**
   * Keeps changes to the moderation rules, and then tells every process's rules listener (this
   * one's included, before this resolves). The listener is also given every rule afresh (`reset`)
   * when the engine starts and whenever it may have missed changes (Redis came back).
   */
  changeRules(changes: RuleEdit[]): Promise<void>;
  /** A secret every process of this chat shares, made once and kept with the rest (invitations are signed with it). */
  secret(): Promise<string>;
  /** Whether `name` (by nameKey) is someone's in `room`: online, or owned by a session. */
  isNameTaken(room: string, name: string): Promise<boolean>;
  /**
   * Records that a session token holds `name` in `room`, from now: it is resolved once kept. Renewed
   * on each connect, and by `leave` (a store keeps it for the session TTL after that).
   */
  registerSession(token: string, room: string, name: string): Promise<void>;
  /**
   * The name a session this process is not serving now owns in `room`: kept while it was away, or
   * held by another process (over Redis), where it may be online still. The caller joins under it.
   */
  findSession(token: string, room: string): Promise<string | undefined>;
  /**
   * The rooms this process holds state for now (peers, or history in memory), for --max-rooms: a
   * room not among them is new here.
   */
  readonly heldRooms: { readonly size: number; has(room: string): boolean };
  /** False while the engine cannot reach what it keeps its state in (Redis down): sends then fail. */
  isHealthy(): boolean;
  close(): Promise<void>;
}
