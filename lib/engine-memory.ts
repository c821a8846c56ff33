// The single-process engine: presence inside this process, everything kept in a store (SQLite on
// disk by default, or memory). Listeners are called in each room's order: a message is delivered
// once its batch is committed, and events that happen meanwhile wait behind it, so that no peer
// ever sees a message that a crash could still take back, nor events out of order.

import type { DirectOutcome, Engine, Presence, RoomEvent, RoomListener, RulesListener } from './engine.ts';
import { generateName, nameKey } from './names.ts';
import type { Store } from './store.ts';

export interface MemoryEngineOptions {
  listener: RoomListener;
  /** Told every change to the moderation rules, and all of them as the engine starts. */
  onRules: RulesListener;
  store: Store;
  /** How long an empty room keeps its state in memory (with `--memory`, its history too), in ms. */
  roomTtlMs: number;
  /** Whether a connection of this process serves `name` in `room` now (a direct message then goes out live). */
  isConnected: (room: string, name: string) => boolean;
  random?: () => number;
}

interface Room {
  /** Name by its nameKey: names are unique in a room up to case and look-alikes. */
  names: Map<string, string>;
  /** Set while the room is empty: when it fires, the room is forgotten. */
  expiry?: NodeJS.Timeout;
}

/** Creates the engine of one process over `store`. */
export function createMemoryEngine({ listener, onRules, store, roomTtlMs, isConnected, random = Math.random }: MemoryEngineOptions): Engine {
  onRules([{ reset: store.rules() }]);
  const rooms = new Map<string, Room>();
  const roomOf = (name: string): Room => {
    let room = rooms.get(name);
    if (!room) rooms.set(name, (room = { names: new Map() }));
    clearTimeout(room.expiry);
    room.expiry = undefined;
    return room;
  };
  /**
   * Deliveries waiting for the batch being committed, in order, each marked when it exists only if
   * the batch does; undefined when none waits. A join's `onEnter` waits here too, so that it runs at
   * its place in the room's stream.
   */
  let waiting: Array<{ deliver: () => void; isKept: boolean }> | undefined;
  const later = (deliver: () => void, isKept = false): void => {
    if (waiting) waiting.push({ deliver, isKept });
    else if (isKept) {
      const queue = [{ deliver, isKept }];
      waiting = queue;
      store.afterCommit((isCommitted) => {
        waiting = undefined;
        for (const held of queue) if (isCommitted || !held.isKept) held.deliver();
      });
    } else deliver();
  };
  const emit = (room: string, event: RoomEvent): void => later(() => listener(room, event));
  /** Delivers `event`, which the current batch keeps, once the batch is durable; if the batch fails, never. */
  const emitKept = (room: string, event: RoomEvent): void => later(() => listener(room, event), true);
  const isTaken = (room: string, names: Map<string, string>) => (candidate: string) => names.has(nameKey(candidate)) || store.nameOwner(room, candidate) !== undefined;

  return {
    heldRooms: rooms,
    async join(room, { token, name: claimed, onEnter }) {
      const { names } = roomOf(room);
      const name = claimed ?? generateName(isTaken(room, names), random, names.size);
      const key = nameKey(name);
      if (!names.has(key)) {
        names.set(key, name);
        emit(room, { type: 'peer-joined', data: name });
      }
      const presence = { name, peers: [...names.values()] };
      const entered = new Promise<Presence>((resolve) =>
        later(() => {
          onEnter?.(presence);
          resolve(presence);
        }),
      );
      // The session owns its name from here, kept before the join resolves (and its token is handed out).
      store.saveSession(token, room, name);
      await store.commit();
      return entered;
    },
    async leave(room, name, token) {
      if (token !== undefined) store.saveSession(token, room, name);
      const state = rooms.get(room);
      const key = nameKey(name);
      if (state?.names.get(key) !== name) return;
      state.names.delete(key);
      emit(room, { type: 'peer-left', data: name });
      if (state.names.size === 0) {
        state.expiry = setTimeout(() => {
          rooms.delete(room);
          store.forgetRoom(room);
        }, roomTtlMs).unref();
      }
    },
    async rooms() {
      const counts = new Map(store.rooms().map((room) => [room, 0]));
      for (const [room, { names }] of rooms) counts.set(room, names.size);
      return [...counts].map(([room, peers]) => ({ room, peers })).sort((a, b) => a.room.localeCompare(b.room));
    },
    async peers(room) {
      return [...roomOf(room).names.values()];
    },
    // A direct message asks the hub whether the name has a connection (isConnected).
    away: async () => {},
    async signal(room, event) {
      emit(room, event);
    },
    async rename(room, from, to, token) {
      const { names } = roomOf(room);
      const key = nameKey(to);
      const fromKey = nameKey(from);
      const isOwnName = key === fromKey;
      // A name another session owns is taken even while that session is away.
      if (!isOwnName && (names.has(key) || store.nameOwner(room, to))) return false;
      // Kept first: a rename the store cannot keep changes nothing (the claim is seen by other
      // joins and renames from the moment it is written).
      store.saveSession(token, room, to);
      await store.commit();
      if (names.get(fromKey) === from) names.delete(fromKey);
      names.set(key, to);
      emit(room, { type: 'peer-renamed', data: { from, to } });
      return true;
    },
    async direct(room, message): Promise<DirectOutcome> {
      const online = rooms.get(room)?.names.get(nameKey(message.to));
      const owner = store.nameOwner(room, message.to);
      const to = online ?? owner?.name;
      if (to === undefined) return 'unknown';
      const addressed = { ...message, to };
      if (isConnected(room, to) || !owner) {
        emit(room, { type: 'direct-message', data: addressed });
        return 'live';
      }
      if (!store.keepDirect(owner.owner, room, addressed)) return 'full';
      emitKept(room, { type: 'direct-message', data: { ...addressed, stored: true } });
      await store.commit();
      return 'stored';
    },
    async missed(token, room) {
      return store.directFor(token, room);
    },
    async dropMissed(token, room, count) {
      store.dropDirect(token, room, count);
      await store.commit();
    },
    async publish(room, message, origin) {
      const { message: numbered, isNew } = store.append(room, message, origin);
      if (isNew) emitKept(room, { type: 'message', data: numbered });
      await store.commit();
      return numbered;
    },
    async setTopic(room, topic) {
      store.setTopic(room, topic);
      emitKept(room, { type: 'topic', data: topic });
      await store.commit();
    },
    async topic(room) {
      const topic = store.topic(room);
      return topic && { ...topic };
    },
    async replay(room, since, recent, limit) {
      return store.replay(room, since, recent, limit);
    },
    async history(room, before, limit) {
      return store.page(room, before, limit);
    },
    async deleteMessage(room, seq, by) {
      const outcome = store.tombstone(room, seq, by);
      if (!outcome) return undefined;
      if (outcome.isNew) emitKept(room, { type: 'message-deleted', data: { seq, sender: outcome.message.sender, by } });
      await store.commit();
      return outcome.message;
    },
    async changeRules(changes) {
      store.changeRules(changes);
      await store.commit();
      onRules(changes);
    },
    async secret() {
      return store.secret();
    },
    async kick(room, kick) {
      const name = rooms.get(room)?.names.get(nameKey(kick.name));
      if (name !== undefined) emit(room, { type: 'peer-kicked', data: { ...kick, name } });
      return name;
    },
    async isNameTaken(room, name) {
      return isTaken(room, rooms.get(room)?.names ?? new Map())(name);
    },
    async registerSession(token, room, name) {
      store.saveSession(token, room, name);
      await store.commit();
    },
    async findSession(token, room) {
      return store.sessionName(token, room);
    },
    isHealthy: () => store.isHealthy(),
    async close(): Promise<void> {
      for (const room of rooms.values()) clearTimeout(room.expiry);
      rooms.clear();
      await store.close();
    },
  };
}
