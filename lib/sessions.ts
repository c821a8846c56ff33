// This process's live sessions: a session is a token and the name it owns in a room, with the
// connections using it now. When the last one closes it stays online for a grace period, so that a
// reconnect is seamless; after that it leaves the room's presence, while the engine's store keeps
// the session (and its name) for a reconnect later.

import { randomBytes } from 'node:crypto';
import { nameKey } from './names.ts';

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
  now: () => number;
  /**
   * Renews a session's claim in what is kept (its name lasts the session TTL from the last renewal).
   * Called for every session here every `renewEveryMs`, and for all of them at `close()`, so that a
   * session connected when the process stops (or dies) keeps its name for the whole TTL after.
   */
  renew?: (session: Session) => Promise<void>;
  renewEveryMs?: number;
}

/** A fresh session token: 24 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Every connected or recently disconnected session of this process, by token. */
export class Sessions {
  readonly #byToken = new Map<string, Session>();
  readonly #options: SessionOptions;
  readonly #renewer: NodeJS.Timeout | undefined;

  constructor(options: SessionOptions) {
    this.#options = options;
    if (options.renew && options.renewEveryMs) this.#renewer = setInterval(() => void this.#renewAll(), options.renewEveryMs).unref();
  }

  async #renewAll(): Promise<void> {
    const { renew } = this.#options;
    if (renew) await Promise.all([...this.#byToken.values()].map((session) => renew(session).catch(() => {})));
  }

  /** Starts a session with one connection for a name `token` just entered `room` under. */
  create(room: string, name: string, token: string): Session {
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
   * reconnect and then ends here, calling `onEnd` (which leaves the room's presence); `immediately` skips the wait.
   * Returns whether the session now waits.
   */
  detach(session: Session, onEnd: () => void, immediately = false): boolean {
    if (--session.connections > 0 || !this.#byToken.has(session.token)) return false;
    const end = () => {
      this.#byToken.delete(session.token);
      onEnd();
    };
    if (immediately || this.#options.graceMs === 0) {
      end();
      return false;
    }
    session.expiry = setTimeout(end, this.#options.graceMs).unref();
    return true;
  }

  /** The session holding `from` in `room` is called `to` now: it renamed itself, maybe on another process. */
  renamed(room: string, from: string, to: string): void {
    for (const session of this.#byToken.values()) if (session.room === room && session.name === from) session.name = to;
  }

  /** The token of the session holding `name` in `room` here (by nameKey), connected or in its grace period. */
  tokenNamed(room: string, name: string): string | undefined {
    const key = nameKey(name);
    for (const session of this.#byToken.values()) if (session.room === room && nameKey(session.name) === key) return session.token;
    return undefined;
  }

  /** Renews every session one last time and forgets them all (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#renewer);
    for (const session of this.#byToken.values()) clearTimeout(session.expiry);
    await this.#renewAll();
    this.#byToken.clear();
  }
}
