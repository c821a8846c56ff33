// Shared test helpers: a real server on a free port, and WebSocket clients that queue what they
// receive so a test can await the next event.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { type Config, defaultConfig } from '../lib/config.ts';
import { type ChatServer, type ServerOptions, startServer } from '../lib/server.ts';
import { upgradeRequest } from './raw-frames.ts';

/** A server event as a client sees it on the wire. */
export interface WireEvent {
  type: string;
  data: any;
}

/**
 * A fresh, empty data directory, removed when the test file's process exits (not by `after()`,
 * which inside a hook would remove it as soon as the hook ends).
 */
export function tempDataDir(): string {
  const dir = mkdtempSync(joinPath(tmpdir(), 'plainchat-test-'));
  if (dataDirs.size === 0) process.once('exit', () => dataDirs.forEach((made) => rmSync(made, { recursive: true, force: true })));
  dataDirs.add(dir);
  return dir;
}
const dataDirs = new Set<string>();

/**
 * Every test client comes from 127.0.0.1 and stands for many people, so the budgets per address
 * are raised out of the way; test/attack.test.ts proves them, at their defaults or set low. The
 * caps on sockets per address are left as they are.
 */
export const CROWD_BUDGETS = {
  requestsPerSecondPerIp: 1_000_000,
  requestBurstPerIp: 1_000_000,
  eventsPerSecondPerIp: 1_000_000,
  eventBurstPerIp: 1_000_000,
  roomsPerMinutePerIp: 1_000_000,
  replaysPerMinutePerIp: 1_000_000,
} satisfies Partial<Config>;

/** The same, as flags for a server in a child process. */
const CROWD_FLAGS = Object.entries(CROWD_BUDGETS).flatMap(([key, value]) => [`--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`, String(value)]);

/**
 * Starts plainchat on 127.0.0.1 and a free port, with its store (SQLite) in a fresh data directory
 * unless `overrides` names one; it is closed after the test file.
 */
export async function startTestServer(overrides: Partial<Config> = {}, options: ServerOptions = {}): Promise<ChatServer> {
  const server = await startServer({ ...defaultConfig(), port: 0, host: '127.0.0.1', dataDir: tempDataDir(), ...CROWD_BUDGETS, ...overrides }, { log: () => {}, ...options });
  after(() => server.close());
  return server;
}

export function wsUrl(server: ChatServer, path = '/ws'): string {
  return `${server.url.replace('http', 'ws')}${path}`;
}

