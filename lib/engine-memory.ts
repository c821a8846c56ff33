// The default engine: presence, numbering and history inside this process. Listeners are called
// synchronously, so a room's events reach them in the order they happened.

import { randomBytes } from 'node:crypto';
import type { Engine, Presence, RoomListener } from './engine.ts';
import { DedupeWindow } from './dedupe.ts';
import { RoomHistory } from './history.ts';
import type { ChatMessage } from './protocol.ts';
import { generateName } from './names.ts';

export interface MemoryEngineOptions {
  listener: RoomListener;
  /** Messages kept per room for history and resume. */
  historySize: number;
  /** How long an empty room (and its history) is kept before it is forgotten, in ms. */
  roomTtlMs: number;
  /** How long a message id is remembered against retries, in ms. */
  dedupeWindowMs: number;
  now?: () => number;
  random?: () => number;
}

interface Room {
  /** Name by its lower case: names are unique in a room ignoring case. */
  names: Map<string, string>;
  history: RoomHistory;
  /** Set while the room is empty: when it fires, the room and its history are forgotten. */
  expiry?: NodeJS.Timeout;
}

/**
 * Creates an engine that keeps each room in memory. Its epoch is random, so positions from an
 * earlier process (whose history is gone) are recognised as unknown.
 */
export function createMemoryEngine({ listener, historySize, roomTtlMs, dedupeWindowMs, now = Date.now, random = Math.random }: MemoryEngineOptions): Engine {
  const epoch = randomBytes(8).toString('hex');
  const sent = new DedupeWindow<ChatMessage>(dedupeWindowMs);
  const rooms = new Map<string, Room>();
  const roomOf = (name: string): Room => {
    let room = rooms.get(name);
    if (!room) rooms.set(name, (room = { names: new Map(), history: new RoomHistory(historySize) }));
    clearTimeout(room.expiry);
    room.expiry = undefined;
    return room;
  };
  return {
    async join(room: string): Promise<Presence> {
      const { names } = roomOf(room);
      const name = generateName((candidate) => names.has(candidate.toLowerCase()), random, names.size);
      names.set(name.toLowerCase(), name);
      listener(room, { type: 'peer-joined', data: name });
      return { name, peers: [...names.values()] };
    },
    async leave(room: string, name: string): Promise<void> {
      const state = rooms.get(room);
      if (state?.names.get(name.toLowerCase()) !== name) return;
      state.names.delete(name.toLowerCase());
      listener(room, { type: 'peer-left', data: name });
      if (state.names.size === 0) state.expiry = setTimeout(() => rooms.delete(room), roomTtlMs).unref();
    },
    async rooms() {
      return [...rooms].map(([room, { names }]) => ({ room, peers: names.size })).sort((a, b) => a.room.localeCompare(b.room));
    },
    async peers(room: string) {
      return [...roomOf(room).names.values()];
    },
    async signal(room, event) {
      listener(room, event);
    },
    async rename(room, from, to) {
      const { names } = roomOf(room);
      const key = to.toLowerCase();
      if (names.has(key) && key !== from.toLowerCase()) return false;
      names.delete(from.toLowerCase());
      names.set(key, to);
      listener(room, { type: 'peer-renamed', data: { from, to } });
      return true;
    },
    async publish(room, message, dedupeKey) {
      const prior = dedupeKey === undefined ? undefined : sent.get(dedupeKey, now());
      if (prior) return prior;
      const numbered = roomOf(room).history.append({ ...message, epoch });
      if (dedupeKey !== undefined) sent.set(dedupeKey, numbered, now());
      listener(room, { type: 'message', data: numbered });
      return numbered;
    },
    async replay(room, since, recent) {
      return roomOf(room).history.replay(epoch, since, recent);
    },
    // One process: a token this process's sessions do not know is known nowhere.
    registerSession: async () => {},
    adoptSession: async () => undefined,
    isHealthy: () => true,
    async close(): Promise<void> {
      for (const room of rooms.values()) clearTimeout(room.expiry);
      rooms.clear();
    },
  };
}
