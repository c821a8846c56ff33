// The default engine: presence and fan-out inside this process. Listeners are called synchronously,
// so a room's events reach them in the order they happened.

import type { Engine, Presence, RoomListener } from './engine.ts';
import { generateName } from './names.ts';
import type { ChatMessage } from './protocol.ts';

export interface MemoryEngineOptions {
  listener: RoomListener;
  random?: () => number;
}

/** Creates an engine that keeps each room's names in memory; an emptied room is forgotten. */
export function createMemoryEngine({ listener, random = Math.random }: MemoryEngineOptions): Engine {
  const rooms = new Map<string, Set<string>>();
  return {
    async join(room: string): Promise<Presence> {
      let names = rooms.get(room);
      if (!names) rooms.set(room, (names = new Set()));
      const taken = names;
      const name = generateName((candidate) => taken.has(candidate), random);
      names.add(name);
      listener(room, { type: 'peer-joined', data: name });
      return { name, peers: [...names] };
    },
    async leave(room: string, name: string): Promise<void> {
      const names = rooms.get(room);
      if (!names?.delete(name)) return;
      if (names.size === 0) rooms.delete(room);
      listener(room, { type: 'peer-left', data: name });
    },
    async publish(room: string, message: ChatMessage): Promise<void> {
      listener(room, { type: 'message', data: message });
    },
    async close(): Promise<void> {
      rooms.clear();
    },
  };
}
