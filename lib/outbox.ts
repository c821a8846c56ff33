// Every frame a peer is owed leaves through its outbox. A broadcast is framed once for all its
// recipients; each outbox queues what its socket is owed during one turn of the event loop and
// writes it in one call (one system call) after the turn's I/O, so the cost per delivery falls as
// load rises.

import type { Writable } from 'node:stream';
import type { Counters } from './metrics.ts';
import { atTurnEnd } from './turn.ts';

/** A ping with no payload; pings share the outbox so they leave with the turn's other frames. */
export const PING_FRAME = Buffer.from([0x89, 0x00]);

/** A pong answering a ping's `payload` (at most 125 bytes, as every control frame's). */
export function framePong(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x8a, payload.length]), payload]);
}

/** Frames `payload` as one unmasked WebSocket text frame (RFC 6455 section 5.2), as a server sends it. */
export function frameText(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(payload, headerLength);
  return frame;
}

/** Writes every outbox that was given frames in this turn, once, after the turn's I/O. */
export class Flusher {
  readonly counters: Counters;
  #due: Outbox[] = [];

  constructor(counters: Counters) {
    this.counters = counters;
  }

  schedule(outbox: Outbox): void {
    if (this.#due.length === 0) atTurnEnd(this.#flush);
    this.#due.push(outbox);
  }

  readonly #flush = (): void => {
    const due = this.#due;
    this.#due = [];
    for (const outbox of due) outbox.flush();
  };
}

/** One socket's queue of framed bytes. */
export class Outbox {
  readonly #raw: Writable;
  readonly #flusher: Flusher;
  readonly #socket: { readonly readyState: number };
  /** Made at the first frame of a turn: an idle peer holds no list. */
  #frames: Buffer[] | undefined;
  #bytes = 0;

  /**
   * `raw` is the TCP socket under the WebSocket `socket`, whose state says whether frames may still
   * be written: none may follow a close frame.
   */
  constructor(raw: Writable, flusher: Flusher, socket: { readonly readyState: number }) {
    this.#raw = raw;
    this.#flusher = flusher;
    this.#socket = socket;
  }

  /** Bytes owed to the peer: queued here and not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.#bytes + this.#raw.writableLength;
  }

  /** Resolves once the kernel has taken everything written so far, or the socket has closed. */
  drained(): Promise<void> {
    const raw = this.#raw;
    if (raw.writableLength === 0 || raw.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
  }

  push(frame: Buffer): void {
    if (!this.#frames) {
      this.#frames = [];
      this.#flusher.schedule(this);
    }
    this.#frames.push(frame);
    this.#bytes += frame.length;
  }

  /**
   * Writes what is queued now (before a close frame, say); frames owed to a closed socket are
   * counted as dropped. The server corks a socket before its upgrade so that the 101 response leaves
   * with the greeting in one write: the first flush uncorks it, frames or not.
   */
  flush(): void {
    const frames = this.#frames;
    if (frames) this.#write(frames);
    if (this.#raw.writableCorked > 0) this.#raw.uncork();
  }

  #write(frames: Buffer[]): void {
    this.#frames = undefined;
    const bytes = this.#bytes;
    this.#bytes = 0;
    const { counters } = this.#flusher;
    // WebSocket.OPEN: frames queued before a close frame was sent are not written after it.
    if (this.#socket.readyState !== 1) {
      counters.framesDropped += frames.length;
      return;
    }
    counters.framesSent += frames.length;
    this.#raw.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes));
  }
}
