// The HTTP server: the page on `/`, WebSocket upgrades on `/ws`, a status before any upgrade that
// cannot be served, and an orderly shutdown.

import { once } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type ServerOptions as WsServerOptions, WebSocketServer } from 'ws';
import type { Config } from './config.ts';
import { Admission, admissionLimits, addressKey, clientAddress } from './admission.ts';
import { type Auth, createAuth, type Identity, offeredCredentials, SUBPROTOCOL } from './auth.ts';
import { Connection } from './connection.ts';
import { createMemoryEngine } from './engine-memory.ts';
import { createRedisEngine } from './engine-redis.ts';
import type { Engine, RoomListener, RulesListener } from './engine.ts';
import { Moderation, upgradeKeys } from './moderation.ts';
import { RuleBook } from './rules.ts';
import { CLOSE, hostRefusal, REFUSE, type Refusal } from './errors.ts';
import { Heartbeat } from './heartbeat.ts';
import { HistoryBudget } from './history.ts';
import { Hub } from './hub.ts';
import { createCounters, MetricsPage } from './metrics.ts';
import { Invitations } from './invitations.ts';
import { createHostCheck, createOriginCheck, pageOrigin } from './origin.ts';
import { PrivateRooms } from './private-rooms.ts';
import { createPageHandler } from './page.ts';
import { createApiHandler, readApiKey } from './api.ts';
import { parseResume, parseRoom } from './protocol.ts';
import { Sessions } from './sessions.ts';
import { createMemoryStore } from './store-memory.ts';
import { createSqliteStore } from './store-sqlite.ts';
import { Flusher } from './outbox.ts';
import { pageOfRooms, RoomListCache } from './room-list.ts';
import { textClock } from './text.ts';

const PAGE_PATH = fileURLToPath(new URL('../index.html', import.meta.url));
const WEBSOCKET_PATH = '/ws';

export interface ServerOptions {
  /** Clock in ms since the epoch; injected so tests can pin time. */
  now?: () => number;
  /** Source of chance for names; injected so tests can pin it. */
  random?: () => number;
  log?: (message: string) => void;
  /** Where each moderator's act is written, as one JSON line (see moderation.ts); stdout by default. */
  audit?: (line: string) => void;
}

export interface ChatServer {
  /** `http://host:port` as the server listens. */
  readonly url: string;
  readonly port: number;
  /** Refuses new peers, closes every peer with 1001, waits (bounded) for them, and releases the port. */
  close(): Promise<void>;
}

