// Coalescing writes: every frame a socket is owed within one turn of the event loop leaves in one
// write (one system call) instead of one write per frame.

import type { Writable } from 'node:stream';

/** Corks sockets on their first write of a turn and uncorks them all once, after the turn's I/O. */
export class WriteBatch {
  readonly #corked = new Set<Writable>();
  #isScheduled = false;

  /** Holds `stream`'s writes until the end of this event-loop turn. */
  hold(stream: Writable): void {
    if (this.#corked.has(stream)) return;
    stream.cork();
    this.#corked.add(stream);
    if (!this.#isScheduled) {
      this.#isScheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#isScheduled = false;
    for (const stream of this.#corked) stream.uncork();
    this.#corked.clear();
  };
}
