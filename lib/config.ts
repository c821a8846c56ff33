// Configuration from command-line flags and the environment: one table of options, validated at
// start-up, that also writes `--help` and README's configuration table.

import { readApiKey } from './api.ts';
import { parseHosts, parseOrigins, parsePublicUrl } from './origin.ts';
import { checkTimeZone } from './text.ts';

export interface Config {
  port: number;
  /** Interface to listen on; undefined listens on every interface. */
  host: string | undefined;
  /** Longest chat message, in characters (Unicode code points) after trimming. */
  maxMessageChars: number;
  /** Longest room topic or quit reason, in characters. */
  maxTopicChars: number;
  /** Time zone of text mode's times: `local` (the server's), `UTC`, or an IANA zone. */
  textTimeZone: string;
  /** Largest WebSocket frame a client may send, in bytes; a bigger one closes the connection with 1009. */
  maxFrameBytes: number;
  /** Origins besides the page's own that may open a WebSocket (exact `scheme://host[:port]`). */
  allowedOrigins: string[];
  /** Host names and addresses the server answers to (`*.name`, `*` for any); undefined: this machine's own (see lib/origin.ts). */
  allowedHosts: string[] | undefined;
  /** The origin of the URL people open (`--public-url`): allowed as an Origin, and its host as a Host. */
  publicUrl: string | undefined;
  /** Events a connection may send at once before the rate limit applies. */
  rateBurst: number;
  /** Events per second a connection earns back after its burst. */
  ratePerSecond: number;
  /** Events over the rate limit one connection may have waiting (delayed, not refused, like a paste); 0: none wait. */
  pasteQueueEvents: number;
  /** Bytes of events over the rate limit one connection may have waiting. */
  pasteQueueBytes: number;
  /** Bytes of waiting events over all of one address's connections. */
  pasteQueueBytesPerIp: number;
  /** Bytes of waiting events over every connection. */
  maxPasteQueueBytes: number;
  /** Rate-limited events tolerated (earned back at `ratePerSecond`) before the connection is closed with 1008. */
  floodLimit: number;
  /** Sockets open in all (HTTP and WebSocket), counted from accept. */
  maxConnections: number;
  /** Sockets open from one address (IPv4, or IPv6 /64), counted from accept; behind --trust-proxy, WebSockets per forwarded address. */
  maxConnectionsPerIp: number;
  /** HTTP requests and upgrades per second one address earns back after its burst. */
  requestsPerSecondPerIp: number;
  /** HTTP requests and upgrades one address may make at once. */
  requestBurstPerIp: number;
  /** Events per second over all of one address's connections, after its burst. */
  eventsPerSecondPerIp: number;
  /** Events all of one address's connections may send at once. */
  eventBurstPerIp: number;
  /** Rooms nobody here was in that one address may enter per minute. */
  roomsPerMinutePerIp: number;
  /** Resumes (replays) one address may ask for per minute. */
  replaysPerMinutePerIp: number;
  /** Addresses whose budgets are remembered at once (the longest idle is forgotten first). */
  maxAddresses: number;
  /** Take the client's address from X-Forwarded-For (set only behind a proxy that sets it). */
  trustProxy: boolean;
  /** Rooms held at once (with peers, or history kept in memory); a new one beyond is refused. */
  maxRooms: number;
  /** Bytes of history kept in memory in all; past it the least recently used rooms' oldest go. */
  maxHistoryBytes: number;
  /** Bytes the store's file may hold; past it the least recently used rooms' oldest messages are deleted (0: no limit). */
  maxStoreBytes: number;
  /** How long joining may take, greeting and replay read included, in ms: a reader still behind is closed with 4008, a join that did not finish with 1011. */
  replayTimeoutMs: number;
  /** Most rooms one `GET /rooms` page lists. */
  roomsPageMax: number;
  /** How long `GET /rooms` answers from one reading of the room list, in ms. */
  roomsCacheMs: number;
  /** The file holding the HTTP API's bearer key (lib/api.ts); undefined: the API is off. */
  apiKeyFile: string | undefined;
  /** Wrong API keys one address may send per minute before it is refused with 429. */
  apiKeyFailuresPerMinutePerIp: number;
  /** Largest body an API request may send, in bytes. */
  maxApiBodyBytes: number;
  /** How long a client may take to send a whole HTTP request or upgrade, in milliseconds. */
  handshakeTimeoutMs: number;
  /** Bytes queued for one peer before it counts as a slow consumer and is closed with 4008. */
  maxBufferedBytes: number;
  /** Milliseconds between pings to each peer; a peer that has not answered the last one is cut off. */
  heartbeatMs: number;
  /** How long to wait for a peer to answer a close (shutdown, slow consumer) before cutting it off, in ms. */
  closeTimeoutMs: number;
  /** Where the store keeps its SQLite file. */
  dataDir: string;
  /** Keep everything in this process instead of the data directory (forgotten at exit). */
  memory: boolean;
  /** SQLite's `synchronous`: `normal` loses nothing acknowledged in a crash, `full` nothing in a power loss either. */
  storeSynchronous: 'normal' | 'full';
  /** Messages kept per room for history, resume and scroll-back. */
  historySize: number;
  /** Days a message is kept (0: no age limit). */
  historyDays: number;
  /** Most messages one resume replays; a client further behind gets `too-old` and the newest. */
  maxReplay: number;
  /** Most messages one `history` request is answered with. */
  historyPageMax: number;
  /** How long a session owns its name after its last connection closed, in ms. */
  sessionTtlMs: number;
  /** Most direct messages kept for one session while it is away; more are refused. */
  maxKeptDirect: number;
  /** Most sessions kept in all (each owns a name); past it the least recently seen are forgotten. */
  maxSessions: number;
  /** Newest messages a newly joined peer is sent. */
  historyOnJoin: number;
  /** How long an empty room and its history are kept before they are forgotten, in ms. */
  roomTtlMs: number;
  /** How long a typing state lasts without renewal, in ms. */
  typingMs: number;
  /** How long joins and leaves are gathered into one presence frame per room, in ms (0: one event-loop turn). */
  presenceBatchMs: number;
  /** How long a disconnected session keeps its name for a reconnect with its token, in ms. */
  graceMs: number;
  /** How long a message id is remembered, so that a retry is acknowledged and not sent twice, in ms. */
  dedupeWindowMs: number;
  /** Redis to share the chat with other processes (`redis://` or `rediss://`); undefined: in memory. */
  redisUrl: string | undefined;
  /** With Redis: how long a process may miss its heartbeat before the others take its peers out, in ms. */
  nodeTtlMs: number;
  /** Processes sharing the port on this machine (node:cluster); more than 1 needs `redisUrl`. */
  workers: number;
  /** Who may come in: anyone, whoever knows the password, or whoever holds a JWT the application signed (see auth.ts). */
  auth: 'open' | 'password' | 'jwt';
  /** With `--auth password`: the file holding the shared password. */
  passwordFile: string | undefined;
  /** With `--auth jwt`: the file holding the HS256 secret. */
  jwtSecretFile: string | undefined;
  /** With `--auth jwt`: the file holding the RS256 or ES256 public key (PEM). */
  jwtPublicKeyFile: string | undefined;
  /** How long a connection may take to sign in with its first frames, in ms. */
  authTimeoutMs: number;
  /** Wrong passwords or tokens one address may try per minute. */
  authFailuresPerMinutePerIp: number;
  /** The file holding the admin token: whoever gives it to `oper` is a moderator (see moderation.ts). */
  adminTokenFile: string | undefined;
  /** How long an invitation to a private room admits when `/invite` names no time, in ms. */
  inviteTtlMs: number;
  /** The longest an invitation may admit, in ms. */
  maxInviteTtlMs: number;
  /** Members a private room may have; an invitation that would pass it is refused. */
  maxRoomMembers: number;
}