/** Starts plainchat and resolves once it listens. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<ChatServer> {
  const { now = Date.now, random = Math.random, log = (message) => console.error(message), audit = (line) => process.stdout.write(`${line}\n`) } = options;
  const startedAt = now();
  // First, so that a wrong key file stops the start before anything listens or connects.
  const auth = createAuth(config);
  // Read before anything is opened: a key file gone since the options were checked stops the start.
  const apiKey = config.apiKeyFile === undefined ? undefined : readApiKey(config.apiKeyFile);
  const counters = createCounters();
  const metrics = new MetricsPage(counters);
  const hub = new Hub(counters, config.presenceBatchMs);
  const heartbeat = new Heartbeat(config.heartbeatMs);
  // Connected sessions are renewed a tenth of the TTL apart (at most hourly), so that one connected
  // when the process dies keeps its name for at least nine tenths of the TTL after.
  const renewEveryMs = Math.max(1000, Math.min(config.sessionTtlMs / 10, 3_600_000));
  const sessions = new Sessions({ graceMs: config.graceMs, now, renewEveryMs, renew: (s) => engine.registerSession(s.token, s.room, s.name) });
  const listener: RoomListener = (room, event) => {
    // A session may rename itself on another process while this one holds it too.
    if (event.type === 'peer-renamed') sessions.renamed(room, event.data.from, event.data.to);
    if (event.type === 'moderation') moderation?.hear(room, event.data);
    hub.dispatch(room, event);
  };
  const historyBudget = new HistoryBudget(config.maxHistoryBytes);
  const rules = new RuleBook(now);
  // Made once the engine is: the engine tells the rules as it starts, before anything can break them.
  let moderation: Moderation | undefined;
  const onRules: RulesListener = (changes) => {
    rules.apply(changes);
    moderation?.enforce(changes);
  };
  const engine = await createEngine(config, { listener, onRules, isConnected: (room, name) => hub.hasPeerNamed(room, name), now, random, historyBudget });
  const admission = new Admission(admissionLimits(config), now);
  // Invitations are signed with the secret every process of the chat shares, kept with its state.
  const invitations = new Invitations(await engine.secret(), now);
  const privateRooms = new PrivateRooms({ rules, engine, invitations, admission, hub, limits: config, log });
  moderation = new Moderation({ engine, hub, sessions, rules, auth, admission, privateRooms, now, audit, log });
  /** The budget key of a request's client (see --trust-proxy). */
  const addressOf = (req: IncomingMessage): string => addressKey(clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], config.trustProxy));
  const isAllowedHost = createHostCheck(config, machineHosts());
  const isAllowedOrigin = createOriginCheck(config, isAllowedHost);
  const roomList = new RoomListCache(() => engine.rooms(), config.roomsCacheMs, now);
  const textTime = textClock(config.textTimeZone, now);
  const context = { hub, flusher: new Flusher(counters), heartbeat, counters, admission, sessions, engine, config, roomList, auth, rules, moderation, privateRooms, textTime, now, log };
  // Compression stays off (memory per socket, and compression-oracle attacks); nothing that skips
  // validation (such as skipUTF8Validation) is ever set.
  // `closeTimeout` (ws 8.23) is newer than @types/ws.
  const wssOptions: WsServerOptions<typeof Connection> & { closeTimeout: number } = {
    WebSocket: Connection,
    noServer: true,
    maxPayload: config.maxFrameBytes,
    perMessageDeflate: false,
    closeTimeout: config.closeTimeoutMs,
    // Pings are answered by the connection, within its budgets (see Connection.#onPing).
    autoPong: false,
    // `plainchat` when offered; never a credential offered beside it (see offeredCredentials).
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  };
  const wss = new WebSocketServer<typeof Connection>(wssOptions);
  const servePage = createPageHandler(PAGE_PATH);
  const serveApi = createApiHandler({ engine, hub, config, admission, moderation, now, addressOf, log }, apiKey);
  let isShuttingDown = false;

  const http = createServer(
    {
      headersTimeout: config.handshakeTimeoutMs,
      requestTimeout: config.handshakeTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.handshakeTimeoutMs / 4),
    },
    (req, res) => {
      const { path, query } = splitUrl(req);
      const wait = admission.takeRequest(addressOf(req));
      if (wait > 0) {
        respond(res, REFUSE.requests.status, REFUSE.requests.message, { 'Retry-After': String(Math.ceil(wait / 1000)) });
        return;
      }
      // /healthz is exempt: load balancers probe it by address, and it tells a rebinding page nothing private.
      if (path !== '/healthz' && !isAllowedHost(req.headers.host)) {
        const refusal = hostRefusal(req.headers.host);
        respond(res, refusal.status, refusal.message);
        return;
      }
      if (path === '/') {
        if (req.method === 'GET' || req.method === 'HEAD') servePage(req, res);
        else respond(res, 405, 'use GET or HEAD for the chat page', { Allow: 'GET, HEAD' });
      } else if (path === '/healthz') {
        const status = isShuttingDown ? 'shutting-down' : engine.isHealthy() ? 'ok' : 'engine-unavailable';
        const health = { status, uptimeSeconds: Math.floor((now() - startedAt) / 1000), peers: hub.size };
        res.writeHead(status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(health));
      } else if (path === '/metrics') {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(metrics.render({ peers: hub.size, rooms: engine.heldRooms.size, historyBytes: historyBudget.bytes }));
      } else if (path === '/rooms') {
        // Behind a sign-in the list is for those signed in, as a bearer of a session token or JWT, and only the rooms they may enter.
        const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
        Promise.resolve(signInAtUpgrade(auth, admission, auth.mode === 'jwt' ? bearer : undefined, bearer, undefined, addressOf(req))).then((signedIn) => {
          if ('refusal' in signedIn || !signedIn.identity) {
            const refusal = 'refusal' in signedIn ? signedIn.refusal : REFUSE.signIn;
            respond(res, refusal.status, refusal === REFUSE.signIn ? 'the room list is for those signed in: send Authorization: Bearer <session token or JWT>' : refusal.message, { 'WWW-Authenticate': 'Bearer' });
            return;
          }
          listRooms(res, query, signedIn.identity.rooms);
        });
      } else if (path === '/api' || path.startsWith('/api/')) {
        serveApi(req, res, path, query);
      } else if (path === WEBSOCKET_PATH) {
        respond(res, 426, 'this endpoint speaks WebSocket; open / in a browser or connect with a WebSocket client', {
          Upgrade: 'websocket',
          Connection: 'Upgrade',
        });
      } else {
        respond(res, 404, `no page at ${path}; the chat is at /`);
      }
    },
  );

  /** Answers GET /rooms: a page of the public rooms (of those in `allowed`, when a sign-in names some). */
  function listRooms(res: ServerResponse, query: string, allowed: string[] | undefined): void {
    roomList.list().then(
      (rooms) => {
        const answer = pageOfRooms(privateRooms.publicOnly(allowed ? rooms.filter(({ room }) => allowed.includes(room)) : rooms), query, config.roomsPageMax);
        if (!answer.ok) {
          respond(res, 400, answer.error);
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(answer.page));
      },
      () => respond(res, 503, 'the room list is not available right now; try again'),
    );
  }

  // Sockets are counted from accept, so that requests that never finish (or upgrades that never
  // come) hold an address's slots as much as WebSockets do. Behind a trusted proxy every socket
  // comes from the proxy: only the total is counted here, and WebSockets per forwarded address at
  // the upgrade.
  http.on('connection', (socket: Socket) => {
    if (!admission.openSocket()) {
      refuseSocket(socket);
      return;
    }
    if (config.trustProxy) {
      socket.once('close', closeSocket);
      return;
    }
    if (!admission.openFrom(addressKey(socket.remoteAddress ?? 'unknown'))) {
      admission.closeSocket();
      refuseSocket(socket);
      return;
    }
    socket.once('close', closeSocketFrom);
  });
  // One listener for every socket (`this` is the socket), so none is made per connection. A
  // socket's remote address stays readable after it closes: Node keeps what it first read.
  function closeSocketFrom(this: Socket): void {
    admission.closeSocket();
    admission.closeFrom(addressKey(this.remoteAddress ?? 'unknown'));
  }
  function closeSocket(): void {
    admission.closeSocket();
  }

  // Every refusal is an HTTP status written before any WebSocket opens.
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroySocket);
    const { path, query } = splitUrl(req);
    if (path !== WEBSOCKET_PATH) {
      abortHandshake(socket, REFUSE.path);
      return;
    }
    if (!isAllowedHost(req.headers.host)) {
      abortHandshake(socket, hostRefusal(req.headers.host));
      return;
    }
    if (!isAllowedOrigin(req.headers.origin, req.headers.host)) {
      abortHandshake(socket, REFUSE.origin);
      return;
    }
    const room = parseRoom(query);
    if (room === undefined) {
      abortHandshake(socket, REFUSE.room);
      return;
    }
    const address = addressOf(req);
    const offered = offeredCredentials(req.headers['sec-websocket-protocol']);
    const token = offered.token ?? parseResume(query).token;
    // In the subprotocol from the page, in the URL from websocat.
    const invite = offered.invite ?? new URLSearchParams(query).get('invite') ?? undefined;
    const signedIn = signInAtUpgrade(auth, admission, offered.jwt, token, room, address);
    if (signedIn instanceof Promise) void signedIn.then((outcome) => upgrade(req, socket, head, { room, query, address, token, invite }, outcome));
    else upgrade(req, socket, head, { room, query, address, token, invite }, signedIn);
  });

  /** Goes on with an upgrade once its sign-in is known: refused, or taken in (signed in or to sign in with its first frames). */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, { room, query, address, token, invite }: UpgradeAsked, signedIn: SignIn): void {
    if ('refusal' in signedIn) {
      abortHandshake(socket, signedIn.refusal, signedIn.retryAfter);
      return;
    }
    if (socket.destroyed) return;
    const keys = upgradeKeys(address, token, signedIn.identity?.sub);
    const ban = moderation!.banRefusal(keys, signedIn.identity?.isModerator);
    if (ban) {
      abortHandshake(socket, ban);
      return;
    }
    const admitted = privateRooms.upgradeRefusal(room, { keys, identity: signedIn.identity }, invite, address);
    if ('refusal' in admitted) {
      abortHandshake(socket, admitted.refusal, admitted.retryAfter);
      return;
    }
    if (isShuttingDown) {
      abortHandshake(socket, REFUSE.shuttingDown);
      return;
    }
    // One still to sign in is in no room yet: a new room's cost is paid at its sign-in (Connection#awaitSignIn).
    const isNewRoom = signedIn.identity !== undefined && !engine.heldRooms.has(room);
    const refusal = admission.admitUpgrade(address, { isNewRoom, isRoomsFull: engine.heldRooms.size >= config.maxRooms, isResume: parseResume(query).since !== undefined });
    if (refusal) {
      abortHandshake(socket, refusal.refusal, refusal.retryAfter);
      return;
    }
    if (config.trustProxy) {
      if (!admission.openFrom(address)) {
        abortHandshake(socket, REFUSE.full);
        return;
      }
      socket.once('close', () => admission.closeFrom(address));
    }
    // Held until the connection's first flush, so the 101 and the greeting leave in one write.
    socket.cork();
    wss.handleUpgrade(req, socket, head, (ws) => {
      // From here `ws` handles the socket's errors; a listener fewer on each of ten thousand idle sockets.
      socket.removeListener('error', destroySocket);
      const origin = pageOrigin(config, req.headers.host, req.headers['x-forwarded-proto']);
      ws.accept(socket, room, query, address, context, { identity: signedIn.identity, token, isInvited: admitted.invited, origin });
    });
  }

  http.listen(config.port, config.host);
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const shownHost = !config.host || config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;

  let closing: Promise<void> | undefined;
  // Refuse new peers (503) and report unhealthy, close every peer with 1001 after the frames it is
  // still owed, and only then stop listening, so /healthz can say 503 while peers drain. `ws` cuts
  // off a peer that has not answered its close within closeTimeoutMs, so this ends in bounded time.
  async function shutdown(): Promise<void> {
    isShuttingDown = true;
    // Let this turn's frames leave first: the outboxes are written in the next check phase.
    await new Promise(setImmediate);
    const closed = [...wss.clients].map((ws) => {
      ws.close(CLOSE.shutdown.code, CLOSE.shutdown.reason);
      return once(ws, 'close');
    });
    await Promise.all(closed);
    await sessions.close();
    const stopped = once(http, 'close');
    http.close();
    http.closeAllConnections();
    await stopped;
    heartbeat.close();
    metrics.close();
    await engine.close();
  }

  return {
    url,
    port,
    close: () => (closing ??= shutdown()),
  };
}

