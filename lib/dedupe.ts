// Message ids remembered for a window, so that a retry is answered with what the first send got
// instead of being sent twice. Pure apart from the time it is handed.

/** Entries by key, oldest first; those older than the window are dropped as new ones arrive. */
export class DedupeWindow<T> {
  readonly #windowMs: number;
  readonly #entries = new Map<string, { value: T; at: number }>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** What `key` got, if it was seen within the window before `now`. */
  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    return entry && now - entry.at <= this.#windowMs ? entry.value : undefined;
  }

  set(key: string, value: T, now: number): void {
    for (const [old, entry] of this.#entries) {
      if (now - entry.at <= this.#windowMs) break;
      this.#entries.delete(old);
    }
    this.#entries.set(key, { value, at: now });
  }

  get size(): number {
    return this.#entries.size;
  }
}