interface Option<K extends keyof Config> {
  key: K;
  flag: string;
  env: string;
  default: Config[K];
  help: string;
  parse(raw: string): Config[K];
  /** A switch takes no value after its flag (`--memory`); its environment variable is `1` or `true`, `0` or `false`. */
  isSwitch?: true;
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`expected a whole number from ${min} to ${max}, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`expected a whole number from ${min} to ${max}, got ${raw}`);
    return value;
  };
}

function host(raw: string): string {
  const value = raw.trim();
  if (value === '' || /[\s/]/.test(value)) throw new Error(`expected a host name or IP address, got "${raw}"`);
  return value;
}

function redisUrl(raw: string): string {
  const value = raw.trim();
  if (!/^rediss?:\/\/[^\s]+$/.test(value)) throw new Error(`expected a redis:// or rediss:// URL, such as redis://127.0.0.1:6379, got "${raw}"`);
  return value;
}

function dataDir(raw: string): string {
  if (raw.trim() === '') throw new Error('expected a directory path, got an empty one');
  return raw;
}

function timeZone(raw: string): string {
  try {
    return checkTimeZone(raw.trim());
  } catch {
    throw new Error(`expected local, UTC or a time zone name such as Europe/Paris, got "${raw}"`);
  }
}

function authMode(raw: string): 'open' | 'password' | 'jwt' {
  const value = raw.trim().toLowerCase();
  if (value !== 'open' && value !== 'password' && value !== 'jwt') throw new Error(`expected open, password or jwt, got "${raw}"`);
  return value;
}