/**
 * The engine the configuration asks for: over Redis (which keeps its own state), or this process's
 * over a store, on disk (SQLite under --data-dir) unless --memory.
 */
async function createEngine(config: Config, { listener, onRules, isConnected, now, random, historyBudget }: EngineHooks): Promise<Engine> {
  const { historySize, historyDays, maxReplay, roomTtlMs, dedupeWindowMs, sessionTtlMs, maxKeptDirect, maxSessions } = config;
  if (config.redisUrl) return createRedisEngine({ listener, onRules, historySize, maxReplay, roomTtlMs, dedupeWindowMs, sessionTtlMs, maxKeptDirect, random, url: config.redisUrl, nodeTtlMs: config.nodeTtlMs });
  const storeOptions = { historySize, historyDays, maxReplay, sessionTtlMs, maxKeptDirect, maxSessions, dedupeWindowMs, recentWindow: config.historyOnJoin, now, historyBudget };
  const store = config.memory ? createMemoryStore(storeOptions) : await createSqliteStore({ ...storeOptions, dataDir: config.dataDir, synchronous: config.storeSynchronous, maxStoreBytes: config.maxStoreBytes });
  return createMemoryEngine({ listener, onRules, store, roomTtlMs, isConnected, random });
}

/** What an engine calls back, and what it is given. */
interface EngineHooks {
  listener: RoomListener;
  onRules: RulesListener;
  isConnected: (room: string, name: string) => boolean;
  now: () => number;
  random: () => number;
  historyBudget: HistoryBudget;
}

