// This process's peers: the registry by socket, rooms for fan-out, and presence diffs batched per
// turn of the event loop.

import type { RoomEvent } from './engine.ts';
import type { Counters } from './metrics.ts';
import { frameText } from './outbox.ts';
import { encodeEvent } from './protocol.ts';

/** One connection that has joined a room. */
export interface Peer {
  /** The connection's socket: the registry's key. */
  readonly socket: object;
  readonly room: string;
  /** Changes when the peer renames itself. */
  name: string;
  /** Milliseconds since the epoch when the peer joined. */
  readonly joinedAt: number;
  /** Queues one framed WebSocket message to the peer; every outgoing frame passes here (see connection.ts). */
  deliver(frame: Buffer): void;
}

type PresenceChange = 'peer-joined' | 'peer-left';

/** The registry of local peers: by socket, and by room for fan-out. */
export class Hub {
  readonly #bySocket = new Map<object, Peer>();
  readonly #rooms = new Map<string, Set<Peer>>();
  /** Per room, the joins or leaves heard in this turn and not yet sent: one frame carries them all. */
  readonly #presence = new Map<string, { type: PresenceChange; names: string[] }>();
  readonly #counters: Counters;

  constructor(counters: Counters) {
    this.#counters = counters;
  }

  add(peer: Peer): void {
    this.#bySocket.set(peer.socket, peer);
    let room = this.#rooms.get(peer.room);
    if (!room) this.#rooms.set(peer.room, (room = new Set()));
    room.add(peer);
  }

  remove(peer: Peer): void {
    this.#bySocket.delete(peer.socket);
    const room = this.#rooms.get(peer.room);
    if (room?.delete(peer) && room.size === 0) this.#rooms.delete(peer.room);
  }

  /** The local peers of `room` called `name`, ignoring case (one per connection of that session). */
  named(roomName: string, name: string): Peer[] {
    const key = name.toLowerCase();
    return [...(this.#rooms.get(roomName) ?? [])].filter((peer) => peer.name.toLowerCase() === key);
  }

  get size(): number {
    return this.#bySocket.size;
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  /**
   * Fans a room event out to the room's local peers, serialized and framed once for all of them.
   * Joins and leaves wait for the end of the turn and go out together, as one `peer-joined` or
   * `peer-left` listing every name: a join storm of N peers then costs about N frames per turn
   * instead of N². Any other event first sends the room's waiting presence, so order is kept.
   */
  dispatch(roomName: string, event: RoomEvent): void {
    if (event.type === 'peer-joined' || event.type === 'peer-left') {
      const waiting = this.#presence.get(roomName);
      if (waiting?.type === event.type) {
        waiting.names.push(event.data);
        return;
      }
      if (waiting) this.#sendPresence(roomName);
      else if (this.#presence.size === 0) setImmediate(this.#sendAllPresence);
      this.#presence.set(roomName, { type: event.type, names: [event.data] });
      return;
    }
    this.#sendPresence(roomName);
    const room = this.#rooms.get(roomName);
    if (!room) return;
    const frame = frameText(encodeEvent(event));
    // A peer is not told that it is typing.
    const subject = event.type === 'typing' ? event.data.name : undefined;
    for (const peer of room) {
      if (peer.name !== subject) peer.deliver(frame);
    }
    if (event.type === 'message') this.#counters.deliveries += room.size;
  }

  #sendPresence(roomName: string): void {
    const waiting = this.#presence.get(roomName);
    if (!waiting) return;
    this.#presence.delete(roomName);
    const room = this.#rooms.get(roomName);
    if (!room) return;
    const { type, names } = waiting;
    const frame = frameText(encodeEvent({ type, data: names }));
    // A peer that joined in this batch has the names before its own in its snapshot: it is sent
    // only those after it, and never its own arrival.
    const joiners = type === 'peer-joined' ? new Map(names.map((name, index) => [name, index])) : undefined;
    for (const peer of room) {
      const index = joiners?.get(peer.name);
      if (index === undefined) peer.deliver(frame);
      else if (index < names.length - 1) peer.deliver(frameText(encodeEvent({ type, data: names.slice(index + 1) })));
    }
  }

  readonly #sendAllPresence = (): void => {
    for (const roomName of [...this.#presence.keys()]) this.#sendPresence(roomName);
  };
}
