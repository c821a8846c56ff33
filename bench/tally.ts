// What the benchmark's peers receive, counted per frame without decoding it: chat deliveries and
// their latency, presence bytes, and generated names. Every text frame of every peer passes through
// `record`, up to millions a second, so it compares bytes and keeps counts in typed arrays.

const MESSAGE = Buffer.from('{"type":"message"');
/** `@`, twice before a message's number. */
const AT = 0x40;
const PRESENCE = ['{"type":"update-peers"', '{"type":"peer-joined"', '{"type":"peer-left"'].map((p) => Buffer.from(p));
const NAME_PREFIX = Buffer.from('{"type":"name-generated","data":"');
const NAME_SUFFIX_BYTES = '"}'.length;
const BUCKETS_PER_MS = 10;
/** 0.1 ms buckets up to 10 s; one more bucket holds everything slower. */
const BUCKETS = 10_000 * BUCKETS_PER_MS;

/** Whether the frame `buf[start, end)` begins with `prefix`. */
export function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (end - start < prefix.length) return false;
  // A loop in JS beats a call into C++ (`buf.compare`) for prefixes this short.
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

/** Bytes of a server frame's header for a payload of `length` bytes. */
function headerBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Chat messages are numbered: the text sent is `@@<n>`, and n indexes the send times, so a delivery
 * is matched to its send without keeping any per-message string.
 */
export class Tally {
  /** `performance.now()` at the send of message n. */
  readonly sentAt: number[] = [];
  /** Peers that message n has reached. */
  readonly reached: number[] = [];
  /** Bytes of presence frames (`update-peers`, `peer-joined`, `peer-left`), headers included. */
  presenceBytes = 0;
  names = 0;
  nameBytes = 0;
  /** Deliveries of messages sent since `startWindow`. */
  deliveries = 0;
  #countsMessages: boolean;
  #windowStart = 0;
  #histogram = new Uint32Array(BUCKETS + 1);
  #latencies = 0;
  #maxMs = 0;

  /** With `countsMessages` false, chat frames are not even searched: for peers that only hold a connection. */
  constructor({ countsMessages = true } = {}) {
    this.#countsMessages = countsMessages;
  }

  /** Numbers a new message, notes its send time and returns the frame text to send. */
  nextMessage(now: number): string {
    this.sentAt.push(now);
    this.reached.push(0);
    return `{"type":"message","data":"@@${this.sentAt.length - 1}"}`;
  }

  /** Forgets latencies so far; from here on only messages sent after this call count. Returns the next message's number. */
  startWindow(): number {
    this.#histogram.fill(0);
    this.#latencies = 0;
    this.#maxMs = 0;
    this.deliveries = 0;
    this.#windowStart = this.sentAt.length;
    return this.#windowStart;
  }

  /** Counts one text frame, `buf[start, end)`, received at `now`. */
  record(buf: Buffer, start: number, end: number, now: number): void {
    if (startsWith(buf, start, end, MESSAGE)) {
      if (this.#countsMessages) this.#recordMessage(buf, start, end, now);
    } else if (PRESENCE.some((prefix) => startsWith(buf, start, end, prefix))) {
      this.presenceBytes += end - start + headerBytes(end - start);
    } else if (startsWith(buf, start, end, NAME_PREFIX)) {
      this.names++;
      this.nameBytes += end - start - NAME_PREFIX.length - NAME_SUFFIX_BYTES;
    }
  }

  #recordMessage(buf: Buffer, start: number, end: number, now: number): void {
    // Scanned in JS, not with `buf.indexOf`: the mark is a few dozen bytes in, and a call into C++ costs more.
    let at = start + MESSAGE.length;
    while (at < end - 1 && !(buf[at] === AT && buf[at + 1] === AT)) at++;
    if (at >= end - 1) return;
    let n = 0;
    for (let i = at + 2; i < end; i++) {
      const digit = buf[i]! - 48;
      if (digit < 0 || digit > 9) break;
      n = n * 10 + digit;
    }
    // History replayed to a newcomer, or a late delivery from an earlier window, is not this window's.
    if (n < this.#windowStart || n >= this.sentAt.length) return;
    this.reached[n]!++;
    this.deliveries++;
    const ms = Math.max(0, now - this.sentAt[n]!);
    this.#histogram[Math.min(Math.floor(ms * BUCKETS_PER_MS), BUCKETS)]!++;
    this.#latencies++;
    if (ms > this.#maxMs) this.#maxMs = ms;
  }

  /** The latency in ms that a fraction `p` of this window's deliveries took at most (upper edge of its 0.1 ms bucket); NaN if none. */
  percentile(p: number): number {
    if (this.#latencies === 0) return NaN;
    const rank = Math.ceil(p * this.#latencies);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#histogram[i]!;
      if (seen >= rank) return Math.min((i + 1) / BUCKETS_PER_MS, this.#maxMs);
    }
    return this.#maxMs;
  }

  /** The slowest delivery in this window, in ms; NaN if none. */
  get maxMs(): number {
    return this.#latencies === 0 ? NaN : this.#maxMs;
  }

  /** Whether every message from number `first` on has reached exactly `peers` peers. */
  hasReachedAll(first: number, peers: number): boolean {
    for (let n = first; n < this.reached.length; n++) if (this.reached[n] !== peers) return false;
    return true;
  }
}
