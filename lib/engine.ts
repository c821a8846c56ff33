// The seam between one process's sockets and the shared chat state. The in-memory engine is the
// default; an engine over Redis implements the same interface so that several processes act as one.

import type { ChatMessage } from './protocol.ts';

/** What happened in a room, as every node hears it. Presence is a snapshot on join, then these diffs. */
export type RoomEvent =
  | { type: 'peer-joined'; data: string }
  | { type: 'peer-left'; data: string }
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
  /** Delivers a chat message to every listener of `room`. */
  publish(room: string, message: ChatMessage): Promise<void>;
  close(): Promise<void>;
}
