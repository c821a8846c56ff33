// A room's numbered messages and the rules for resuming from a position: pure, no sockets. Every
// store (memory, SQLite, Redis) plans a replay with the same rules and reads the range it names.

import type { ChatMessage } from './protocol.ts';

/** Where a client is in a room's stream: the history's epoch and the last seq it has. */
export interface Position {
  epoch: string;
  seq: number;
}

/** Why a resume could not be honoured; the client gets recent history instead. */
export type ResumeFailure = 'unknown-epoch' | 'too-old' | 'future' | 'malformed';

/** What a connecting client is sent: its replay, and the position it is at afterwards. */
export interface Replay {
  epoch: string;
  /** The room's newest seq (0 before the first message). */
  seq: number;
  /** Absent when no resume was asked for. */
  recovered?: boolean;
  reason?: ResumeFailure;
  messages: ChatMessage[];
}

/** A replay without its messages, and the seqs `from`..`to` (inclusive; none when from > to) to read for it. */
export interface ReplayPlan {
  replay: Omit<Replay, 'messages'>;
  from: number;
  to: number;
}

/**
 * The resume rules over any store: the room's newest seq is `seq` and its oldest kept one `oldest`
 * (seq + 1 when none is kept). A resume is honoured when every message after the client's position
 * is kept and there are at most `maxReplay` of them; otherwise the client gets the `recent` newest
 * with the reason. `since` undefined means a fresh join; 'malformed' a position that could not be
 * read. Only the first `limit` are to be read now (the rest, up to `seq`, page by page).
 */
export function planReplay(epoch: string, seq: number, oldest: number, since: Position | 'malformed' | undefined, recent: number, maxReplay: number, limit = Infinity): ReplayPlan {
  const plan = (replay: ReplayPlan['replay'], from: number): ReplayPlan => ({ replay, from, to: Math.min(seq, from + limit - 1) });
  const latest = (reason?: ResumeFailure) => plan({ epoch, seq, ...(reason && { recovered: false, reason }) }, Math.max(oldest, seq - recent + 1));
  if (since === undefined) return latest();
  if (since === 'malformed') return latest('malformed');
  if (since.epoch !== epoch) return latest('unknown-epoch');
  if (since.seq > seq) return latest('future');
  if (since.seq < oldest - 1 || seq - since.seq > maxReplay) return latest('too-old');
  return plan({ epoch, seq, recovered: true }, since.seq + 1);
}

/** Which seqs a history page before `before` covers: `from`..`to`, and whether older ones are kept. */
export function planPage(seq: number, oldest: number, before: number, limit: number): { from: number; to: number; more: boolean } {
  const to = Math.min(before - 1, seq);
  const from = Math.max(oldest, to - limit + 1);
  return { from, to, more: from > oldest && to >= oldest };
}

/** The tombstone of `message`, deleted by `by`: what history holds in its place. */
export function toTombstone({ sender, ts, seq, epoch }: ChatMessage, by: string): ChatMessage {
  return { sender, message: '', ts, seq, epoch, deleted: true, deletedBy: by };
}

/** About the bytes a kept message holds in memory: its strings (UTF-16) and the object around them. */
export function messageBytes(message: ChatMessage): number {
  return 2 * (message.message.length + message.sender.length) + 96;
}

/** The bytes of `messages` together (see messageBytes). */
export function messagesBytes(messages: readonly ChatMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += messageBytes(message);
  return bytes;
}

/** A room's messages held in memory, which can let its oldest go. */
export interface HistoryHolder {
  /** Lets go of some of its oldest messages and returns the bytes freed (0 when it holds none). */
  shed(): number;
}

/**
 * The memory all rooms' kept messages may take together (--max-history-bytes). Past it, the least
 * recently used rooms let their oldest messages go first, the room that just grew last: a store on
 * disk still has them (they are read from the file again), memory alone forgets them.
 */
