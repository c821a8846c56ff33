// The two servers the benchmark compares, each started as its own process, and what /proc (Linux)
// says about a process's CPU and memory.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { round } from './comparison.ts';

export const KINDS = ['baseline', 'plainchat'] as const;
export type Kind = (typeof KINDS)[number];

// Everything at its default except the limits a benchmark must pass: each sender sends hundreds of
// messages a second, and all peers come from one IP address.
const PLAINCHAT_FLAGS = [
  '--host', '127.0.0.1', '--port', '0', '--max-connections', '30000', '--max-connections-per-ip', '30000',
  '--rate-burst', '100000', '--rate-per-second', '100000', '--flood-limit', '100000',
  // Every benchmark client comes from 127.0.0.1, standing for many people: the budgets per address are raised too.
  '--requests-per-second-per-ip', '1000000', '--request-burst-per-ip', '1000000', '--events-per-second-per-ip', '1000000',
  '--event-burst-per-ip', '1000000', '--rooms-per-minute-per-ip', '1000000', '--replays-per-minute-per-ip', '1000000',
];

const root = fileURLToPath(new URL('..', import.meta.url));
const running = new Set<ChildProcess>();
// A benchmark that stops half-way must not leave servers behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface Server {
  kind: Kind;
  port: number;
  pid: number;
  /** After a full garbage collection in the server (bench/heap-probe.ts): its memory, in bytes. */
  memory(): Promise<Memory>;
  /**
   * Kills the process (SIGKILL: nothing of a graceful shutdown is measured) and waits for it to exit;
   * for plainchat on its store, then measures and removes its data directory.
   */
  stop(): Promise<DiskUse | undefined>;
}

/** What plainchat's store held when it stopped: its messages, and the file's size once the WAL is folded in. */
export interface DiskUse {
  messages: number;
  bytes: number;
}

/** Folds the WAL of a stopped plainchat's store into its file and measures it. */
async function diskUse(dataDir: string): Promise<DiskUse> {
  const { default: Database } = await import('better-sqlite3');
  const file = join(dataDir, 'plainchat.db');
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const messages = db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
  db.close();
  return { messages, bytes: statSync(file).size };
}

/** Resolves with the port once `child` (server.ts, or the baseline) says it listens; rejects if it exits first. */
export function listeningPort(child: ChildProcess, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /open http:\/\/127\.0\.0\.1:(\d+) /.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', () => reject(new Error(`${what} exited before listening: ${out}`)));
  });
}

/** Starts a server process on a free port and resolves once it listens; `flags` go to plainchat only. */
export async function startServer(kind: Kind, flags: string[] = []): Promise<Server> {
  // plainchat on its store gets a data directory of its own, so that every run starts empty.
  const dataDir = kind === 'plainchat' && !flags.includes('--memory') && !flags.includes('--redis-url') ? mkdtempSync(join(tmpdir(), 'plainchat-bench-')) : undefined;
  const store = dataDir ? ['--data-dir', dataDir] : [];
  const script = kind === 'plainchat' ? ['server.ts', ...PLAINCHAT_FLAGS, ...store, ...flags] : ['bench/baseline.ts'];
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--import', './bench/heap-probe.ts', ...script], {
    cwd: root,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  running.add(child);
  let isStopping = false;
  child.once('exit', (code, signal) => {
    running.delete(child);
    // After listening only a crash ends it; its peers' closes are counted where they are measured.
    if (!isStopping) console.log(`  ${kind} exited unexpectedly (${signal ?? `code ${code}`})`);
  });
  const port = await listeningPort(child, kind);
  const stop = async () => {
    if (running.has(child)) {
      isStopping = true;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    if (!dataDir) return undefined;
    try {
      return await diskUse(dataDir);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const memory = () =>
    new Promise<Memory>((resolve) => {
      child.once('message', (message) => resolve(message as Memory));
      child.send('memory');
    });
  return { kind, port, pid: child.pid!, memory, stop };
}

/** CPU seconds a process and its children (plainchat's workers) have used; NaN once it has gone. */
function cpuSeconds(pid: number): number {
  const stat = (id: number | string) => readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1]!.split(' ');
  try {
    const own = stat(pid);
    let seconds = (Number(own[11]) + Number(own[12])) / 100;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const fields = stat(entry);
        if (Number(fields[1]) === pid) seconds += (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        // Gone while we looked.
      }
    }
    return seconds;
  } catch {
    return NaN;
  }
}

/** A `redis-server` for the benchmark's workers, on a free port, or undefined where there is none. */
export async function startRedis(): Promise<{ url: string; stop(): void } | undefined> {
  if (spawnSync('redis-server', ['--version']).error) return undefined;
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  await new Promise<void>((resolve) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** A process's resident memory in KiB; NaN once it has gone. */
export function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return NaN;
  }
}

/** CPU seconds every process on the machine has used: shows when others compete for the cores. */
function machineCpuSeconds(): number {
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** CPU seconds this process (the load generator) has used. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * CPU seconds per wall second: of the server, of this load generator, and of everything else on the
 * machine (more than a little there means the figures are disturbed).
 */
export interface Cores {
  server: number;
  generator: number;
  others: number;
}

/** Starts measuring CPU; the function returned gives the cores busy since. */
export function measureCores(server: Server): () => Cores {
  const before = { server: cpuSeconds(server.pid), generator: ownCpuSeconds(), machine: machineCpuSeconds(), wall: performance.now() };
  return () => {
    const wall = (performance.now() - before.wall) / 1000;
    const serverCores = (cpuSeconds(server.pid) - before.server) / wall;
    const generatorCores = (ownCpuSeconds() - before.generator) / wall;
    const others = Math.max(0, (machineCpuSeconds() - before.machine) / wall - serverCores - generatorCores);
    return { server: round(serverCores), generator: round(generatorCores), others: round(others) };
  };
}