function filePath(raw: string): string {
  if (raw.trim() === '') throw new Error('expected a file path, got an empty one');
  return raw;
}

/** Checked at start-up: the file must hold a key (see readApiKey), read again when the server starts. */
function apiKeyFile(raw: string): string {
  readApiKey(raw);
  return raw;
}

function switchValue(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new Error(`expected 1, true, 0 or false, got "${raw}"`);
}

function synchronous(raw: string): 'normal' | 'full' {
  const value = raw.trim().toLowerCase();
  if (value !== 'normal' && value !== 'full') throw new Error(`expected normal or full, got "${raw}"`);
  return value;
}

const option = <K extends keyof Config>(o: Option<K>): Option<K> => o;
const DAY_MS = 86_400_000;

/** Every option, in the order `--help` lists them. */
export const OPTIONS = [
  option({ key: 'port', flag: '--port', env: 'PORT', default: 3000, parse: integer(0, 65535), help: 'TCP port to listen on (0 picks a free one)' }),
  option({ key: 'host', flag: '--host', env: 'HOST', default: undefined, parse: host, help: 'interface to listen on (default: every interface)' }),
  option({ key: 'maxMessageChars', flag: '--max-message-chars', env: 'MAX_MESSAGE_CHARS', default: 2000, parse: integer(1, 1_000_000), help: 'longest chat message, in characters' }),
  option({ key: 'maxTopicChars', flag: '--max-topic-chars', env: 'MAX_TOPIC_CHARS', default: 300, parse: integer(1, 100_000), help: 'longest room topic or quit reason, in characters' }),
  option({ key: 'textTimeZone', flag: '--text-time-zone', env: 'TEXT_TIME_ZONE', default: 'local', parse: timeZone, help: 'time zone of text mode\'s times: local (this machine\'s), UTC, or a name like Europe/Paris' }),
  option({ key: 'maxFrameBytes', flag: '--max-frame-bytes', env: 'MAX_FRAME_BYTES', default: 64 * 1024, parse: integer(128, 64 * 1024 * 1024), help: 'largest frame a client may send, in bytes (bigger: closed with 1009)' }),
  option({ key: 'allowedOrigins', flag: '--allowed-origins', env: 'ALLOWED_ORIGINS', default: [], parse: parseOrigins, help: 'comma-separated origins besides the page\'s own that may connect' }),
  option({ key: 'allowedHosts', flag: '--allowed-hosts', env: 'ALLOWED_HOSTS', default: undefined, parse: parseHosts, help: 'comma-separated host names the server answers to, * for any (default: localhost and this machine\'s names)' }),
  option({ key: 'publicUrl', flag: '--public-url', env: 'PUBLIC_URL', default: undefined, parse: parsePublicUrl, help: 'the URL people open, e.g. https://chat.example.com: its host and origin are allowed' }),
  option({ key: 'rateBurst', flag: '--rate-burst', env: 'RATE_BURST', default: 20, parse: integer(1, 1_000_000), help: 'events a connection may send at once' }),
  option({ key: 'ratePerSecond', flag: '--rate-per-second', env: 'RATE_PER_SECOND', default: 5, parse: integer(1, 1_000_000), help: 'events per second a connection earns back' }),
  option({ key: 'pasteQueueEvents', flag: '--paste-queue-events', env: 'PASTE_QUEUE_EVENTS', default: 50, parse: integer(0, 1_000_000), help: 'events over the rate a connection may have waiting, sent as the rate allows' }),
  option({ key: 'pasteQueueBytes', flag: '--paste-queue-bytes', env: 'PASTE_QUEUE_BYTES', default: 64 * 1024, parse: integer(0, 1024 ** 3), help: 'bytes of those waiting events per connection (beyond: rate-limited)' }),
  option({ key: 'pasteQueueBytesPerIp', flag: '--paste-queue-bytes-per-ip', env: 'PASTE_QUEUE_BYTES_PER_IP', default: 256 * 1024, parse: integer(0, 1024 ** 3), help: 'bytes of waiting events over all of an address\'s connections' }),
  option({ key: 'maxPasteQueueBytes', flag: '--max-paste-queue-bytes', env: 'MAX_PASTE_QUEUE_BYTES', default: 64 * 1024 ** 2, parse: integer(0, 1024 ** 4), help: 'bytes of waiting events over every connection' }),
  option({ key: 'floodLimit', flag: '--flood-limit', env: 'FLOOD_LIMIT', default: 50, parse: integer(1, 1_000_000), help: 'rate-limited events tolerated before closing with 1008' }),
  option({ key: 'maxConnections', flag: '--max-connections', env: 'MAX_CONNECTIONS', default: 10_000, parse: integer(1, 10_000_000), help: 'sockets open in all, counted from accept (over: 503)' }),
  option({ key: 'maxConnectionsPerIp', flag: '--max-connections-per-ip', env: 'MAX_CONNECTIONS_PER_IP', default: 50, parse: integer(1, 10_000_000), help: 'sockets open from one address (IPv6: one /64), from accept (over: 503)' }),
  option({ key: 'requestsPerSecondPerIp', flag: '--requests-per-second-per-ip', env: 'REQUESTS_PER_SECOND_PER_IP', default: 10, parse: integer(1, 1_000_000), help: 'HTTP requests and upgrades per second an address earns back (over: 429)' }),
  option({ key: 'requestBurstPerIp', flag: '--request-burst-per-ip', env: 'REQUEST_BURST_PER_IP', default: 100, parse: integer(1, 1_000_000), help: 'HTTP requests and upgrades an address may make at once' }),
  option({ key: 'eventsPerSecondPerIp', flag: '--events-per-second-per-ip', env: 'EVENTS_PER_SECOND_PER_IP', default: 25, parse: integer(1, 1_000_000), help: 'events per second over all of an address\'s connections' }),
  option({ key: 'eventBurstPerIp', flag: '--event-burst-per-ip', env: 'EVENT_BURST_PER_IP', default: 100, parse: integer(1, 1_000_000), help: 'events all of an address\'s connections may send at once' }),
  option({ key: 'roomsPerMinutePerIp', flag: '--rooms-per-minute-per-ip', env: 'ROOMS_PER_MINUTE_PER_IP', default: 10, parse: integer(1, 1_000_000), help: 'empty rooms an address may enter per minute (over: 429)' }),
  option({ key: 'replaysPerMinutePerIp', flag: '--replays-per-minute-per-ip', env: 'REPLAYS_PER_MINUTE_PER_IP', default: 10, parse: integer(1, 1_000_000), help: 'resumes an address may ask for per minute (over: 429)' }),
  option({ key: 'maxAddresses', flag: '--max-addresses', env: 'MAX_ADDRESSES', default: 100_000, parse: integer(1, 100_000_000), help: 'addresses whose budgets are remembered at once' }),
  option({ key: 'trustProxy', flag: '--trust-proxy', env: 'TRUST_PROXY', default: false, parse: switchValue, isSwitch: true, help: 'take the client address from X-Forwarded-For (only behind a proxy)' }),
  option({ key: 'maxRooms', flag: '--max-rooms', env: 'MAX_ROOMS', default: 10_000, parse: integer(1, 100_000_000), help: 'rooms held at once (a new one beyond: 503)' }),
  option({ key: 'maxHistoryBytes', flag: '--max-history-bytes', env: 'MAX_HISTORY_BYTES', default: 64 * 1024 ** 2, parse: integer(1024, 1024 ** 4), help: 'bytes of history held in memory in all (least recently used go first)' }),
  option({ key: 'maxStoreBytes', flag: '--max-store-bytes', env: 'MAX_STORE_BYTES', default: 4 * 1024 ** 3, parse: integer(0, 1024 ** 5), help: 'bytes the store may hold on disk (0: no limit)' }),
  option({ key: 'replayTimeoutMs', flag: '--replay-timeout-ms', env: 'REPLAY_TIMEOUT_MS', default: 30_000, parse: integer(100, 3_600_000), help: 'ms to join and read the greeting and replay (slow reader: 4008)' }),
  option({ key: 'roomsPageMax', flag: '--rooms-page-max', env: 'ROOMS_PAGE_MAX', default: 100, parse: integer(1, 100_000), help: 'most rooms one GET /rooms page lists' }),
  option({ key: 'roomsCacheMs', flag: '--rooms-cache-ms', env: 'ROOMS_CACHE_MS', default: 2000, parse: integer(0, 600_000), help: 'ms GET /rooms answers from one reading of the list' }),
  // The HTTP API (lib/api.ts, docs/API.md).
  option({ key: 'apiKeyFile', flag: '--api-key-file', env: 'API_KEY_FILE', default: undefined, parse: apiKeyFile, help: 'file holding the HTTP API\'s key (16 characters or more); without it /api/ is off' }),
  option({ key: 'apiKeyFailuresPerMinutePerIp', flag: '--api-key-failures-per-minute-per-ip', env: 'API_KEY_FAILURES_PER_MINUTE_PER_IP', default: 10, parse: integer(1, 1_000_000), help: 'wrong API keys an address may send per minute (over: 429)' }),
  option({ key: 'maxApiBodyBytes', flag: '--max-api-body-bytes', env: 'MAX_API_BODY_BYTES', default: 64 * 1024, parse: integer(128, 64 * 1024 * 1024), help: 'largest body of an API request, in bytes (bigger: 413)' }),
  option({ key: 'handshakeTimeoutMs', flag: '--handshake-timeout-ms', env: 'HANDSHAKE_TIMEOUT_MS', default: 10_000, parse: integer(1000, 600_000), help: 'time to send a whole HTTP request, in ms' }),
  option({ key: 'maxBufferedBytes', flag: '--max-buffered-bytes', env: 'MAX_BUFFERED_BYTES', default: 1024 * 1024, parse: integer(1024, 1024 ** 3), help: 'bytes queued for a peer before it is closed as too slow (4008)' }),
  option({ key: 'heartbeatMs', flag: '--heartbeat-ms', env: 'HEARTBEAT_MS', default: 30_000, parse: integer(100, 3_600_000), help: 'ms between pings; no pong by the next ping: cut off' }),
  option({ key: 'closeTimeoutMs', flag: '--close-timeout-ms', env: 'CLOSE_TIMEOUT_MS', default: 5000, parse: integer(0, 600_000), help: 'ms to wait for a peer to answer a close' }),
  option({ key: 'dataDir', flag: '--data-dir', env: 'DATA_DIR', default: './data', parse: dataDir, help: 'directory of the store (plainchat.db, SQLite), created if missing' }),
  option({ key: 'memory', flag: '--memory', env: 'MEMORY', default: false, parse: switchValue, isSwitch: true, help: 'keep everything in this process instead (forgotten when it stops)' }),
  option({ key: 'storeSynchronous', flag: '--store-synchronous', env: 'STORE_SYNCHRONOUS', default: 'normal', parse: synchronous, help: 'normal: a crash loses nothing acknowledged; full: a power loss neither' }),
  option({ key: 'historySize', flag: '--history-size', env: 'HISTORY_SIZE', default: 100_000, parse: integer(1, 100_000_000), help: 'messages kept per room for history, resume and scroll-back' }),
  option({ key: 'historyDays', flag: '--history-days', env: 'HISTORY_DAYS', default: 0, parse: integer(0, 36_500), help: 'days a message is kept (0: no age limit)' }),
  option({ key: 'maxReplay', flag: '--max-replay', env: 'MAX_REPLAY', default: 1000, parse: integer(1, 1_000_000), help: 'most messages one resume replays (further behind: too-old)' }),
  option({ key: 'historyPageMax', flag: '--history-page-max', env: 'HISTORY_PAGE_MAX', default: 100, parse: integer(1, 10_000), help: 'most messages one history request gets' }),
  option({ key: 'sessionTtlMs', flag: '--session-ttl-ms', env: 'SESSION_TTL_MS', default: 30 * DAY_MS, parse: integer(1000, 3650 * DAY_MS), help: 'ms a session owns its name after its last connection' }),
  option({ key: 'maxKeptDirect', flag: '--max-kept-direct', env: 'MAX_KEPT_DIRECT', default: 100, parse: integer(1, 1_000_000), help: 'direct messages kept for a session while it is away' }),
  option({ key: 'maxSessions', flag: '--max-sessions', env: 'MAX_SESSIONS', default: 100_000, parse: integer(1, 100_000_000), help: 'sessions kept in all (least recently seen forgotten first)' }),
  option({ key: 'historyOnJoin', flag: '--history-on-join', env: 'HISTORY_ON_JOIN', default: 50, parse: integer(0, 1_000_000), help: 'newest messages sent to a newly joined peer' }),
  option({ key: 'roomTtlMs', flag: '--room-ttl-ms', env: 'ROOM_TTL_MS', default: 3_600_000, parse: integer(0, 604_800_000), help: 'ms an empty room stays in memory (with --memory or Redis: its history too)' }),
  option({ key: 'typingMs', flag: '--typing-ms', env: 'TYPING_MS', default: 5000, parse: integer(100, 600_000), help: 'ms a typing state lasts without renewal' }),
  option({ key: 'presenceBatchMs', flag: '--presence-batch-ms', env: 'PRESENCE_BATCH_MS', default: 200, parse: integer(0, 10_000), help: 'ms joins and leaves are gathered into one frame per room' }),
  option({ key: 'graceMs', flag: '--grace-ms', env: 'GRACE_MS', default: 10_000, parse: integer(0, 3_600_000), help: 'ms a disconnected session stays online for a reconnect' }),
  option({ key: 'dedupeWindowMs', flag: '--dedupe-window-ms', env: 'DEDUPE_WINDOW_MS', default: DAY_MS, parse: integer(0, 30 * DAY_MS), help: 'ms a message id is remembered against retries' }),
  option({ key: 'redisUrl', flag: '--redis-url', env: 'REDIS_URL', default: undefined, parse: redisUrl, help: 'Redis shared with other plainchat processes (default: this process alone, on its store)' }),
  option({ key: 'nodeTtlMs', flag: '--node-ttl-ms', env: 'NODE_TTL_MS', default: 10_000, parse: integer(300, 600_000), help: 'with Redis: ms a process\'s heartbeat may stand still before its peers are taken out of their rooms' }),
  option({ key: 'workers', flag: '--workers', env: 'WORKERS', default: 1, parse: integer(1, 256), help: 'processes sharing the port on this machine (more than 1 needs --redis-url)' }),
  option({ key: 'auth', flag: '--auth', env: 'AUTH', default: 'open', parse: authMode, help: 'who may come in: open (anyone), password (--password-file), jwt (the app\'s tokens)' }),
  option({ key: 'passwordFile', flag: '--password-file', env: 'PASSWORD_FILE', default: undefined, parse: filePath, help: 'with --auth password: file holding the shared password (8+ characters)' }),
  option({ key: 'jwtSecretFile', flag: '--jwt-secret-file', env: 'JWT_SECRET_FILE', default: undefined, parse: filePath, help: 'with --auth jwt: file holding the HS256 secret (32+ characters)' }),
  option({ key: 'jwtPublicKeyFile', flag: '--jwt-public-key-file', env: 'JWT_PUBLIC_KEY_FILE', default: undefined, parse: filePath, help: 'with --auth jwt: file holding the RS256 or ES256 public key, PEM' }),
  option({ key: 'authTimeoutMs', flag: '--auth-timeout-ms', env: 'AUTH_TIMEOUT_MS', default: 120_000, parse: integer(1000, 3_600_000), help: 'ms a connection may take to sign in (then: closed with 4401)' }),
  option({ key: 'adminTokenFile', flag: '--admin-token-file', env: 'ADMIN_TOKEN_FILE', default: undefined, parse: filePath, help: 'file holding the admin token (16+ characters): /oper <token> makes a moderator' }),
  option({ key: 'inviteTtlMs', flag: '--invite-ttl-ms', env: 'INVITE_TTL_MS', default: 7 * DAY_MS, parse: integer(1000, 3650 * DAY_MS), help: 'ms an invitation to a private room admits when /invite names no time' }),
  option({ key: 'maxInviteTtlMs', flag: '--max-invite-ttl-ms', env: 'MAX_INVITE_TTL_MS', default: 30 * DAY_MS, parse: integer(1000, 3650 * DAY_MS), help: 'the longest an invitation may admit, in ms' }),
  option({ key: 'maxRoomMembers', flag: '--max-room-members', env: 'MAX_ROOM_MEMBERS', default: 1000, parse: integer(1, 10_000_000), help: 'members a private room may have (an invitation past it: 403)' }),
  option({ key: 'authFailuresPerMinutePerIp', flag: '--auth-failures-per-minute-per-ip', env: 'AUTH_FAILURES_PER_MINUTE_PER_IP', default: 10, parse: integer(1, 1_000_000), help: 'wrong passwords, tokens, admin tokens or invitation codes an address may try per minute' }),
];