export interface TestClient {
  readonly ws: WebSocket;
  /** Every event received so far, in order, including those already taken by next(). */
  readonly received: WireEvent[];
  /** Resolves with the next event not yet taken; rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<WireEvent>;
  /** Skips events until one of `type` arrives. */
  nextOfType(type: string, timeoutMs?: number): Promise<WireEvent>;
  send(frame: string | object): void;
  /** Resolves with the close code and reason once the socket is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** A WebSocket whose frames, each read with `parse`, are queued for `next` to take in order. */
async function openFrames<T>(url: string, parse: (text: string) => T, localAddress?: string, protocols: string[] = []) {
  const ws = new WebSocket(url, protocols, { localAddress });
  const received: T[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  ws.on('message', (data) => {
    received.push(parse(data.toString()));
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      wake?.();
    });
  });
  after(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });

  /** The next frame not yet taken; rejects after `timeoutMs`, or once the socket has closed. */
  async function next(timeoutMs = 3000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (taken >= received.length) {
      if (ws.readyState === WebSocket.CLOSED) throw new Error(`the socket closed while waiting for an event; got so far: ${JSON.stringify(received)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms; got so far: ${JSON.stringify(received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    return received[taken++]!;
  }
  return {
    ws,
    received,
    next,
    closed,
    get taken() {
      return taken;
    },
  };
}

/**
 * Opens a WebSocket to the server (or to a ws:// URL) and queues its events; `localAddress` (any
 * 127.x.y.z) makes the client another source address.
 */
export async function connect(server: ChatServer | string, path = '/ws', localAddress?: string, protocols?: string[]): Promise<TestClient> {
  const { ws, received, next, closed } = await openFrames(typeof server === 'string' ? server : wsUrl(server, path), (text) => JSON.parse(text) as WireEvent, localAddress, protocols);
  return {
    ws,
    received,
    next,
    async nextOfType(type, timeoutMs = 3000) {
      for (;;) {
        const event = await next(timeoutMs);
        if (event.type === type) return event;
      }
    },
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    closed,
    async close() {
      ws.close();
      await closed;
    },
  };
}

export interface Joined {
  client: TestClient;
  name: string;
  peers: string[];
  token: string;
  /** The `synced` event's data: the room's position, and how a resume went. */
  synced: { epoch: string; seq: number; recovered?: boolean; reason?: string };
  /** The messages replayed before `synced`. */
  history: any[];
}

/** Connects and takes the greeting: name, peers, session, replayed history, synced. */
export async function join(server: ChatServer, path = '/ws', localAddress?: string, protocols?: string[]): Promise<Joined> {
  return greeted(await connect(server, path, localAddress, protocols));
}

/** Reads a client's greeting (once it is in the room: at once, or after it signed in) up to `synced`. */
export async function greeted(client: TestClient): Promise<Joined> {
  const named = await client.next();
  const peers = await client.next();
  const session = await client.next();
  if (named.type !== 'name-generated' || peers.type !== 'update-peers' || session.type !== 'session') {
    throw new Error(`unexpected greeting: ${JSON.stringify([named, peers, session])}`);
  }
  const history = [];
  for (;;) {
    const event = await client.next();
    // A room with a topic says it before its history.
    if (event.type === 'topic') continue;
    if (event.type === 'synced') return { client, name: named.data, peers: peers.data, token: session.data.token, synced: event.data, history };
    if (event.type !== 'message' || event.data.history !== true) throw new Error(`unexpected event before synced: ${JSON.stringify(event)}`);
    history.push(event.data);
  }
}

/** Joins `room` from `address` (any 127.x.y.z), with the session `token` if given. */
export function joinFrom(server: ChatServer, address: string, room = 'lobby', token?: string): Promise<Joined> {
  return join(server, `/ws?room=${room}${token ? `&token=${token}` : ''}`, address);
}

/** Becomes a moderator with the admin token `adminToken` (--admin-token-file's). */
export async function operWith(client: TestClient, adminToken: string): Promise<void> {
  client.send(`/oper ${adminToken}`);
  assert.deepEqual(await client.nextOfType('moderator'), { type: 'moderator', data: null });
}

/** The status line and body an upgrade to `path` from `address` is answered with, as `HTTP/1.1 403 Forbidden\n<body>`. */
export async function upgradeStatus(port: number, path: string, address: string, headers = ''): Promise<string> {
  const { Socket } = await import('node:net');
  const socket = new Socket();
  return new Promise((resolve, reject) => {
    let answer = '';
    socket.connect({ port, host: '127.0.0.1', localAddress: address }, () => socket.write(upgradeRequest(path, headers)));
    socket.on('data', (chunk) => {
      answer += chunk;
      if (answer.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(`${answer.split('\r\n')[0]}\n${answer.split('\r\n\r\n')[1] ?? ''}`);
      }
    });
    socket.on('error', reject);
  });
}

/** The fields of a message a person reads: who, what, when. */
export function said(event: WireEvent): { sender: string; message: string; ts: number } {
  const { sender, message, ts } = event.data;
  return { sender, message, ts };
}

/** Skips events until the chat message with exactly this text arrives, and returns it. */
export async function nextMessage(client: TestClient, text: string, timeoutMs = 3000): Promise<WireEvent> {
  for (;;) {
    const event = await client.nextOfType('message', timeoutMs);
    if (event.data.message === text) return event;
  }
}

/** Who a client believes is in the room: its snapshot with every join, leave and rename after it applied. */
export function presenceView(events: WireEvent[]): Set<string> {
  let names = new Set<string>();
  for (const { type, data } of events) {
    if (type === 'update-peers') names = new Set(data);
    else if (type === 'peer-joined') for (const name of data) names.add(name);
    else if (type === 'peer-left') for (const name of data) names.delete(name);
    else if (type === 'peer-renamed') {
      names.delete(data.from);
      names.add(data.to);
    }
  }
  return names;
}

/** Polls `check` until it holds; fails with `what()` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(what());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The answer to `/who` from a client whose greeting is done. */
export async function who(client: TestClient): Promise<string[]> {
  const from = client.received.length;
  client.send('/who');
  const answer = () => client.received.slice(from).find((event) => event.type === 'update-peers');
  await until(() => answer() !== undefined, 5000, () => 'no answer to /who');
  return answer()!.data;
}

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));

/**
 * Starts server.ts in a child process on 127.0.0.1 and a free port, with a fresh data directory
 * unless `args` names one; resolves once it listens.
 */
export async function spawnServer(args: string[] = []): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const store = args.includes('--data-dir') || args.includes('--memory') ? [] : ['--data-dir', tempDataDir()];
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, '--host', '127.0.0.1', '--port', '0', ...CROWD_FLAGS, ...store, ...args]);
  after(() => child.kill('SIGKILL'));
  let out = '';
  child.stderr!.on('data', (chunk) => (out += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /open http:\/\/127\.0\.0\.1:(\d+) /.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', () => reject(new Error(`exited before listening: ${out}`)));
  });
  return { child, port, output: () => out };
}

/**
 * Parses Prometheus's text format strictly enough to catch a malformed page: every sample is
 * `name value` after its `# HELP` and `# TYPE`, counters end in `_total`, values are numbers.
 */
function parseMetrics(text: string): Map<string, number> {
  assert.ok(text.endsWith('\n'), 'the page ends with a newline');
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.trimEnd().split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        assert.match(comment[3]!, /^(counter|gauge)$/, line);
        types.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, value] = sample;
    assert.ok(types.has(name!), `${name} has a # TYPE line before it`);
    if (types.get(name!) === 'counter') assert.match(name!, /_total$/);
    assert.ok(Number.isFinite(Number(value)), `${name} is a number: ${value}`);
    samples.set(name!, Number(value));
  }
  return samples;
}

export async function scrape(server: ChatServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

export interface TextClient {
  readonly ws: WebSocket;
  /** Every frame received so far, as text. */
  readonly frames: string[];
  /** How many of them `expect` has gone past. */
  readonly taken: number;
  /** Waits for a frame that `match` matches (a string: equal to it) after those already taken; returns it. */
  expect(match: string | RegExp, timeoutMs?: number): Promise<string>;
  send(line: string): void;
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** A text-mode client (`format=text`), as a terminal user's WebSocket client is: frames are lines of text. */
export async function connectText(server: ChatServer, query = ''): Promise<TextClient> {
  const frames = await openFrames(wsUrl(server, `/ws?format=text${query ? `&${query}` : ''}`), (text) => text);
  return {
    ws: frames.ws,
    frames: frames.received,
    get taken() {
      return frames.taken;
    },
    async expect(match, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = await frames.next(Math.max(1, deadline - Date.now())).catch((err: Error) => {
          throw new Error(`no frame like ${String(match)} within ${timeoutMs} ms (${err.message})`);
        });
        if (typeof match === 'string' ? frame === match : match.test(frame)) return frame;
      }
    },
    send: (line) => frames.ws.send(line),
    closed: frames.closed,
  };
}
