// The seam between one process's sockets and the shared chat state (presence, numbered history). The in-memory engine is the
// default; an engine over Redis implements the same interface so that several processes act as one.

import type { Position, Replay } from './history.ts';
import type { ChatMessage } from './protocol.ts';

/** What happened in a room, as every node hears it. Presence is a snapshot on join, then these diffs. */
export type RoomEvent =
  | { type: 'peer-joined'; data: string }
  | { type: 'peer-left'; data: string }
  | { type: 'peer-renamed'; data: { from: string; to: string } }
  | { type: 'typing'; data: { name: string; typing: boolean } }
  | { type: 'direct-message'; data: { from: string; to: string; message: string; ts: number } }
  | { type: 'message'; data: ChatMessage };

/** Receives every event of every room, in each room's order. */
export type RoomListener = (room: string, event: RoomEvent) => void;

/** A peer's place in a room: its unique name and everyone online when it joined, itself included. */
export interface Presence {
  name: string;
  peers: string[];
}

export interface Engine {
  /** Claims a name unique in `room`, announces `peer-joined`, and returns the presence snapshot. */
  join(room: string): Promise<Presence>;
  /** Releases `name` and announces `peer-left`. Leaving twice is harmless. */
  leave(room: string, name: string): Promise<void>;
  /** Every room that has peers or unexpired history, with how many peers it has. */
  rooms(): Promise<Array<{ room: string; peers: number }>>;
  /** Renames `from` to `to` and announces `peer-renamed`, or returns false when `to` is taken (ignoring case). */
  rename(room: string, from: string, to: string): Promise<boolean>;
  /** Delivers an event that is not kept (typing, a direct message) to every listener of `room`. */
  signal(room: string, event: RoomEvent & { type: 'typing' | 'direct-message' }): Promise<void>;
  /** Everyone in `room` now. */
  peers(room: string): Promise<string[]>;
  /**
   * Numbers a chat message (the room's next `seq`), keeps it in history, and delivers it to every
   * listener. With `dedupeKey` (a session's token and the message's id), a key already published
   * within the dedupe window returns that message again and publishes nothing.
   */
  publish(room: string, message: Omit<ChatMessage, 'seq' | 'epoch'>, dedupeKey?: string): Promise<ChatMessage>;
  /**
   * What a connecting client is owed: the messages after `since`, or the `recent` newest with the
   * reason a resume failed. No message published after this call resolves is in it, and every one
   * published before is, so a client that starts listening at the same moment sees no gap and no
   * duplicate.
   */
  replay(room: string, since: Position | 'malformed' | undefined, recent: number): Promise<Replay>;
  /** Records which name a session token holds, so that another process can take the session over. */
  registerSession(token: string, room: string, name: string): Promise<void>;
  /**
   * Takes over a session another process issued, if its name is still held in `room`; returns the
   * name. The issuing process's own grace-period leave then does nothing.
   */
  adoptSession(token: string, room: string): Promise<string | undefined>;
  /** False while the engine cannot reach what it keeps its state in (Redis down): sends then fail. */
  isHealthy(): boolean;
  close(): Promise<void>;
}