/** The defaults, for embedding the server (tests, benchmarks) with a few options changed. */
export function defaultConfig(): Config {
  return Object.fromEntries(OPTIONS.map((o) => [o.key, o.default])) as unknown as Config;
}

export type ParsedArgs = { help: true } | { help: false; config: Config };

/**
 * What to say about an argument that is no option. `npm start --port 4000` (without `--`) keeps
 * `--port` for npm itself (it sets npm_config_port=true) and hands over a bare `4000`: that is
 * said, with the command that works.
 */
function unknownOption(arg: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string {
  const script = env.npm_lifecycle_event;
  const taken = OPTIONS.filter((o) => env[`npm_config_${o.flag.slice(2).replace(/-/g, '_')}`] === 'true');
  if (script === undefined || taken.length === 0 || arg.startsWith('-')) return `unknown option "${arg}"; run with --help to see the options`;
  const values = argv.filter((value) => !value.startsWith('-'));
  const intended = taken.map((o, i) => (o.isSwitch ? o.flag : `${o.flag} ${values[i] ?? '<value>'}`)).join(' ');
  return `unknown option "${arg}": npm kept ${taken.map((o) => o.flag).join(', ')} for itself, as it does with every option before "--"; run: npm ${script === 'start' ? 'start' : `run ${script}`} -- ${intended}`;
}

/**
 * Reads flags (`--port 3000` or `--port=3000`) over environment variables over defaults.
 * Throws an Error whose message says which setting is wrong and how to fix it.
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedArgs {
  const raw = new Map<Option<keyof Config>, { value: string; source: string }>();
  for (const o of OPTIONS) {
    const value = env[o.env];
    if (value !== undefined && value !== '') raw.set(o, { value, source: `environment variable ${o.env}` });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return { help: true };
    const [flag = '', inline] = arg.split(/=(.*)/s, 2);
    const o = OPTIONS.find((candidate) => candidate.flag === flag);
    if (!o) throw new Error(unknownOption(arg, argv, env));
    if (o.isSwitch && inline === undefined) {
      raw.set(o, { value: 'true', source: flag });
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value; run with --help to see the options`);
    raw.set(o, { value, source: flag });
  }
  const config = defaultConfig();
  for (const [o, { value, source }] of raw) {
    try {
      (config as unknown as Record<string, unknown>)[o.key] = o.parse(value);
    } catch (err) {
      throw new Error(`${source}: ${(err as Error).message}`);
    }
  }
  // Workers share the chat only through Redis: without it each would be a chat of its own.
  if (config.workers > 1 && !config.redisUrl) throw new Error(`--workers ${config.workers} needs --redis-url (or REDIS_URL): the workers share the chat through Redis`);
  if (config.inviteTtlMs > config.maxInviteTtlMs) throw new Error(`--invite-ttl-ms ${config.inviteTtlMs} is longer than --max-invite-ttl-ms ${config.maxInviteTtlMs}: shorten the one or lengthen the other`);
  return { help: false, config };
}

/** The text `--help` prints. */
export function helpText(): string {
  const usage = (o: Option<keyof Config>) => (o.isSwitch ? o.flag : `${o.flag} <value>`);
  // The columns are as wide as their longest entry, so every row lines up.
  const flagWidth = Math.max(...OPTIONS.map((o) => usage(o).length));
  const envWidth = Math.max(...OPTIONS.map((o) => o.env.length));
  const rows = OPTIONS.map((o) => {
    const shown = Array.isArray(o.default) ? o.default.join(',') : o.default;
    const fallback = shown === undefined || shown === '' || o.isSwitch ? '' : ` (default ${shown})`;
    return `  ${usage(o).padEnd(flagWidth)} ${o.env.padEnd(envWidth)} ${o.help}${fallback}`;
  });
  return [
    'Usage: npm start -- [options]   or, on Node 22.18 or later:   node server.ts [options]',
    '',
    'Every option can also be set by its environment variable; a flag wins over the environment.',
    '',
    ...rows,
    `  ${'--help'.padEnd(flagWidth)} ${''.padEnd(envWidth)} print this help and exit`,
  ].join('\n');
}
