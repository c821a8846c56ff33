// Who may use how much: budgets per client address (sockets open, requests, events, new rooms,
// replays per time) beside the totals, so that no address, however many connections it opens or
// reopens, gets more than its share. Pure apart from the injected clock; the server asks it.

import { isIPv4, isIPv6 } from 'node:net';
import type { Config } from './config.ts';
import { REFUSE, type Refusal } from './errors.ts';
import { TokenBucket } from './rate-limit.ts';

/**
 * The address a budget is kept for: an IPv4 address as it is (an IPv4-mapped IPv6 one as IPv4),
 * an IPv6 address by its /64 prefix (one customer's network gets a whole /64, so each of its
 * addresses is not a new budget).
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * The client's address of a request: the socket's, or behind a proxy that is trusted
 * (`--trust-proxy`), the last address of `X-Forwarded-For`, the one that proxy appended.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  if (trustProxy && forwardedFor !== undefined) {
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    const last = hops[hops.length - 1]?.trim() ?? '';
    if (isIPv4(last) || isIPv6(last)) return last;
  }
  return socketAddress ?? 'unknown';
}

export interface AdmissionLimits {
  /** Sockets open in all, counted from accept. */
  maxConnections: number;
  /** Sockets open from one address, counted from accept (behind a trusted proxy: WebSockets, from upgrade). */
  maxConnectionsPerIp: number;
  /** HTTP requests and upgrades per second from one address, after a burst of `requestBurst`. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Events per second over all of one address's connections, after a burst of `eventBurst`. */
  eventsPerSecond: number;
  eventBurst: number;
  /** Rooms one address may bring into being per minute. */
  roomsPerMinute: number;
  /** Resumes (replays of missed messages) one address may ask for per minute. */
  replaysPerMinute: number;
  /** Wrong passwords or tokens one address may try per minute. */
  guessesPerMinute: number;
  /** Wrong API keys one address may send per minute (see lib/api.ts). */
  apiKeyFailuresPerMinute: number;
  /** Addresses whose budgets are remembered; past it the longest idle one without sockets is forgotten. */
  maxAddresses: number;
  /** Bytes of events waiting for the rate limit (see Connection) over one address's connections, and over all. */
  pasteQueueBytesPerIp: number;
  maxPasteQueueBytes: number;
}

/** The limits as configured. */
export function admissionLimits(config: Config): AdmissionLimits {
  return {
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    requestsPerSecond: config.requestsPerSecondPerIp,
    requestBurst: config.requestBurstPerIp,
    eventsPerSecond: config.eventsPerSecondPerIp,
    eventBurst: config.eventBurstPerIp,
    roomsPerMinute: config.roomsPerMinutePerIp,
    replaysPerMinute: config.replaysPerMinutePerIp,
    guessesPerMinute: config.authFailuresPerMinutePerIp,
    apiKeyFailuresPerMinute: config.apiKeyFailuresPerMinutePerIp,
    // Addresses with a socket open are never forgotten, so there is room for all of them.
    maxAddresses: Math.max(config.maxAddresses, config.maxConnections + 1),
    pasteQueueBytesPerIp: config.pasteQueueBytesPerIp,
    maxPasteQueueBytes: config.maxPasteQueueBytes,
  };
}

/** What an upgrade is, for its costs. */
export interface UpgradeCost {
  /** Into a room nobody here is in. */
  isNewRoom: boolean;
  /** No more rooms may be held (--max-rooms). */
  isRoomsFull: boolean;
  /** A resume, which replays. */
  isResume: boolean;
}

/** A refusal of an upgrade, with the seconds to wait when a budget says when. */
export interface UpgradeRefusal {
  refusal: Refusal;
  retryAfter?: number;
}

/** What one address has used; each bucket is made when first needed, so an idle address costs little. */
interface Account {
  sockets: number;
  /** Bytes of this address's events waiting for the rate limit. */
  waiting: number;
  requests?: TokenBucket;
  events?: TokenBucket;
  rooms?: TokenBucket;
  replays?: TokenBucket;
  guesses?: TokenBucket;
  apiKeys?: TokenBucket;
}

type Budget = 'requests' | 'events' | 'rooms' | 'replays' | 'guesses' | 'apiKeys';

/** The limit of each budget counted per minute. */
const PER_MINUTE = { rooms: 'roomsPerMinute', replays: 'replaysPerMinute', guesses: 'guessesPerMinute', apiKeys: 'apiKeyFailuresPerMinute' } as const;

