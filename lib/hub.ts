// This process's peers: the registry by socket, and rooms for fan-out.

import type { RoomEvent } from './engine.ts';
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
  /** Writes one text frame to the peer; every outgoing frame passes here (see connection.ts). */
  send(frame: string | Buffer): void;
}

/** The registry of local peers: by socket, and by room for fan-out. */
export class Hub {
  readonly #bySocket = new Map<object, Peer>();
  readonly #rooms = new Map<string, Set<Peer>>();

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

  /**
   * Fans a room event out to the room's local peers. The frame is serialized and encoded once for
   * all recipients; a peer is not told about its own arrival, departure or typing.
   */
  dispatch(roomName: string, event: RoomEvent): void {
    const room = this.#rooms.get(roomName);
    if (!room) return;
    const frame = Buffer.from(encodeEvent(event));
    const subject = event.type === 'peer-joined' || event.type === 'peer-left' ? event.data : event.type === 'typing' ? event.data.name : undefined;
    for (const peer of room) {
      if (peer.name !== subject) peer.send(frame);
    }
  }
}
