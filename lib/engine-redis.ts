// The engine over Redis, so that several plainchat processes act as one chat: names, presence,
// sessions, numbering and history live in Redis (see redis-scripts.ts for the keys), and every room
// event is published on a channel that every process subscribes to. Each process keeps, for the
// rooms it holds names in, the room's stream made whole (room-feed.ts): the listener hears each
// change once, in order, with nothing lost while the subscriber connection was away.
//
// Outages: a lost connection is retried with backoff; after every reconnect the process resyncs
// (resync below) before it publishes or acknowledges anything. A Redis that comes back without its
// data (its epoch is gone) gets a new epoch, and the process puts its sessions back.

import { createHash, randomBytes } from 'node:crypto';
import type { DirectOutcome, Engine, RoomListener, RulesListener } from './engine.ts';
import { planPage, planReplay } from './history.ts';
import { Liveness } from './liveness.ts';
import { generateName, nameKey } from './names.ts';
import type { ChatMessage, Topic } from './protocol.ts';
import { AWAY, BEAT, DELETE, DIRECT, JOIN, LEAVE, MARK, NEWEST, PUBLISH, RANGE, RENAME, RENEW, SWEEP } from './redis-scripts.ts';
import { RoomFeed, type Snapshot, type Wire } from './room-feed.ts';
import { isInForce, type Rule, type RuleChange, ruleId } from './rules.ts';
import type { DirectMessage } from './store.ts';

export interface RedisEngineOptions {
  url: string;
  listener: RoomListener;
  /** Told every change to the moderation rules (from any process), and all of them afresh at start and after each resync. */
  onRules: RulesListener;
  historySize: number;
  /** Most messages a resume replays; a client further behind is told `too-old`. */
  maxReplay: number;
  roomTtlMs: number;
  /** How long a message id is remembered against retries, in ms. */
  dedupeWindowMs: number;
  /** How long a session owns its name (and keeps direct messages) after its last renewal, in ms. */
  sessionTtlMs: number;
  /** Most direct messages kept for one session while it is away. */
  maxKeptDirect: number;
  /** Namespace for every key and channel, so that several chats can share one Redis. */
  prefix?: string;
  /**
   * How long a process's heartbeat may stand still, as seen by another process while both reach
   * Redis, before that one takes the silent one's peers out of their rooms. Beats are three times as often.
   */
  nodeTtlMs: number;
  random?: () => number;
}

/** Sessions are kept by a hash of their token, so that what Redis holds cannot be used to take one over. */
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url').slice(0, 22);

/** Parses a script's snapshot answer: {'ok', seq, names...}. */
const toSnapshot = (answer: string[]): Snapshot => ({ seq: Number(answer[1]), names: answer.slice(2) });

/**
 * Connects to Redis and returns an engine over it. The `redis` package is an optional dependency,
 * loaded only here; without it, this says what to install.
 */