/** Counts sockets and spends budgets per address; each `take*` returns 0, or the ms to wait. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #now: () => number;
  /** In order of last use, so the first ones are the longest idle. */
  readonly #accounts = new Map<string, Account>();
  #total = 0;
  #waiting = 0;

  constructor(limits: AdmissionLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Sockets open in all. */
  get total(): number {
    return this.#total;
  }

  /** Addresses remembered now. */
  get addresses(): number {
    return this.#accounts.size;
  }

  /** Counts a socket in the total and returns true, or returns false when the total is reached. */
  openSocket(): boolean {
    if (this.#total >= this.#limits.maxConnections) return false;
    this.#total++;
    return true;
  }

  closeSocket(): void {
    this.#total--;
  }

  /** Counts a socket of `key` and returns true, or returns false when its cap is reached. */
  openFrom(key: string): boolean {
    const account = this.#account(key);
    if (account.sockets >= this.#limits.maxConnectionsPerIp) return false;
    account.sockets++;
    return true;
  }

  closeFrom(key: string): void {
    const account = this.#accounts.get(key);
    if (account && account.sockets > 0) account.sockets--;
  }

  /** Sockets open from `key`. */
  socketsFrom(key: string): number {
    return this.#accounts.get(key)?.sockets ?? 0;
  }

  /**
   * Spends what an upgrade costs `key`, in order (a request; a room nobody is in; a resume), and
   * returns the refusal when one is over, having spent nothing after it.
   */
  admitUpgrade(key: string, { isNewRoom, isRoomsFull, isResume }: UpgradeCost): UpgradeRefusal | undefined {
    const over = (refusal: Refusal, wait: number) => (wait > 0 ? { refusal, retryAfter: Math.ceil(wait / 1000) } : undefined);
    const request = over(REFUSE.requests, this.takeRequest(key));
    if (request) return request;
    if (isNewRoom) {
      if (isRoomsFull) return { refusal: REFUSE.roomsFull };
      const room = over(REFUSE.newRooms, this.takeRoom(key));
      if (room) return room;
    }
    return isResume ? over(REFUSE.replays, this.takeReplay(key)) : undefined;
  }

  /** Counts `bytes` of `key`'s events as waiting and returns true, or returns false when its bound or the total's is reached. */
  holdWaiting(key: string, bytes: number): boolean {
    const account = this.#account(key);
    if (account.waiting + bytes > this.#limits.pasteQueueBytesPerIp || this.#waiting + bytes > this.#limits.maxPasteQueueBytes) return false;
    account.waiting += bytes;
    this.#waiting += bytes;
    return true;
  }

  releaseWaiting(key: string, bytes: number): void {
    const account = this.#accounts.get(key);
    if (account) account.waiting -= bytes;
    this.#waiting -= bytes;
  }

  takeRequest(key: string): number {
    return this.#take(key, 'requests');
  }

  takeEvent(key: string): number {
    return this.#take(key, 'events');
  }

  /** Ms until `key` may send an event again (0: now), spending none. */
  eventWait(key: string): number {
    return this.#wait(key, 'events');
  }

  takeRoom(key: string): number {
    return this.#take(key, 'rooms');
  }

  takeReplay(key: string): number {
    return this.#take(key, 'replays');
  }

  /** Spends one of the address's wrong sign-ins. */
  takeGuess(key: string): number {
    return this.#take(key, 'guesses');
  }

  /** Ms until `key` may try a sign-in again (0: now), spending none: a right password is refused too while it waits. */
  guessWait(key: string): number {
    return this.#wait(key, 'guesses');
  }

  /** Ms until `key` may try an API key again (0: now), spending none. */
  apiKeyWait(key: string): number {
    return this.#wait(key, 'apiKeys');
  }

  /** `key` sent a wrong API key: one of its tries is spent. */
  takeApiKeyFailure(key: string): void {
    this.#take(key, 'apiKeys');
  }

  /** Ms until `key` has one of `budget` (0: now), spending none; an address not seen yet has all of them. */
  #wait(key: string, budget: Budget): number {
    return this.#accounts.get(key)?.[budget]?.wait() ?? 0;
  }

  #take(key: string, budget: Budget): number {
    const account = this.#account(key);
    const bucket = (account[budget] ??= this.#bucket(budget));
    return bucket.take();
  }

  #bucket(budget: Budget): TokenBucket {
    const limits = this.#limits;
    if (budget === 'requests') return new TokenBucket(limits.requestBurst, limits.requestsPerSecond, this.#now);
    if (budget === 'events') return new TokenBucket(limits.eventBurst, limits.eventsPerSecond, this.#now);
    const perMinute = limits[PER_MINUTE[budget]];
    return new TokenBucket(perMinute, perMinute / 60, this.#now);
  }

  /** The account of `key`, made if new and moved to the end (most recent); the table stays bounded. */
  #account(key: string): Account {
    let account = this.#accounts.get(key);
    if (account) this.#accounts.delete(key);
    else account = { sockets: 0, waiting: 0 };
    this.#accounts.set(key, account);
    if (this.#accounts.size > this.#limits.maxAddresses) this.#forgetIdle();
    return account;
  }

  /** Forgets the longest idle addresses that hold no socket, down to the bound (those with sockets number at most maxConnections). */
  #forgetIdle(): void {
    for (const [key, account] of this.#accounts) {
      if (this.#accounts.size <= this.#limits.maxAddresses) return;
      if (account.sockets === 0 && account.waiting === 0) this.#accounts.delete(key);
    }
  }
}
