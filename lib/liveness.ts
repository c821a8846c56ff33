// Which other processes are dead, judged only from what this process saw while it could reach
// Redis: each process counts its heartbeats in Redis, and one whose count stood still for a whole
// TTL of this process's own connected time is dead. Nothing depends on keys expiring, so a Redis
// outage (or a Redis restarted from its files, where every expiry has passed) never makes a live
// process look dead: after any break in this process's connection, every process gets a full TTL again.

/** The heartbeat counts this process has seen, and since when each stood still. */
export class Liveness {
  readonly #ttlMs: number;
  readonly #seen = new Map<string, { count: string; since: number }>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /**
   * Takes every process's count as read at `now` (ms, monotonic) and returns the processes (with
   * their count) that are dead: their count has not moved for longer than the TTL.
   */
  observe(counts: Map<string, string>, now: number): Array<{ id: string; count: string }> {
    const dead: Array<{ id: string; count: string }> = [];
    for (const id of this.#seen.keys()) if (!counts.has(id)) this.#seen.delete(id);
    for (const [id, count] of counts) {
      const seen = this.#seen.get(id);
      if (!seen || seen.count !== count) this.#seen.set(id, { count, since: now });
      else if (now - seen.since > this.#ttlMs) {
        dead.push({ id, count });
        // Swept, it registers again at count 0 (which it may have died at) and gets a whole TTL.
        this.#seen.delete(id);
      }
    }
    return dead;
  }

  /** This process lost its connection: what it saw before proves nothing about the time after. */
  reset(): void {
    this.#seen.clear();
  }
}
