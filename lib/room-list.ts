// `GET /rooms`: the list of rooms in pages (`?limit`, `?after`), answered from one reading of the
// engine's list for a short while, so that a flood of requests costs one reading, not one each.

export interface RoomCount {
  room: string;
  peers: number;
}

/** One page: the rooms after the cursor, in name order, and the cursor of the next page (null on the last). */
export interface RoomPage {
  rooms: RoomCount[];
  next: string | null;
}

/**
 * Reads `?limit` (1 to `max`, default `max`) and `?after` (a room name: the page starts after it)
 * from a query string; returns the page of `sorted` (in name order), or what is wrong with the query.
 */
export function pageOfRooms(sorted: readonly RoomCount[], query: string, max: number): { ok: true; page: RoomPage } | { ok: false; error: string } {
  const params = new URLSearchParams(query);
  const rawLimit = params.get('limit');
  const limit = rawLimit === null ? max : Number(rawLimit);
  if (!/^\d+$/.test(rawLimit ?? '1') || limit < 1 || limit > max) return { ok: false, error: `limit is a whole number from 1 to ${max}` };
  const after = params.get('after') ?? '';
  // The first room whose name sorts after the cursor, by bisection: the list may be long.
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]!.room <= after) low = middle + 1;
    else high = middle;
  }
  const rooms = sorted.slice(low, low + limit);
  const next = low + limit < sorted.length ? rooms[rooms.length - 1]!.room : null;
  return { ok: true, page: { rooms, next } };
}

/** The engine's room list, read at most once per `maxAgeMs` and kept sorted by name (code units, as the cursor compares). */
export class RoomListCache {
  readonly #read: () => Promise<RoomCount[]>;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #cached: { at: number; list: Promise<RoomCount[]> } | undefined;

  constructor(read: () => Promise<RoomCount[]>, maxAgeMs: number, now: () => number) {
    this.#read = read;
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  /** The list as of at most `maxAgeMs` ago; a reading that failed is not kept. */
  list(): Promise<RoomCount[]> {
    const now = this.#now();
    if (this.#cached && now - this.#cached.at <= this.#maxAgeMs) return this.#cached.list;
    const list = this.#read().then((rooms) => [...rooms].sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0)));
    const cached = { at: now, list };
    this.#cached = cached;
    list.catch(() => {
      if (this.#cached === cached) this.#cached = undefined;
    });
    return list;
  }
}
