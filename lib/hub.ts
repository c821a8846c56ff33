// This process's peers, grouped by room, and the one path every outgoing frame takes.

import { WebSocket } from 'ws';
import type { RoomEvent } from './engine.ts';
import { encodeEvent } from './protocol.ts';

/** Anything a frame can be written to; a `ws` socket in production. */
export interface FrameSink {
  readonly readyState: number;
  send(frame: string | Buffer, options: { binary: false }): void;
}

/** One connection that has joined a room. */
export interface Peer {
  readonly socket: FrameSink;
  readonly room: string;
  readonly name: string;
  /** Milliseconds since the epoch when the peer joined. */
  readonly joinedAt: number;
}

/**
 * Writes one text frame to a peer. Every frame the server sends passes here, so that writes can be
 * coalesced and slow readers policed in one place. Frames to a closing socket are dropped: its
 * peer is already leaving.
 */
export function sendFrame(peer: Peer, frame: string | Buffer): void {
  if (peer.socket.readyState === WebSocket.OPEN) peer.socket.send(frame, { binary: false });
}

/** The registry of local peers: by socket, and by room for fan-out. */
export class Hub {
  readonly #bySocket = new Map<FrameSink, Peer>();
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

  get size(): number {
    return this.#bySocket.size;
  }

  /**
   * Fans a room event out to the room's local peers. The frame is serialized and encoded once for
   * all recipients; a peer is not told about its own arrival or departure.
   */
  dispatch(roomName: string, event: RoomEvent): void {
    const room = this.#rooms.get(roomName);
    if (!room) return;
    const frame = Buffer.from(encodeEvent(event));
    const subject = event.type === 'message' ? undefined : event.data;
    for (const peer of room) {
      if (peer.name !== subject) sendFrame(peer, frame);
    }
  }
}
