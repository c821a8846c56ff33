// The engine over Redis, so that several plainchat processes act as one chat: names, presence,
// numbering and history live in Redis, and every room event is published on a channel that every
// process subscribes to. Each change that must be atomic (claim a name and announce it, number a
// message, keep it and publish it) is one Lua script, so all processes see one order per room.
//
// Keys, under a prefix (default `plainchat:`): `epoch`; per room `room:<room>:names` (hash,
// lower-case name to name), `room:<room>:seq` (counter) and `room:<room>:history` (stream capped at
// the history size, entry ids `<seq>-0`); `session:<token>`; `sent:<token> <id>`; per process `node:<id>` (its heartbeat, expiring) and `node:<id>:peers`
// (set of `<room> <name>` it holds); events on channel `events:<room>`.

import { randomBytes } from 'node:crypto';
import type { Engine, Presence, RoomEvent, RoomListener } from './engine.ts';
import { planPage, planReplay } from './history.ts';
import { generateName } from './names.ts';
import type { ChatMessage } from './protocol.ts';

type StreamEntry = { id: string; message: Record<string, string> };

export interface RedisEngineOptions {
  url: string;
  listener: RoomListener;
  historySize: number;
  /** Most messages a resume replays; a client further behind is told `too-old`. */
  maxReplay: number;
  roomTtlMs: number;
  /** How long a message id is remembered against retries, in ms. */
  dedupeWindowMs: number;
  /** Namespace for every key and channel, so that several chats can share one Redis. */
  prefix?: string;
  /**
   * How long this process's heartbeat key lives unrenewed; renewed three times as often. When a
   * process dies, another one finds its key gone and takes its peers out of their rooms.
   */
  nodeTtlMs: number;
  random?: () => number;
}

/**
 * Claims a name if free, in the room and in this process's set (KEYS[4]) together; announces it;
 * returns everyone in the room. Keeps an emptied room's history alive again.
 */
const JOIN = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('PERSIST', KEYS[2])
redis.call('PERSIST', KEYS[3])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return redis.call('HVALS', KEYS[1])`;

/**
 * Releases a name if the process whose set is KEYS[4] still holds it (a session taken over by
 * another process is not) and it is still this peer's; announces it; an emptied room's history
 * expires after the TTL.
 */
const LEAVE = `
if redis.call('SREM', KEYS[4], ARGV[6]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return 1`;

/** Renames unless the new name (ignoring case) belongs to someone else, in the room and in this process's set (KEYS[4]); announces it. */
const RENAME = `
local holder = redis.call('HGET', KEYS[1], ARGV[2])
if holder and ARGV[2] ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[6])
redis.call('SADD', KEYS[4], ARGV[7])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;

/**
 * Moves a session's name to this process (set KEYS[2]) if it is still held in the room; returns the
 * name. The session key holds `<node> <room> <name>`.
 */
const ADOPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local owner, room, name = string.match(raw, '^(%S+) (%S+) (.+)$')
if room ~= ARGV[1] then return false end
if redis.call('HGET', ARGV[2] .. 'room:' .. room .. ':names', string.lower(name)) ~= name then return false end
local member = room .. ' ' .. name
redis.call('SREM', ARGV[2] .. 'node:' .. owner .. ':peers', member)
redis.call('SADD', KEYS[2], member)
redis.call('SET', KEYS[1], ARGV[3] .. ' ' .. member, 'PX', ARGV[4])
return name`;

/**
 * Numbers a message, keeps it in the capped stream and publishes it; returns it as JSON. With a
 * dedupe key (KEYS[3], ARGV[4] its lifetime in ms) already set, returns what that key got instead.
 */
const PUBLISH = `
if ARGV[4] ~= '' then
  local prior = redis.call('GET', KEYS[3])
  if prior then return prior end
