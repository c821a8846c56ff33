// One room's event stream as this process hears it from Redis, made whole: the room's presence and
// newest seq as the stream has told them, so that what reaches the listener is exactly the room's
// changes, each once and in order. A message whose seq skips ahead (one lost while the subscriber
// connection was away) holds the stream back until the gap is read from history; a join or leave
// that changes nothing (heard late, or twice) is dropped. A point in the stream is marked with a tag
// (a join, or a resync after an outage): the mark is settled there, with the presence there.

import type { RoomEvent } from './engine.ts';
import { nameKey } from './names.ts';
import type { ChatMessage } from './protocol.ts';

/** An event as it comes over the channel: a room event, or a bare mark, either with its tag. */
export type Wire = (RoomEvent | { type: 'sync' }) & { sync?: string };

/** A room as a script read it at a point of the stream: its newest seq and who is online. */
export interface Snapshot {
  seq: number;
  names: string[];
}

export interface FeedOptions {
  /** Hands an event to the process's listener. */
  deliver: (event: RoomEvent) => void;
  /** Reads the kept messages numbered `from` to `to`, in order. */
  read: (from: number, to: number) => Promise<ChatMessage[]>;
  /** The epoch messages must carry; one from another epoch means Redis lost its data. */
  epoch: () => string;
  onForeignEpoch: () => void;
  /** How long a read that failed waits before it is tried again, in ms. */
  retryMs: number;
}

interface Mark {
  /** Called at the mark's place in the stream with who is online there. */
  onMarked: (names: string[]) => void;
  /** A resync replaces the presence with its snapshot, and tells the listener what changed. */
  isResync: boolean;
  /** The script's answer came: undefined until then; its snapshot, if it asked for one. */
  answer?: { snapshot: Snapshot | undefined };
  hasArrived: boolean;
  /** A first mark's event, already in its snapshot: the listener hears it when the mark settles. */
  event?: RoomEvent;
}

/** A room this process holds names in, or is joining. */
export class RoomFeed {
  /** Who is online (nameKey to name), from the first mark settled on. */
  names: Map<string, string> | undefined;
  /** The newest seq handed to the listener. */
  seq = 0;
  /** The names this process holds in the room (nameKey to name and its session's token). */
  readonly holds = new Map<string, { name: string; token: string }>();
  /** Joins under way. */
  joining = 0;
  readonly #options: FeedOptions;
  /** Events held back behind a read of history, or behind a first mark waiting for its snapshot. */
  #queue: Wire[] | undefined;
  readonly #marks = new Map<string, Mark>();
  /** Join marks answered before a resync whose own marks have not arrived (tag to the resync's tag). */
  readonly #lostBehind = new Map<string, string>();
  #waiters: Array<{ seq: number; resolve: () => void }> = [];
  #isReading = false;
  #isClosed = false;

  constructor(options: FeedOptions) {
    this.#options = options;
  }

  get isIdle(): boolean {
    return this.holds.size === 0 && this.joining === 0;
  }