export async function createRedisEngine(options: RedisEngineOptions): Promise<Engine> {
  const { url, listener, onRules, historySize, maxReplay, roomTtlMs, dedupeWindowMs, sessionTtlMs, maxKeptDirect, nodeTtlMs, prefix = 'plainchat:', random = Math.random } = options;
  let redis: typeof import('redis');
  try {
    redis = await import('redis');
  } catch {
    throw new Error('--redis-url needs the Redis client: run `npm install redis` next to plainchat');
  }
  // At start an unreachable Redis is an error the operator sees at once; once connected, a lost
  // connection is retried with backoff, at most a third of the node TTL apart, so that a process is
  // back (and beating) well within the TTL of Redis's return.
  const beatEveryMs = Math.max(100, Math.floor(nodeTtlMs / 3));
  let hasConnected = false;
  const reconnectStrategy = (retries: number, cause: Error): number | Error =>
    hasConnected ? Math.min(50 * 2 ** retries, 5000, beatEveryMs) : retries >= 2 ? new Error(`cannot reach Redis at ${url}: ${cause.message}`) : 200;
  // Without the offline queue a command fails at once while Redis is away, so a sender is told
  // (`unavailable`) instead of waiting on a message that may never go out.
  const client = redis.createClient({ url, socket: { reconnectStrategy }, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  const subscriber = client.duplicate();
  subscriber.on('error', () => {});
  await subscriber.connect();
  hasConnected = true;

  const key = (room: string, part: string) => `${prefix}room:${room}:${part}`;
  // The rules (rules.ts) live in one hash, by id; each change is published on a channel of their own.
  const rulesKey = `${prefix}rules`;
  /** Changes heard while the rules are being read afresh, applied after them (setting a rule twice is harmless). */
  let heardWhileLoading: RuleChange[][] | undefined;
  const loadRules = async (): Promise<void> => {
    heardWhileLoading = [];
    try {
      const kept = Object.entries(await client.hGetAll(rulesKey)).map(([id, text]) => ({ id, rule: JSON.parse(text) as Rule }));
      const expired = kept.filter(({ rule }) => !isInForce(rule, Date.now()));
      if (expired.length > 0) await client.hDel(rulesKey, expired.map(({ id }) => id));
      onRules([{ reset: kept.filter(({ rule }) => isInForce(rule, Date.now())).map(({ rule }) => rule) }]);
      for (const changes of heardWhileLoading) onRules(changes);
    } finally {
      heardWhileLoading = undefined;
    }
  };
  await subscriber.subscribe(rulesKey, (message) => {
    const changes = JSON.parse(message) as RuleChange[];
    heardWhileLoading?.push(changes);
    onRules(changes);
  });
  await loadRules();
  const channelPrefix = `${prefix}events:`;
  // Scripts go by their SHA-1 (a few bytes a call instead of the whole script), and in full once
  // Redis does not know one (after it restarted).
  const shas = new Map<string, string>();
  const run = async (script: string, args: Array<string | number>) => {
    const options = { keys: [], arguments: [prefix, ...args.map(String)] };
    let sha = shas.get(script);
    if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    try {
      return await client.evalSha(sha, options);
    } catch (err) {
      if (!String(err).includes('NOSCRIPT')) throw err;
      return client.eval(script, options);
    }
  };

  // The epoch names this Redis's history: it outlives every process, so a resume works on any node.
  const newEpoch = async (): Promise<string> => {
    await client.set(`${prefix}epoch`, randomBytes(8).toString('hex'), { condition: 'NX' });
    return (await client.get(`${prefix}epoch`))!;
  };
  let epoch = await newEpoch();
  const nodeId = randomBytes(8).toString('hex');
  const nodeSet = `${prefix}node:${nodeId}:peers`;
  await client.hSet(`${prefix}nodes`, nodeId, 0);

  /** The kept messages numbered `from` to `to`, in order. */
  const range = async (room: string, from: number, to: number): Promise<ChatMessage[]> => {
    if (from > to) return [];
    const kept = (await run(RANGE, [room, from, to])) as string[];
    return kept.map((json) => JSON.parse(json) as ChatMessage);
  };
  /**
   * The room's newest seq, its oldest kept one (newest + 1 when none is kept) and its `count`
   * newest messages, oldest first, read at one instant: a message published after it has a higher seq.
   */
  const span = async (room: string, count = 0): Promise<{ newest: number; oldest: number; latest: ChatMessage[] }> => {
    const [seq, oldest, ...newestFirst] = (await run(NEWEST, [room, count])) as string[];
    const latest = newestFirst.map((json) => JSON.parse(json) as ChatMessage).reverse();
    return { newest: Number(seq), oldest: Number(oldest), latest };
  };

  // The rooms this process holds names in (or is joining), each with its stream made whole.
  const feeds = new Map<string, RoomFeed>();
  const feedOf = (room: string): RoomFeed => {
    let feed = feeds.get(room);
    if (!feed) {
      feed = new RoomFeed({
        deliver: (event) => listener(room, event),
        read: (from, to) => range(room, from, to),
        epoch: () => epoch,
        onForeignEpoch: () => void resync(),
        retryMs: beatEveryMs,
      });
      feeds.set(room, feed);
    }
    return feed;
  };
  const dropIfIdle = (room: string, feed: RoomFeed) => {
    if (!feed.isIdle || feeds.get(room) !== feed) return;
    feed.close();
    feeds.delete(room);
  };
  let tags = 0;
  const newTag = () => `${nodeId}:${++tags}`;

  await subscriber.pSubscribe(`${channelPrefix}*`, (message, from) => {
    const room = from.slice(channelPrefix.length);
    const wire = JSON.parse(message) as Wire;
    const feed = feeds.get(room);
    if (feed) feed.receive(wire);
    // A room nobody here holds has no listener worth keeping order for; its events pass as heard.
    else if (wire.type !== 'sync') {
      delete wire.sync;
      listener(room, wire);
    }
  });

  /**
   * Enters `name` for session `token` in `room` and settles at the join's mark, with the room's
   * presence there; 'taken' or 'epoch' when the script refused.
   */
  const claim = async (room: string, token: string, name: string, isOwned: boolean, onEnter: (names: string[]) => void): Promise<'ok' | 'taken' | 'epoch'> => {
    const feed = feedOf(room);
    const tag = newTag();
    const folded = nameKey(name);
    feed.joining++;
    try {
      let settle!: () => void;
      const settled = new Promise<void>((resolve) => (settle = resolve));
      feed.expect(tag, (names) => {
        onEnter(names);
        settle();
      });
      const wantsSnapshot = feed.names === undefined;
      let answer: unknown;
      try {
        answer = await run(JOIN, [epoch, room, folded, name, nodeId, hashToken(token), sessionTtlMs, tag, wantsSnapshot ? '1' : '', isOwned ? '1' : '']);
      } catch (err) {
        feed.cancel(tag);
        throw err;
      }
      if (answer === 'taken' || answer === 'epoch') {
        feed.cancel(tag);
        return answer;
      }
      feed.holds.set(folded, { name, token });
      feed.answered(tag, wantsSnapshot ? toSnapshot(answer as string[]) : undefined);
      await settled;
      return 'ok';
    } finally {
      feed.joining--;
      dropIfIdle(room, feed);
    }
  };

  /** Takes `name` out of this process's holdings in `room`, renewing the session's claim when `token` is given. */
  const release = (room: string, name: string, token?: string) =>
    run(LEAVE, [roomTtlMs, room, nameKey(name), name, nodeId, token === undefined ? '' : hashToken(token), sessionTtlMs]);

  // Liveness and recovery.
  const liveness = new Liveness(nodeTtlMs);
  let resyncing: Promise<void> | undefined;
  let needsResync = false;
  let isClosed = false;

  /**
   * Puts this process back in step with Redis after a break: the epoch (a new one if Redis lost
   * its data, and every feed's numbering restarts), this process registered, every name it holds
   * claimed again (a name someone else took meanwhile is given up for a fresh one, and the listener
   * told of the rename), every name Redis says it holds but it does not released, and every feed
   * replaced by a snapshot taken at a mark (who came and went, and the messages it missed).
   */
  const resync = (): Promise<void> => {
    needsResync = true;
    resyncing ??= (async () => {
      while (needsResync && !isClosed) {
        needsResync = false;
        try {
          await resyncOnce();
        } catch {
          needsResync = true;
          await new Promise((resolve) => setTimeout(resolve, beatEveryMs).unref());
        }
      }
      resyncing = undefined;
    })();
    return resyncing;
  };

  const resyncOnce = async (): Promise<void> => {
    liveness.reset();
    // Changes published while the subscriber was away were missed (and Redis may have come back empty).
    await loadRules();
    const current = await newEpoch();
    if (current !== epoch) {
      epoch = current;
      for (const feed of feeds.values()) feed.restart(epoch);
    }
    // Registered again, its count moving on (set back to 0, a resync every moment would look like a count standing still).
    await client.hIncrBy(`${prefix}nodes`, nodeId, 1);
    const wanted = new Set<string>();
    for (const [room, feed] of feeds) {
      for (const [folded, { name, token }] of [...feed.holds]) {
        wanted.add(`${room}\n${folded}\n${name}`);
        const answer = await run(JOIN, [epoch, room, folded, name, nodeId, hashToken(token), sessionTtlMs, '', '', '1']);
        if (answer !== 'taken') continue;
        // Only after Redis lost its data: another session took this name before this process was back.
        feed.holds.delete(folded);
        const fresh = await pickAndClaim(room, token, feed);
        listener(room, { type: 'peer-renamed', data: { from: name, to: fresh } });
      }
    }
    for (const held of await client.sMembers(nodeSet)) {
      if (wanted.has(held)) continue;
      const [room, , name] = held.split('\n') as [string, string, string];
      if (!feeds.get(room)?.holds.has(nameKey(name))) await release(room, name);
    }
    // Each feed replaced at a mark: the subscriber is listening again once the mark comes back
    // (if it does not within the node TTL, the subscription is not back yet, and the resync is tried again).
    await Promise.all(
      [...feeds].map(async ([room, feed]) => {
        const tag = newTag();
        let timer: NodeJS.Timeout | undefined;
        const settled = new Promise<void>((resolve, reject) => {
          feed.expect(tag, () => resolve(), true);
          timer = setTimeout(() => reject(new Error('the subscriber did not hear its mark')), nodeTtlMs).unref();
        });
        try {
          feed.answered(tag, toSnapshot((await run(MARK, [room, tag])) as string[]));
          await settled;
        } finally {
          clearTimeout(timer);
          feed.cancel(tag);
        }
      }),
    );
  };

  /**
   * Before a room's feed knows who is online (its first join here), the names online as read once,
   * after a first refusal: a crowded room would otherwise cost a round trip per name tried.
   */
  const guesses = new WeakMap<RoomFeed, Promise<Map<string, string>>>();
  const guess = (room: string, feed: RoomFeed) => {
    let names = guesses.get(feed);
    if (!names) guesses.set(feed, (names = client.hVals(key(room, 'names')).then((online) => new Map(online.map((name) => [nameKey(name), name])))));
    return names;
  };

  /**
   * Per room, the names this process's joins were refused (owned by a session away, mostly, which
   * the feed cannot know): shared, so that a room with a thousand such names costs a thousand
   * refusals in all, not a thousand for every newcomer.
   */
  const refusals = new WeakMap<RoomFeed, Set<string>>();

  /** Claims a fresh name for `token`; returns it. */
  const pickAndClaim = async (room: string, token: string, feed: RoomFeed, onEnter: (name: string, names: string[]) => void = () => {}): Promise<string> => {
    let refused = refusals.get(feed);
    if (!refused) refusals.set(feed, (refused = new Set()));
    for (;;) {
      const names = feed.names ?? (refused.size > 0 ? await guess(room, feed) : new Map<string, string>());
      const isTaken = (candidate: string) => {
        const folded = nameKey(candidate);
        return names.has(folded) || refused.has(folded);
      };
      const name = generateName(isTaken, random, names.size + refused.size);
      const outcome = await claim(room, token, name, false, (names) => onEnter(name, names));
      if (outcome === 'ok') return name;
      // A resync that finds the epoch changed again starts over, rather than wait for itself.
      if (outcome === 'epoch' && resyncing) throw new Error('Redis holds another history now');
      if (outcome === 'epoch') await resync();
      // Someone else's, here or owned while away: pick again.
      refused.add(nameKey(name));
    }
  };

  const sweep = async (counts: Map<string, string>) => {
    for (const { id, count } of liveness.observe(counts, performance.now())) {
      if (id !== nodeId) await run(SWEEP, [roomTtlMs, id, count]);
    }
  };
  // A process beats while it resyncs too: a resync can wait a whole TTL for its subscriber, and
  // the process is alive all the while (its people still connected to it).
  const beat = async () => {
    if (!client.isReady) return;
    try {
      const answer = (await run(BEAT, [epoch, nodeId])) as string[];
      if (answer[0] !== 'ok') {
        await resync();
        return;
      }
      if (resyncing) return;
      const counts = new Map<string, string>();
      for (let i = 1; i < answer.length; i += 2) counts.set(answer[i]!, answer[i + 1]!);
      await sweep(counts);
    } catch {
      liveness.reset();
    }
  };
  const beater = setInterval(() => void beat(), beatEveryMs).unref();
  // Every reconnect of either connection resyncs (the subscriber's own subscriptions come back with it).
  for (const connection of [client, subscriber]) connection.on('ready', () => void resync());

  /** Resolves once this process's listener has had `message` (the sender's own copy goes out before its ack). */
  const heardHere = async (room: string, message: ChatMessage): Promise<void> => {
    const feed = feeds.get(room);
    if (!feed) return;
    const timer = setInterval(() => feed.catchUp(message.seq), beatEveryMs).unref();
    try {
      await feed.delivered(message.seq);
    } finally {
      clearInterval(timer);
    }
  };
  /** A script found another epoch in Redis (it lost its data): nothing is done until the resync. */
  const refuseForeignEpoch = (answer: unknown): void => {
    if (answer !== 'epoch') return;
    void resync();
    throw new Error('Redis holds another history now; resyncing');
  };
  const isHealthy = () => client.isReady && subscriber.isReady && resyncing === undefined;

  return {
    // Rooms live in Redis; what this process holds is a feed per room it has peers in.
    heldRooms: feeds,
    async join(room, { token, name, onEnter }) {
      if (!isHealthy()) throw new Error('Redis is not reachable just now');
      const feed = feedOf(room);
      let entered: string[] = [];
      const enter = (claimed: string) => (names: string[]) => {
        entered = names;
        onEnter?.({ name: claimed, peers: names });
      };
      if (name !== undefined) {
        let outcome = await claim(room, token, name, true, enter(name));
        if (outcome === 'epoch') {
          await resync();
          outcome = await claim(room, token, name, true, enter(name));
        }
        if (outcome !== 'ok') return undefined;
        return { name, peers: entered };
      }
      feed.joining++;
      try {
        const picked = await pickAndClaim(room, token, feed, (claimed, names) => enter(claimed)(names));
        return { name: picked, peers: entered };
      } finally {
        feed.joining--;
      }
    },
    async leave(room, name, token) {
      const feed = feeds.get(room);
      feed?.holds.delete(nameKey(name));
      if (feed) dropIfIdle(room, feed);
      // Failed while Redis is away: the resync after it comes back releases what is not held.
      await release(room, name, token).catch(() => void resync());
    },
    async registerSession(token, room, name) {
      await run(RENEW, [room, nameKey(name), name, hashToken(token), sessionTtlMs]);
    },
    async findSession(token, room) {
      const kept = await client.get(`${prefix}session:${hashToken(token)}`);
      const at = kept?.indexOf('\n') ?? -1;
      return kept && kept.slice(0, at) === room ? kept.slice(at + 1) : undefined;
    },
    async rooms() {
      const counts = new Map<string, number>();
      const roomPrefix = key('', '').slice(0, -1);
      for await (const keys of client.scanIterator({ MATCH: `${roomPrefix}*`, COUNT: 1000 })) {
        for (const found of keys) {
          const match = /^([^:]+):(names|seq)$/.exec(found.slice(roomPrefix.length));
          if (!match) continue;
          const room = match[1]!;
          if (match[2] === 'names') counts.set(room, await client.hLen(found));
          else if (!counts.has(room)) counts.set(room, 0);
        }
      }
      return [...counts].map(([room, peers]) => ({ room, peers })).sort((a, b) => a.room.localeCompare(b.room));
    },
    async peers(room) {
      return client.hVals(key(room, 'names'));
    },
    async signal(room, event) {
      await client.publish(`${channelPrefix}${room}`, JSON.stringify(event));
    },
    // Set while the room has peers (its keys are persistent then); it expires with the room's history once the room empties.
    async setTopic(room, topic) {
      await client.set(key(room, 'topic'), JSON.stringify(topic));
      // Left by everyone meanwhile: it goes with the room's history.
      if ((await client.hLen(key(room, 'names'))) === 0) await client.pExpire(key(room, 'topic'), roomTtlMs);
      await client.publish(`${channelPrefix}${room}`, JSON.stringify({ type: 'topic', data: topic }));
    },
    async topic(room) {
      const kept = await client.get(key(room, 'topic'));
      return kept === null ? undefined : (JSON.parse(kept) as Topic);
    },
    // Reaches the recipient's connections on any node; a session with none now (away, or in its
    // grace period) has it kept (for the session TTL) until it next connects.
    async direct(room, { from, to, message, ts }) {
      return (await run(DIRECT, [room, nameKey(to), from, message, ts, sessionTtlMs, maxKeptDirect])) as DirectOutcome;
    },
    async away(room, name) {
      await run(AWAY, [room, nameKey(name), nodeId]);
    },
    async missed(token, room) {
      const kept = await client.lRange(`${prefix}mail:${hashToken(token)}:${room}`, 0, -1);
      return kept.map((json) => JSON.parse(json) as DirectMessage);
    },
    async dropMissed(token, room, count) {
      await client.lTrim(`${prefix}mail:${hashToken(token)}:${room}`, count, -1);
    },
    async rename(room, from, to, token) {
      const fromKey = nameKey(from);
      const toKey = nameKey(to);
      const answer = await run(RENAME, [epoch, room, fromKey, from, toKey, to, hashToken(token), sessionTtlMs]);
      refuseForeignEpoch(answer);
      if (answer !== 1) return false;
      const feed = feeds.get(room);
      const held = feed?.holds.get(fromKey);
      if (feed && held) {
        feed.holds.delete(fromKey);
        feed.holds.set(toKey, { ...held, name: to });
      }
      return true;
    },
    async publish(room, message, origin) {
      // Not while resyncing: a message published before the subscriber listens again is heard by the resync, not lost, but its ack would come first.
      if (!isHealthy()) throw new Error('Redis is not reachable just now');
      const dedupe = origin.id === undefined ? '' : `${hashToken(origin.token)} ${origin.id}`;
      // The JSON up to `"seq":`; the script appends the number it draws.
      const head = `${JSON.stringify({ ...message, epoch }).slice(0, -1)},"seq":`;
      const answer = await run(PUBLISH, [epoch, room, head, historySize, dedupe, dedupeWindowMs]);
      refuseForeignEpoch(answer);
      const published = JSON.parse(answer as string) as ChatMessage;
      await heardHere(room, published);
      return published;
    },
    async replay(room, since, recent, limit) {
      // The newest `recent` are read with the span: a join, or a resume from nearby, needs no second round trip.
      const { newest, oldest, latest } = await span(room, recent);
      const { replay, from, to } = planReplay(epoch, newest, oldest, since, recent, maxReplay, limit);
      const isRead = from > to || (latest.length > 0 && latest[0]!.seq <= from);
      const messages = isRead ? latest.filter((message) => message.seq >= from && message.seq <= to) : await range(room, from, to);
      return { ...replay, messages };
    },
    async history(room, before, limit) {
      const { newest, oldest } = await span(room);
      const { from, to, more } = planPage(newest, oldest, before, limit);
      return { messages: await range(room, from, to), more };
    },
    async deleteMessage(room, seq, by) {
      const answer = await run(DELETE, [epoch, room, seq, by]);
      refuseForeignEpoch(answer);
      const [outcome, json] = answer as string[];
      return outcome === 'unknown' ? undefined : (JSON.parse(json!) as ChatMessage);
    },
    // Published as other room events are: every process closes its own connections of the name.
    async changeRules(changes) {
      const multi = client.multi();
      for (const change of changes) {
        if ('lift' in change) multi.hDel(rulesKey, change.lift);
        else multi.hSet(rulesKey, ruleId(change.set), JSON.stringify(change.set));
      }
      multi.publish(rulesKey, JSON.stringify(changes));
      await multi.exec();
    },
    async secret() {
      await client.set(`${prefix}secret`, randomBytes(32).toString('base64url'), { condition: 'NX' });
      return (await client.get(`${prefix}secret`))!;
    },
    async kick(room, kick) {
      const name = await client.hGet(key(room, 'names'), nameKey(kick.name));
      if (name === null || name === undefined) return undefined;
      await client.publish(`${channelPrefix}${room}`, JSON.stringify({ type: 'peer-kicked', data: { ...kick, name } }));
      return name;
    },
    async isNameTaken(room, name) {
      const folded = nameKey(name);
      const [online, owned] = await Promise.all([client.hExists(key(room, 'names'), folded), client.exists(`${prefix}owner:${room}:${folded}`)]);
      return Boolean(online) || owned > 0;
    },
    isHealthy,
    async close(): Promise<void> {
      isClosed = true;
      clearInterval(beater);
      for (const feed of feeds.values()) feed.close();
      // A process that stops in order takes its peers out at once; one that dies is swept.
      for (const [room, feed] of feeds) for (const { name } of feed.holds.values()) await release(room, name).catch(() => {});
      await client.multi().del(nodeSet).hDel(`${prefix}nodes`, nodeId).exec();
      await subscriber.close();
      await client.close();
    },
  };
}
