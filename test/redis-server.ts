// A real `redis-server` for the tests that need one: started on a free port with its data in a
// temporary folder, stopped and removed after the test file. Where the binary is missing the tests are skipped with a notice
// (CI installs it, and there a missing server fails the run).

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import type { ChatServer } from '../lib/server.ts';
import { spawnServer } from './helpers.ts';

/** Why Redis tests cannot run here, or undefined when they can. */
export function redisMissing(): string | undefined {
  if (spawnSync('redis-server', ['--version']).error === undefined) return undefined;
  if (process.env.CI) throw new Error('redis-server is not installed; CI must install it (.ci/run)');
  return 'redis-server is not installed (apt-get install redis-server); skipping the Redis tests';
}

/** A describe that runs only where `redis-server` exists (always in CI), with a notice elsewhere. */
export function withRedis(name: string, body: () => Promise<void>): void {
  const missing = redisMissing();
  describe(name, { skip: missing }, async () => {
    if (!missing) await body();
  });
}

/** A plainchat process over the Redis at `redisUrl`, as the helpers expect a server; killed after the file. */
export async function startNode(redisUrl: string, flags: string[] = []): Promise<ChatServer & { kill(): void }> {
  const { child, port } = await spawnServer(['--redis-url', redisUrl, ...flags]);
  return { url: `http://127.0.0.1:${port}`, port, close: async () => {}, kill: () => child.kill('SIGKILL') };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface RedisServer {
  url: string;
  /** Shuts Redis down (SIGTERM: it writes its append-only file first). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the data it wrote. */
  start(): Promise<void>;
  /** Starts it again on the same port with its data gone, as a Redis without persistence comes back. */
  startEmpty(): Promise<void>;
  /** Stops it answering while its connections stay open (SIGSTOP), as a Redis that hangs; `thaw` lets it go on. */
  freeze(): void;
  thaw(): void;
}

/**
 * Starts a `redis-server` and resolves once it accepts connections; it is stopped after the test
 * file. Its data is kept in an append-only file in a temporary folder, so it survives a restart.
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'plainchat-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = started;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      started.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) resolve();
      });
      started.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  await start();
  after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const startEmpty = async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    await start();
  };
  const signal = (name: NodeJS.Signals) => () => void child?.kill(name);
  after(signal('SIGCONT'));
  return { url: `redis://127.0.0.1:${port}`, stop, start, startEmpty, freeze: signal('SIGSTOP'), thaw: signal('SIGCONT') };
}