  /** Takes the next event heard on the room's channel. */
  receive(wire: Wire): void {
    if (this.#queue) this.#queue.push(wire);
    else this.#process(wire);
  }

  /** Waits for the mark `tag`: `onMarked` runs at its place in the stream (see answered). */
  expect(tag: string, onMarked: (names: string[]) => void, isResync = false): void {
    this.#marks.set(tag, { onMarked, isResync, hasArrived: false });
  }

  /** The script that made the mark answered, with the room's snapshot if it was asked for one. */
  answered(tag: string, snapshot?: Snapshot): void {
    const mark = this.#marks.get(tag);
    if (!mark) return;
    mark.answer = { snapshot };
    if (mark.isResync) {
      // Joins answered before the resync ran before its mark: if their marks have not come by then, they were lost.
      for (const [other, join] of this.#marks) if (!join.isResync && join.answer && !join.hasArrived) this.#lostBehind.set(other, tag);
    }
    if (!mark.hasArrived) return;
    this.#settle(tag, mark);
    this.#drain();
  }

  /** The mark's answer will never come (its script failed, or its connection did). */
  cancel(tag: string): void {
    this.#marks.delete(tag);
    this.#lostBehind.delete(tag);
    this.#drain();
  }

  /** Resolves once the listener has had every message up to `seq`. */
  delivered(seq: number): Promise<void> {
    if (this.seq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  /** Reads from history whatever the listener has not had up to `seq` (a message heard too late, or never). */
  catchUp(seq: number): void {
    // A stream held back catches up by itself once it goes on.
    if (seq > this.seq && !this.#isClosed && !this.#queue) this.#fill(seq);
  }

  /** Numbering restarted (Redis came back empty): the listener is told, and the room starts again at 0. */
  restart(epoch: string): void {
    this.seq = 0;
    if (this.names) this.#options.deliver({ type: 'history-reset', data: { epoch } });
  }

  close(): void {
    this.#isClosed = true;
  }

  #process(wire: Wire): void {
    const { names } = this;
    let event: RoomEvent | { type: 'sync' } = wire;
    if (wire.sync !== undefined) {
      const { sync, ...untagged } = wire;
      event = untagged;
      const mark = this.#marks.get(sync);
      if (mark) {
        mark.hasArrived = true;
        this.#lostBehind.delete(sync);
        // A first mark is settled on its snapshot, which has this very event in it.
        if (!names) {
          if (event.type !== 'sync') mark.event = event;
          if (mark.answer) this.#settle(sync, mark);
          else this.#queue = [];
          return;
        }
        if (event.type !== 'sync') this.#apply(names, event);
        if (mark.answer || !mark.isResync) this.#settle(sync, mark);
        else this.#queue = [];
        return;
      }
    }
    if (names && event.type !== 'sync') this.#apply(names, event);
  }

  #apply(names: Map<string, string>, event: RoomEvent): void {
    const { deliver } = this.#options;
    if (event.type === 'message') {
      const { seq, epoch } = event.data;
      if (epoch !== this.#options.epoch()) {
        this.#options.onForeignEpoch();
        return;
      }
      if (seq <= this.seq) return;
      if (seq > this.seq + 1) {
        this.#fill(seq - 1);
        this.#queue!.push(event);
        return;
      }
      this.#deliverMessage(event.data);
      return;
    }
    if (event.type === 'peer-joined') {
      const key = nameKey(event.data);
      if (names.get(key) === event.data) return;
      names.set(key, event.data);
    } else if (event.type === 'peer-left') {
      const key = nameKey(event.data);
      if (names.get(key) !== event.data) return;
      names.delete(key);
    } else if (event.type === 'peer-renamed') {
      const { from, to } = event.data;
      const fromKey = nameKey(from);
      const toKey = nameKey(to);
      if (names.get(toKey) === to && !names.has(fromKey)) return;
      names.delete(fromKey);
      names.set(toKey, to);
      const held = this.holds.get(fromKey);
      if (held) {
        this.holds.delete(fromKey);
        this.holds.set(toKey, { ...held, name: to });
      }
    }
    deliver(event);
  }

  #deliverMessage(message: ChatMessage): void {
    this.seq = message.seq;
    this.#options.deliver({ type: 'message', data: message });
    if (this.#waiters.length > 0) this.#release();
  }

  #release(): void {
    const ready = this.#waiters.filter((waiter) => waiter.seq <= this.seq);
    this.#waiters = this.#waiters.filter((waiter) => waiter.seq > this.seq);
    for (const waiter of ready) waiter.resolve();
  }

  /** The mark's place in the stream is reached and its answer is in. */
  #settle(tag: string, mark: Mark): void {
    this.#marks.delete(tag);
    const snapshot = mark.answer?.snapshot;
    if (snapshot && (!this.names || mark.isResync)) this.#replace(snapshot);
    this.names ??= new Map();
    if (mark.event) this.#options.deliver(mark.event);
    const names = [...this.names.values()];
    mark.onMarked(names);
    if (!mark.isResync) return;
    for (const [lost, behind] of this.#lostBehind) {
      if (behind !== tag) continue;
      this.#lostBehind.delete(lost);
      const join = this.#marks.get(lost);
      if (join) this.#settle(lost, join);
    }
  }

  /** Takes `snapshot` as the room's state: the listener hears who came and went, and the messages it missed. */
  #replace({ seq, names }: Snapshot): void {
    const { deliver } = this.#options;
    const next = new Map(names.map((name) => [nameKey(name), name]));
    if (this.names) {
      for (const [key, name] of this.names) if (next.get(key) !== name) deliver({ type: 'peer-left', data: name });
      for (const [key, name] of next) if (this.names.get(key) !== name) deliver({ type: 'peer-joined', data: name });
      this.names = next;
      if (seq > this.seq) this.#fill(seq);
    } else {
      this.names = next;
      this.seq = seq;
    }
  }

  /** Holds the stream back and reads what the listener has not had up to `seq` from history. */
  #fill(seq: number): void {
    this.#queue ??= [];
    this.#isReading = true;
    const read = (): void => {
      if (this.#isClosed) return;
      this.#options.read(this.seq + 1, seq).then(
        (messages) => {
          this.#isReading = false;
          for (const message of messages) if (message.seq > this.seq) this.#deliverMessage(message);
          // Messages trimmed from history meanwhile are skipped.
          if (this.seq < seq) {
            this.seq = seq;
            this.#release();
          }
          this.#drain();
        },
        () => setTimeout(read, this.#options.retryMs).unref(),
      );
    };
    read();
  }

  /** Lets the held-back events through, until one holds the stream back again. */
  #drain(): void {
    const queued = this.#queue;
    if (!queued || this.#isReading || this.#marksWaitingForAnswer()) return;
    this.#queue = undefined;
    for (let i = 0; i < queued.length; i++) {
      // Processing an event may hold the stream back again.
      const heldBack = this.#queue as Wire[] | undefined;
      if (heldBack) {
        heldBack.push(...queued.slice(i));
        return;
      }
      this.#process(queued[i]!);
    }
  }

  /** A mark arrived whose answer has not: the stream waits for it. */
  #marksWaitingForAnswer(): boolean {
    for (const mark of this.#marks.values()) if (mark.hasArrived && !mark.answer && (mark.isResync || !this.names)) return true;
    return false;
  }
}