end
local seq = redis.call('INCR', KEYS[1])
local message = ARGV[2] .. seq .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', 'm', message)
redis.call('PUBLISH', ARGV[1], '{"type":"message","data":' .. message .. '}')
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], message, 'PX', ARGV[4]) end
return message`;

/**
 * Connects to Redis and returns an engine over it. The `redis` package is an optional dependency,
 * loaded only here; without it, this says what to install.
 */
export async function createRedisEngine(options: RedisEngineOptions): Promise<Engine> {
  const { url, listener, historySize, maxReplay, roomTtlMs, dedupeWindowMs, nodeTtlMs, prefix = 'plainchat:', random = Math.random } = options;
  let redis: typeof import('redis');
  try {
    redis = await import('redis');
  } catch {
    throw new Error('--redis-url needs the Redis client: run `npm install redis` next to plainchat');
  }
  // At start an unreachable Redis is an error the operator sees at once; once connected, a lost
  // connection is retried with backoff, up to 5 s apart.
  let hasConnected = false;
  const reconnectStrategy = (retries: number, cause: Error): number | Error =>
    hasConnected ? Math.min(50 * 2 ** retries, 5000) : retries >= 2 ? new Error(`cannot reach Redis at ${url}: ${cause.message}`) : 200;
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
  const channel = (room: string) => `${prefix}events:${room}`;
  const roomKeys = (room: string) => [key(room, 'names'), key(room, 'seq'), key(room, 'history')];
  const encode = (event: RoomEvent) => JSON.stringify(event);

  // The epoch names this Redis's history: it outlives every process, so a resume works on any node.
  await client.set(`${prefix}epoch`, randomBytes(8).toString('hex'), { condition: 'NX' });
  const epoch = (await client.get(`${prefix}epoch`))!;

  const eventsPrefix = channel('');
  await subscriber.pSubscribe(`${eventsPrefix}*`, (message, from) => {
    listener(from.slice(eventsPrefix.length), JSON.parse(message) as RoomEvent);
  });

  /**
   * The room's newest seq and its oldest kept one (newest + 1 when none is kept), read at one
   * instant: a message published after it has a higher seq.
   */
  const span = async (room: string): Promise<{ newest: number; oldest: number }> => {
    const [seq, first] = (await client.multi().get(key(room, 'seq')).xRange(key(room, 'history'), '-', '+', { COUNT: 1 }).exec()) as unknown as [string | null, StreamEntry[]];
    const newest = Number(seq ?? 0);
    return { newest, oldest: first[0] ? Number(first[0].id.split('-')[0]) : newest + 1 };
  };
  /** The kept messages numbered `from` to `to`, in order. */
  const range = async (room: string, from: number, to: number): Promise<ChatMessage[]> => {
    if (from > to) return [];
    const entries = await client.xRange(key(room, 'history'), `${from}-0`, `${to}-0`);
    return (entries ?? []).map((entry) => JSON.parse(entry.message['m']!) as ChatMessage);
  };
  const run = (script: string, keys: string[], args: Array<string | number>) => client.eval(script, { keys, arguments: args.map(String) });
  /** Takes `name` out of `room` if the process whose set is `holder` still holds it. */
  const leave = (room: string, name: string, holder: string) =>
    run(LEAVE, [...roomKeys(room), holder], [name.toLowerCase(), name, channel(room), encode({ type: 'peer-left', data: name }), roomTtlMs, `${room} ${name}`]);
  // A session key outlives any grace period; it only lets another process take the name over.
  const SESSION_TTL_MS = 24 * 3600 * 1000;

  // This process's heartbeat, and the names it holds, so that the others can clean up after it.
  const nodeId = randomBytes(8).toString('hex');
  const nodeKey = (id: string) => `${prefix}node:${id}`;
  const held = nodeKey(`${nodeId}:peers`);
  const beat = () => client.set(nodeKey(nodeId), '1', { expiration: { type: 'PX', value: nodeTtlMs } });
  await beat();
  /** Takes every name in a process's set out of its room (room names have no spaces; names may). */
  const leaveAll = async (set: string) => {
    for (const member of await client.sMembers(set)) {
      const at = member.indexOf(' ');
      await leave(member.slice(0, at), member.slice(at + 1), set);
    }
    await client.del(set);
  };
  // Any process may find a dead one; LEAVE is idempotent, so two finding it at once is harmless.
  const sweep = async () => {
    await beat();
    for await (const keys of client.scanIterator({ MATCH: nodeKey('*:peers'), COUNT: 1000 })) {
      for (const found of keys) {
        const id = found.slice(nodeKey('').length, -':peers'.length);
        if (id === nodeId || (await client.exists(nodeKey(id)))) continue;
        await leaveAll(found);
      }
    }
  };
  /** Records which name a session holds here, so that another process can take the session over. */
  const register = async (token: string, room: string, name: string): Promise<void> => {
    await client.set(`${prefix}session:${token}`, `${nodeId} ${room} ${name}`, { expiration: { type: 'PX', value: SESSION_TTL_MS } });
  };
  const sweeper = setInterval(() => sweep().catch(() => {}), Math.max(100, Math.floor(nodeTtlMs / 3))).unref();

  return {
    async join(room, claimed): Promise<Presence> {
      for (;;) {
        const taken = claimed === undefined ? await client.hGetAll(key(room, 'names')) : {};
        const name = claimed ?? generateName((candidate) => candidate.toLowerCase() in taken, random, Object.keys(taken).length);
        const peers = (await run(JOIN, [...roomKeys(room), held], [name.toLowerCase(), name, channel(room), encode({ type: 'peer-joined', data: name }), `${room} ${name}`])) as string[] | null;
        if (peers) return { name, peers };
        // A session's own name is online already (another of its connections): nothing to announce.
        if (claimed !== undefined) return { name, peers: await client.hVals(key(room, 'names')) };
        // Another node claimed the name between the read and the claim: pick again.
      }
    },
    async leave(room: string, name: string): Promise<void> {
      await leave(room, name, held);
    },
    registerSession: register,
    async adoptSession(token, room) {
      const name = await run(ADOPT, [`${prefix}session:${token}`, held], [room, prefix, nodeId, SESSION_TTL_MS]);
      return typeof name === 'string' ? { name, isPresent: true } : undefined;
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
    async peers(room: string) {
      return client.hVals(key(room, 'names'));
    },
    async signal(room, event) {
      await client.publish(channel(room), encode(event));
    },
    // Over Redis a direct message reaches the recipient's connections on any node, if it is online.
    async direct(room, message) {
      const wanted = message.to.toLowerCase();
      const to = (await client.hVals(key(room, 'names'))).find((name) => name.toLowerCase() === wanted);
      if (to === undefined) return 'unknown';
      await client.publish(channel(room), encode({ type: 'direct-message', data: { ...message, to } }));
      return 'live';
    },
    missed: async () => [],
    dropMissed: async () => {},
    async rename(room, from, to, token) {
      const renamed = await run(RENAME, [...roomKeys(room), held], [from.toLowerCase(), to.toLowerCase(), to, channel(room), encode({ type: 'peer-renamed', data: { from, to } }), `${room} ${from}`, `${room} ${to}`]);
      if (renamed === 1) await register(token, room, to);
      return renamed === 1;
    },
    async publish(room, message, origin) {
      const dedupeKey = origin.id === undefined ? undefined : `${origin.token} ${origin.id}`;
      // The JSON up to `"seq":`; the script appends the number it draws.
      const head = `${JSON.stringify({ ...message, epoch }).slice(0, -1)},"seq":`;
      const dedupe = `${prefix}sent:${dedupeKey ?? ''}`;
      const json = (await run(PUBLISH, [key(room, 'seq'), key(room, 'history'), dedupe], [channel(room), head, historySize, dedupeKey === undefined ? '' : dedupeWindowMs])) as string;
      return JSON.parse(json) as ChatMessage;
    },
    async replay(room, since, recent) {
      const { newest, oldest } = await span(room);
      const { replay, from, to } = planReplay(epoch, newest, oldest, since, recent, maxReplay);
      return { ...replay, messages: await range(room, from, to) };
    },
    async history(room, before, limit) {
      const { newest, oldest } = await span(room);
      const { from, to, more } = planPage(newest, oldest, before, limit);
      return { messages: await range(room, from, to), more };
    },
    isHealthy: () => client.isReady && subscriber.isReady,
    async close(): Promise<void> {
      clearInterval(sweeper);
      // A process that stops in order takes its peers out at once; one that dies is swept.
      await leaveAll(held);
      await client.del(nodeKey(nodeId));
      await subscriber.close();
      await client.close();
    },
  };
}
