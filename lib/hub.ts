// This process's peers: each room's set of peers for fan-out, and presence diffs gathered into
// batches. A peer is its WebSocket (see connection.ts), so the set of a room's peers is also the
// map from socket to name.

import type { RoomEvent } from './engine.ts';
import { CLOSE, type CloseInfo, withReason } from './errors.ts';
import type { Counters } from './metrics.ts';
import { nameKey } from './names.ts';
import { frameText } from './outbox.ts';
import { encodeEvent, type ServerEvent } from './protocol.ts';

/** One connection that has joined a room. */
export interface Peer {
  readonly room: string;
  /** Changes when the peer's session renames itself. */
  readonly name: string;
  /**
   * Queues one framed WebSocket message to the peer; every outgoing frame passes here (see
   * connection.ts). `seq` is the room's position after it: a chat message's seq, or 0 when
   * numbering restarts. `event` is what `frame` says, for a peer that is sent text (see text.ts).
   */
  deliver(frame: Buffer, seq: number | undefined, event: ServerEvent): void;
  /** Who the peer is, as moderation rules name people (see rules.ts). */
  readonly ruleKeys: readonly string[];
  /** Moderators are not held by bans, mutes or slow mode: one behind the address of the person they ban stays. */
  readonly isModerator: boolean;
  /** Closes the peer with a documented code after the frames it is owed; it leaves the room at once. */
  disconnect(close: CloseInfo): void;
}

type PresenceChange = 'peer-joined' | 'peer-left';

/** The registry of local peers, by room. */
export class Hub {
  #size = 0;
  readonly #rooms = new Map<string, Set<Peer>>();
  /**
   * Per room, the joins or leaves heard and not yet sent: one frame carries them all. `late` holds
   * the peers added while the batch waited, each with how many of its names its snapshot has.
   */
  readonly #presence = new Map<string, { type: PresenceChange; names: string[]; late?: Map<Peer, number> }>();
  /** Per room with local peers, the last snapshot framed, to extend when the next one only adds names. */
  readonly #snapshots = new Map<string, { names: string[]; json: string }>();
  readonly #counters: Counters;
  readonly #presenceBatchMs: number;

  /** Joins and leaves wait up to `presenceBatchMs` (0: the end of the event-loop turn) to be sent together. */
  constructor(counters: Counters, presenceBatchMs = 0) {
    this.#counters = counters;
    this.#presenceBatchMs = presenceBatchMs;
  }

  /**
   * Adds a peer whose presence snapshot is the room's as of now (see Engine.join's `onEnter`): of
   * the joins or leaves waiting to be sent, it is sent only those heard after this.
   */
  add(peer: Peer): void {
    let room = this.#rooms.get(peer.room);
    if (!room) this.#rooms.set(peer.room, (room = new Set()));
    if (!room.has(peer)) this.#size++;
    room.add(peer);
    const waiting = this.#presence.get(peer.room);
    if (waiting) (waiting.late ??= new Map()).set(peer, waiting.names.length);
  }

  remove(peer: Peer): void {
    const room = this.#rooms.get(peer.room);
    if (!room?.delete(peer)) return;
    this.#size--;
    if (room.size === 0) {
      this.#rooms.delete(peer.room);
      this.#snapshots.delete(peer.room);
    }
  }

  /**
   * Frames `update-peers` for `names`, the room's presence snapshot. In a join storm each newcomer's
   * snapshot is the last one plus a few names (engines list names in the order they joined), so the
   * JSON is extended rather than built again: N joins then cost N small appends, not N² names
   * serialized.
   */
  snapshotFrame(roomName: string, names: string[]): Buffer {
    const last = this.#snapshots.get(roomName);
    let json: string;
    if (last && last.names.length > 0 && names.length > last.names.length && last.names.every((name, index) => names[index] === name)) {
      json = `${last.json.slice(0, -1)},${JSON.stringify(names.slice(last.names.length)).slice(1)}`;
    } else {
      json = JSON.stringify(names);
    }
    this.#snapshots.set(roomName, { names, json });
    return frameText(`{"type":"update-peers","data":${json}}`);
  }