export class HistoryBudget {
  readonly #maxBytes: number;
  /** Least recently used first. */
  readonly #holders = new Map<string, HistoryHolder>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `room` holds `bytes` more (fewer when negative) and is now the most recently used; the budget is then kept. */
  add(room: string, holder: HistoryHolder, bytes: number): void {
    this.#bytes += bytes;
    this.#holders.delete(room);
    this.#holders.set(room, holder);
    if (this.#bytes <= this.#maxBytes) return;
    for (const oldest of this.#holders.values()) {
      for (let freed = 1; freed > 0 && this.#bytes > this.#maxBytes; ) {
        freed = oldest.shed();
        this.#bytes -= freed;
      }
      if (this.#bytes <= this.#maxBytes) return;
    }
  }

  /** `room` let go of all it held (`bytes`): it was forgotten. */
  release(room: string, bytes: number): void {
    this.#bytes -= bytes;
    this.#holders.delete(room);
  }
}

/**
 * The last `capacity` messages of one room, numbered from 1 without gaps, in memory. Old messages
 * are dropped in chunks, so that a full buffer of 100,000 costs no copy per message. With a budget,
 * the room's messages count in it, and it may make the room let its oldest go sooner.
 */
export class RoomHistory implements HistoryHolder {
  readonly #capacity: number;
  readonly #budget: { budget: HistoryBudget; room: string } | undefined;
  #messages: ChatMessage[] = [];
  #seq = 0;
  #bytes = 0;

  constructor(capacity: number, budget?: { budget: HistoryBudget; room: string }) {
    this.#capacity = capacity;
    this.#budget = budget;
  }

  /** Bytes its messages hold (see messageBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  shed(): number {
    return this.#drop(Math.ceil(this.#messages.length / 4));
  }

  /** Drops the `count` oldest messages and returns the bytes freed. */
  #drop(count: number): number {
    const freed = messagesBytes(this.#messages.splice(0, count));
    this.#bytes -= freed;
    return freed;
  }

  get seq(): number {
    return this.#seq;
  }

  /** The oldest kept seq (seq + 1 when none is kept). */
  get oldest(): number {
    return this.#seq - Math.min(this.#messages.length, this.#capacity) + 1;
  }

  /** Numbers and keeps a message; the oldest falls out past the capacity. */
  append(message: Omit<ChatMessage, 'seq'>): ChatMessage {
    const numbered = { ...message, seq: ++this.#seq };
    this.#messages.push(numbered);
    let grown = messageBytes(numbered);
    this.#bytes += grown;
    const excess = this.#messages.length - this.#capacity;
    if (excess > Math.min(this.#capacity, 1024)) grown -= this.#drop(excess);
    this.#budget?.budget.add(this.#budget.room, this, grown);
    return numbered;
  }

  /** The kept messages numbered `from` to `to`, in order. */
  read(from: number, to: number): ChatMessage[] {
    const first = Math.max(from, this.oldest);
    if (first > to) return [];
    const base = this.#seq - this.#messages.length + 1;
    return this.#messages.slice(first - base, to - base + 1);
  }

  /**
   * Puts `seq`'s tombstone in its place (see toTombstone): undefined when not held, the message
   * as it is when it is a tombstone already.
   */
  tombstone(seq: number, by: string): { message: ChatMessage; isNew: boolean } | undefined {
    const index = seq - (this.#seq - this.#messages.length + 1);
    const kept = seq >= this.oldest ? this.#messages[index] : undefined;
    if (!kept || kept.deleted) return kept && { message: kept, isNew: false };
    const tombstone = toTombstone(kept, by);
    this.#messages[index] = tombstone;
    const freed = messageBytes(kept) - messageBytes(tombstone);
    this.#bytes -= freed;
    this.#budget?.budget.add(this.#budget.room, this, -freed);
    return { message: tombstone, isNew: true };
  }

  /** The replay for a client (see planReplay). */
  replay(epoch: string, since: Position | 'malformed' | undefined, recent: number, maxReplay = this.#capacity, limit = Infinity): Replay {
    const { replay, from, to } = planReplay(epoch, this.#seq, this.oldest, since, recent, maxReplay, limit);
    return { ...replay, messages: this.read(from, to) };
  }
}