/** What an upgrade asks for: its room, its URL's query, its client's address, and the session token and invitation it brings. */
interface UpgradeAsked {
  room: string;
  query: string;
  address: string;
  token: string | undefined;
  invite: string | undefined;
}

/** Who an upgrade signed in as (undefined: the first frames must sign in), or why it is refused. */
type SignIn = { identity: Identity | undefined } | { refusal: Refusal; retryAfter?: number };

const ANYONE: Identity = { isModerator: false };

/**
 * Reads the sign-in an upgrade (or a GET /rooms, as a bearer) carries: in open mode everyone is in; with a password, a session
 * token the server signed is; a JWT is verified (async) and its `rooms` claim applied before the
 * upgrade. Without either, the connection signs in with its first frames (Connection#awaitSignIn).
 */
function signInAtUpgrade(auth: Auth, admission: Admission, jwt: string | undefined, token: string | undefined, room: string | undefined, address: string): SignIn | Promise<SignIn> {
  if (auth.mode === 'open') return { identity: ANYONE };
  if (auth.mode === 'password') return { identity: token !== undefined && auth.isSignedToken(token) ? ANYONE : undefined };
  if (jwt === undefined) return { identity: undefined };
  const wait = admission.guessWait(address);
  if (wait > 0) return { refusal: REFUSE.guesses, retryAfter: Math.ceil(wait / 1000) };
  return auth.verify(jwt).then((verdict): SignIn => {
    if (!verdict.ok) {
      if (!verdict.isExpired) admission.takeGuess(address);
      return { refusal: { ...REFUSE.signIn, message: verdict.message } };
    }
    if (room !== undefined && verdict.identity.rooms && !verdict.identity.rooms.includes(room)) return { refusal: REFUSE.roomForbidden };
    return { identity: verdict.identity };
  });
}

/** Answers a socket over a connection cap at once, before reading anything from it, and lets it go. */
function refuseSocket(socket: Socket): void {
  socket.on('error', destroySocket);
  abortHandshake(socket, REFUSE.full);
  socket.once('finish', () => socket.destroy());
}

/** An upgrade socket's error listener, shared by all (`this` is the socket). */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/** This machine's addresses and host name, which the Host check allows unless --allowed-hosts is set. */
function machineHosts(): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [hostname(), ...addresses];
}

/** The request's path and query string (without the `?`). */
function splitUrl(req: IncomingMessage): { path: string; query: string } {
  const url = req.url ?? '/';
  const mark = url.indexOf('?');
  return mark === -1 ? { path: url, query: '' } : { path: url.slice(0, mark), query: url.slice(mark + 1) };
}

function respond(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(`${message}\n`);
}

/** Answers a refused upgrade with a plain HTTP response, so no WebSocket ever opens (as `ws` does). */
function abortHandshake(socket: Duplex, { status, message, retryAfter: fixed }: Refusal, retryAfter: number | undefined = fixed): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\n' +
      (retryAfter === undefined ? '' : `Retry-After: ${retryAfter}\r\n`) +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}
