// The HTTP server: the page on `/`, WebSocket upgrades on `/ws`, a status before any upgrade that
// cannot be served, and an orderly shutdown.

import { once } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type ServerOptions as WsServerOptions, WebSocketServer } from 'ws';
import type { Config } from './config.ts';
import { ConnectionCaps } from './admission.ts';
import { Connection } from './connection.ts';
import { createMemoryEngine } from './engine-memory.ts';
import { createRedisEngine } from './engine-redis.ts';
import type { Engine, RoomListener } from './engine.ts';
import { CLOSE, REFUSE, type Refusal } from './errors.ts';
import { Heartbeat } from './heartbeat.ts';
import { Hub } from './hub.ts';
import { createCounters, MetricsPage } from './metrics.ts';
import { createOriginCheck } from './origin.ts';
import { createPageHandler } from './page.ts';
import { parseRoom } from './protocol.ts';
import { Sessions } from './sessions.ts';
import { createMemoryStore } from './store-memory.ts';
import { createSqliteStore } from './store-sqlite.ts';
import { Flusher } from './outbox.ts';

const PAGE_PATH = fileURLToPath(new URL('../index.html', import.meta.url));
const WEBSOCKET_PATH = '/ws';

export interface ServerOptions {
  /** Clock in ms since the epoch; injected so tests can pin time. */
  now?: () => number;
  /** Source of chance for names; injected so tests can pin it. */
  random?: () => number;
  log?: (message: string) => void;
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
  const { now = Date.now, random = Math.random, log = (message) => console.error(message) } = options;
  const startedAt = now();
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
    hub.dispatch(room, event);
  };
  const engine = await createEngine(config, listener, (room, name) => hub.hasPeerNamed(room, name), now, random);
  const caps = new ConnectionCaps(config.maxConnections, config.maxConnectionsPerIp);
  const isAllowedOrigin = createOriginCheck(config.allowedOrigins);
  const context = { hub, flusher: new Flusher(counters), heartbeat, counters, caps, sessions, engine, config, now, log };
  // Compression stays off (memory per socket, and compression-oracle attacks); nothing that skips
  // validation (such as skipUTF8Validation) is ever set.
  // `closeTimeout` (ws 8.23) is newer than @types/ws.
  const wssOptions: WsServerOptions<typeof Connection> & { closeTimeout: number } = {
    WebSocket: Connection,
    noServer: true,
    maxPayload: config.maxFrameBytes,
    perMessageDeflate: false,
    closeTimeout: config.closeTimeoutMs,
  };
  const wss = new WebSocketServer<typeof Connection>(wssOptions);
  const servePage = createPageHandler(PAGE_PATH);
  let isShuttingDown = false;

  const http = createServer(
    {
      headersTimeout: config.handshakeTimeoutMs,
      requestTimeout: config.handshakeTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.handshakeTimeoutMs / 4),
    },
    (req, res) => {
      const { path } = splitUrl(req);
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
        res.end(metrics.render({ peers: hub.size, rooms: hub.roomCount }));
      } else if (path === '/rooms') {
        engine.rooms().then(
          (rooms) => {
            res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
            res.end(JSON.stringify(rooms));
          },
          () => respond(res, 503, 'the room list is not available right now; try again'),
        );
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

  // One listener for every socket (`this` is the socket), so none is made per connection. A
  // socket's remote address stays readable after it closes: Node keeps what it first read.
  function releaseSlot(this: Duplex & { remoteAddress?: string }): void {
    caps.release(this.remoteAddress ?? 'unknown');
  }

  // Every refusal is an HTTP status written before any WebSocket opens.
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroySocket);
    const { path, query } = splitUrl(req);
    if (path !== WEBSOCKET_PATH) {
      abortHandshake(socket, REFUSE.path);
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
    if (isShuttingDown) {
      abortHandshake(socket, REFUSE.shuttingDown);
      return;
    }
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (!caps.admit(ip)) {
      abortHandshake(socket, REFUSE.full);
      return;
    }
    // The raw socket closes however the handshake ends, so the slot is always given back.
    socket.on('close', releaseSlot);
    // Held until the connection's first flush, so the 101 and the greeting leave in one write.
    socket.cork();
    wss.handleUpgrade(req, socket, head, (ws) => {
      // From here `ws` handles the socket's errors and the connection gives the slot back when it
      // closes; two listeners fewer on each of ten thousand idle sockets.
      socket.removeListener('error', destroySocket);
      socket.removeListener('close', releaseSlot);
      ws.accept(socket, room, query, ip, context);
    });
  });

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
async function createEngine(config: Config, listener: RoomListener, isConnected: (room: string, name: string) => boolean, now: () => number, random: () => number): Promise<Engine> {
  const { historySize, historyDays, maxReplay, roomTtlMs, dedupeWindowMs, sessionTtlMs } = config;
  if (config.redisUrl) return createRedisEngine({ listener, historySize, maxReplay, roomTtlMs, dedupeWindowMs, sessionTtlMs, random, url: config.redisUrl, nodeTtlMs: config.nodeTtlMs });
  const storeOptions = { historySize, historyDays, maxReplay, sessionTtlMs, dedupeWindowMs, recentWindow: config.historyOnJoin, now };
  const store = config.memory ? createMemoryStore(storeOptions) : await createSqliteStore({ ...storeOptions, dataDir: config.dataDir, synchronous: config.storeSynchronous });
  return createMemoryEngine({ listener, store, roomTtlMs, isConnected, random });
}

/** An upgrade socket's error listener, shared by all (`this` is the socket). */
function destroySocket(this: Duplex): void {
  this.destroy();
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
function abortHandshake(socket: Duplex, { status, message, retryAfter }: Refusal): void {
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
