// A room's recent messages and the rules for resuming from a position: pure, no sockets.

import type { ChatMessage } from './protocol.ts';

/** Where a client is in a room's stream: the server process's epoch and the last seq it has. */
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

/** The last `capacity` messages of one room, numbered from 1 without gaps. */
export class RoomHistory {
  readonly #capacity: number;
  readonly #messages: ChatMessage[] = [];
  #seq = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get seq(): number {
    return this.#seq;
  }

  /** Numbers and keeps a message; the oldest falls out past the capacity. */
  append(message: Omit<ChatMessage, 'seq'>): ChatMessage {
    const numbered = { ...message, seq: ++this.#seq };
    this.#messages.push(numbered);
    if (this.#messages.length > this.#capacity) this.#messages.shift();
    return numbered;
  }

  /**
   * The replay for a client: everything after `since` when that position is in this buffer, else
   * the `recent` newest messages with the reason the resume failed. `since` undefined means a fresh
   * join; 'malformed' means the client sent a position that could not be read.
   */
  replay(epoch: string, since: Position | 'malformed' | undefined, recent: number): Replay {
    return replayOf(epoch, this.#seq, this.#messages, since, recent);
  }
}

/**
 * The resume rules over any store: `kept` is the room's newest messages in order, the last of them
 * numbered `seq` (the room's newest). Engines that keep history elsewhere (Redis) use it too.
 */
export function replayOf(epoch: string, seq: number, kept: ChatMessage[], since: Position | 'malformed' | undefined, recent: number): Replay {
  const position = { epoch, seq };
  const latest = (reason?: ResumeFailure): Replay => ({
    ...position,
    ...(reason && { recovered: false, reason }),
    messages: recent > 0 ? kept.slice(-recent) : [],
  });
  if (since === undefined) return latest();
  if (since === 'malformed') return latest('malformed');
  if (since.epoch !== epoch) return latest('unknown-epoch');
  if (since.seq > seq) return latest('future');
  const oldest = seq - kept.length + 1;
  if (since.seq < oldest - 1) return latest('too-old');
  return { ...position, recovered: true, messages: kept.slice(since.seq - oldest + 1) };
}
