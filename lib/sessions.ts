// Sessions: what outlives one connection. A session owns a name in a room, an unguessable token
// that lets a reconnecting client take the name back within a grace period, and the ids of its
// recent messages so that a retry is acknowledged instead of sent twice.

import { randomBytes } from 'node:crypto';

export interface Session {
  readonly token: string;
  readonly room: string;
  name: string;
  /** Open connections using this session. */
  connections: number;
  expiry?: NodeJS.Timeout;
}

export interface SessionOptions {
  graceMs: number;
  dedupeWindowMs: number;
  now: () => number;
}

/** Every live or recently disconnected session of this process, by token. */
export class Sessions {
  readonly #byToken = new Map<string, Session>();
  /**
   * `token id` -> the seq a message id was given (a promise while it is being published) and when,
   * for every session in one map, oldest first: a session that never sends an id costs nothing here.
   */
  readonly #sent = new Map<string, { seq: Promise<number>; at: number }>();
  readonly #options: SessionOptions;

  constructor(options: SessionOptions) {
    this.#options = options;
  }

  /** Starts a session for a name just claimed in `room`, with one connection; `token` is given when another process issued it. */
  create(room: string, name: string, token = randomBytes(24).toString('base64url')): Session {
    const session: Session = { token, room, name, connections: 1 };
    this.#byToken.set(session.token, session);
    return session;
  }

  /** Takes a session of `room` back by its token (a new connection of it), or returns undefined. */
  resume(token: string | undefined, room: string): Session | undefined {
    const session = token === undefined ? undefined : this.#byToken.get(token);
    if (!session || session.room !== room) return undefined;
    clearTimeout(session.expiry);
    session.expiry = undefined;
    session.connections++;
    return session;
  }

  /**
   * A connection of `session` ended. When it was the last, the session waits `graceMs` for a
   * reconnect and then ends, calling `onEnd` (which releases the name); `immediately` skips the wait.
   */
  detach(session: Session, onEnd: () => void, immediately = false): void {
    if (--session.connections > 0 || !this.#byToken.has(session.token)) return;
    const end = () => {
      this.#byToken.delete(session.token);
      onEnd();
    };
    if (immediately || this.#options.graceMs === 0) end();
    else session.expiry = setTimeout(end, this.#options.graceMs).unref();
  }

  /** The seq a message id already got in this session, if it is within the dedupe window. */
  seqOf(session: Session, id: string): Promise<number> | undefined {
    const entry = this.#sent.get(`${session.token} ${id}`);
    return entry && this.#options.now() - entry.at <= this.#options.dedupeWindowMs ? entry.seq : undefined;
  }

  /** Remembers an id's seq, and forgets ids older than the dedupe window. */
  remember(session: Session, id: string, seq: Promise<number>): void {
    const now = this.#options.now();
    for (const [old, entry] of this.#sent) {
      if (now - entry.at <= this.#options.dedupeWindowMs) break;
      this.#sent.delete(old);
    }
    this.#sent.set(`${session.token} ${id}`, { seq, at: now });
  }

  /** How many message ids are remembered, across all sessions. */
  get rememberedIds(): number {
    return this.#sent.size;
  }

  /** Forgets an id whose message failed to publish, so a retry publishes it again. */
  forget(session: Session, id: string): void {
    this.#sent.delete(`${session.token} ${id}`);
  }

  /** Ends every session at once (shutdown). */
  clear(): void {
    for (const session of this.#byToken.values()) clearTimeout(session.expiry);
    this.#byToken.clear();
    this.#sent.clear();
  }
}
