// The default engine: presence, numbering and history inside this process. Listeners are called
// synchronously, so a room's events reach them in the order they happened.

import { randomBytes } from 'node:crypto';
import type { Engine, Presence, RoomListener } from './engine.ts';
import { RoomHistory } from './history.ts';
import { generateName } from './names.ts';

export interface MemoryEngineOptions {
  listener: RoomListener;
  /** Messages kept per room for history and resume. */
  historySize: number;
  random?: () => number;
}

interface Room {
  names: Set<string>;
  history: RoomHistory;
}

/**
 * Creates an engine that keeps each room in memory. Its epoch is random, so positions from an
 * earlier process (whose history is gone) are recognised as unknown.
 */
export function createMemoryEngine({ listener, historySize, random = Math.random }: MemoryEngineOptions): Engine {
  const epoch = randomBytes(8).toString('hex');
  const rooms = new Map<string, Room>();
  const roomOf = (name: string): Room => {
    let room = rooms.get(name);
    if (!room) rooms.set(name, (room = { names: new Set(), history: new RoomHistory(historySize) }));
    return room;
  };
  return {
    async join(room: string): Promise<Presence> {
      const { names } = roomOf(room);
      const name = generateName((candidate) => names.has(candidate), random);
      names.add(name);
      listener(room, { type: 'peer-joined', data: name });
      return { name, peers: [...names] };
    },
    async leave(room: string, name: string): Promise<void> {
      if (!rooms.get(room)?.names.delete(name)) return;
      listener(room, { type: 'peer-left', data: name });
    },
    async peers(room: string) {
      return [...roomOf(room).names];
    },
    async publish(room, message) {
      const numbered = roomOf(room).history.append({ ...message, epoch });
      listener(room, { type: 'message', data: numbered });
      return numbered;
    },
    async replay(room, since, recent) {
      return roomOf(room).history.replay(epoch, since, recent);
    },
    async close(): Promise<void> {
      rooms.clear();
    },
  };
}