  /** Whether a peer of this process is connected in `roomName` under `name`. */
  hasPeerNamed(roomName: string, name: string): boolean {
    for (const peer of this.#rooms.get(roomName) ?? []) if (peer.name === name) return true;
    return false;
  }

  /** The connections of this process in `roomName` under `name` (by nameKey). */
  peersNamed(roomName: string, name: string): Peer[] {
    const key = nameKey(name);
    return [...(this.#rooms.get(roomName) ?? [])].filter((peer) => nameKey(peer.name) === key);
  }

  /** Every connection of this process in `roomName`. */
  peersIn(roomName: string): Iterable<Peer> {
    return this.#rooms.get(roomName) ?? [];
  }

  /** Every connection of this process, in every room. */
  *peers(): IterableIterator<Peer> {
    for (const room of this.#rooms.values()) yield* room;
  }

  /** How many connections of this process are in `roomName` under `name` (by nameKey). */
  countNamed(roomName: string, name: string): number {
    const key = nameKey(name);
    let count = 0;
    for (const peer of this.#rooms.get(roomName) ?? []) if (nameKey(peer.name) === key) count++;
    return count;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Fans a room event out to the room's local peers, serialized and framed once for all of them.
   * Joins and leaves are gathered and go out together, as one `peer-joined` or `peer-left` listing
   * every name: a join storm of N peers then costs each peer a frame per batch instead of one per
   * join (N² frames in all). Any other event of the room first sends its waiting presence, and so
   * does a change from joins to leaves, so order is kept.
   */
  dispatch(roomName: string, event: RoomEvent): void {
    if (event.type === 'peer-joined' || event.type === 'peer-left') {
      const waiting = this.#presence.get(roomName);
      if (waiting?.type === event.type) {
        waiting.names.push(event.data);
        return;
      }
      if (waiting) this.#sendPresence(roomName);
      else if (this.#presence.size === 0) this.#schedulePresence();
      this.#presence.set(roomName, { type: event.type, names: [event.data] });
      return;
    }
    this.#sendPresence(roomName);
    const room = this.#rooms.get(roomName);
    if (!room) return;
    const frame = frameText(encodeEvent(event));
    if (event.type === 'history-reset') {
      // Every peer's position restarts: the next message is seq 1 of the new epoch.
      for (const peer of room) peer.deliver(frame, 0, event);
      return;
    }
    if (event.type === 'direct-message') {
      // Only to the two ends (every connection of each), on whichever process they are.
      const { from, to } = event.data;
      for (const peer of room) if (peer.name === to || peer.name === from) peer.deliver(frame, undefined, event);
      return;
    }
    if (event.type === 'peer-kicked') {
      // Everyone is told, the kicked included, and then each connection of the name here is closed.
      for (const peer of room) peer.deliver(frame, undefined, event);
      const close = withReason(CLOSE.kicked, event.data.reason);
      for (const peer of [...room]) if (peer.name === event.data.name) peer.disconnect(close);
      return;
    }
    // A peer is not told that it is typing.
    const subject = event.type === 'typing' ? event.data.name : undefined;
    const seq = event.type === 'message' ? event.data.seq : undefined;
    for (const peer of room) {
      if (peer.name !== subject) peer.deliver(frame, seq, event);
    }
    if (event.type === 'message') this.#counters.deliveries += room.size;
  }

  #sendPresence(roomName: string): void {
    const waiting = this.#presence.get(roomName);
    if (!waiting) return;
    this.#presence.delete(roomName);
    const room = this.#rooms.get(roomName);
    if (!room) return;
    const { type, names, late } = waiting;
    const encoded = names.map((name) => JSON.stringify(name));
    const list = `[${encoded.join(',')}]`;
    const frame = frameText(`{"type":"${type}","data":${list}}`);
    // A peer added during this batch has the names before its place in its snapshot (its own
    // arrival among them): it is sent only those after. Its list is a slice of the batch's JSON, so
    // a storm of k joins in one batch costs k copies, not k² names serialized.
    const starts: number[] = [];
    if (late) for (let at = 1, i = 0; i < encoded.length; at += encoded[i]!.length + 1, i++) starts.push(at);
    for (const peer of room) {
      const known = late?.get(peer);
      if (known === undefined) peer.deliver(frame, undefined, { type, data: names });
      else if (known < names.length) peer.deliver(frameText(`{"type":"${type}","data":[${list.slice(starts[known])}}`), undefined, { type, data: names.slice(known) });
    }
  }

  #schedulePresence(): void {
    if (this.#presenceBatchMs === 0) setImmediate(this.#sendAllPresence);
    else setTimeout(this.#sendAllPresence, this.#presenceBatchMs).unref();
  }

  readonly #sendAllPresence = (): void => {
    for (const roomName of [...this.#presence.keys()]) this.#sendPresence(roomName);
  };
}
