// `npm run soak`: holds 10,000 WebSocket connections to a real server process for a minute, with
// heartbeats running, while a few peers chat and one floods; in the middle third of the minute,
// other addresses attack it at once (below). Prints the server's memory and CPU before, during and
// after the attack, the chatters' round trips (send, until the sender's own echo), messages lost
// and peers wrongly dropped, and what each flood was answered, and writes the figures as JSON to
// bench/results/soak.json. Exits 1 when a message was lost, a peer was dropped, or the chatters'
// p99 round trip during the attack reached 100 ms.
//
// The server keeps every budget per address at its default. The legitimate peers are spread over
// source addresses of their own (the crowd over 127.1.x.y, 50 an address, the default cap; the
// chatters and the flooder one each), so only the total, --max-connections, is raised: for them,
// and for every attacking address's 50 sockets, so that the attack meets the budgets per address
// and not the total. Linux routes all of 127/8 to loopback.
//
// The chatters and the attack each run in a process of their own (this file again, with
// SOAK_ROLE=chat or attack): a round trip is then the server's and the machine's, not a wait in the
// crowd's event loop, and the attackers' CPU is counted apart. Each flood comes from
// SOAK_ATTACK_ADDRESSES addresses, 127.0.<10 + flood>.<n>:
//   reconnect    connect into `atk-flood`, send a connection's whole burst of 2,000-emoji messages,
//                close, reconnect, in a loop (two workers an address);
//   roomChurn    connect and close into a fresh room each time (`atk-…`), ten times a second;
//   roomsList    `GET /rooms`, ten pipelined on each of two keep-alive sockets every 100 ms;
//   slowReaders  resume from seq 0 into `atk-history` (1,000 kept messages of 2,000 emoji, said
//                before the crowd connects), never read, and send an unsolicited pong every 2 s;
//   halfOpen     raw TCP sockets that send part of a request and then nothing, 60 an address;
//   pingFlood    a raw WebSocket that writes 10,000 pings in one write, once a second.
// The attackers keep going whatever they are answered and count it: statuses (and Retry-After),
// error events, close codes. When the attack ends they open nothing more, and leave what is still
// open (slow readers, half-open requests, keep-alive sockets) to the server to end.
//
// The chatters talk in the lobby, where the 100 checked listeners are; the rest of the crowd sits
// in rooms of SOAK_ROOM_SIZE (100).
//
// Settings (environment): SOAK_CONNECTIONS (10000), SOAK_SECONDS (60), SOAK_HEARTBEAT_MS (10000), SOAK_ROOM_SIZE (100),
// SOAK_ATTACK (1; 0 runs without the attack, to compare), SOAK_ATTACK_ADDRESSES (4 a flood),
// SOAK_FLOODS (comma-separated flood names, to run some alone: reconnect, roomChurn, roomsList,
// slowReaders, halfOpen, pingFlood; default all).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { on, once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { listeningPort } from './servers.ts';

const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 10_000);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const HEARTBEAT_MS = Number(process.env.SOAK_HEARTBEAT_MS ?? 10_000);
const IS_ATTACKING = process.env.SOAK_ATTACK !== '0';
const ATTACK_ADDRESSES = Number(process.env.SOAK_ATTACK_ADDRESSES ?? 4);
const CHATTERS = 3;
const LISTENERS_CHECKED = 100;
/**
 * Peers a room of the crowd holds. The chatters' room (the lobby) holds the checked listeners; the
 * rest of the crowd sits in rooms of this size, as a server's people do. Fan-out to one room of
 * 10,000 is `npm run bench`'s to measure: on a 2-core VM it alone takes a turn of several hundred
 * ms (10,000 writes), attack or not.
 */
const ROOM_SIZE = Number(process.env.SOAK_ROOM_SIZE ?? 100);
const CONNECT_BATCH = 250;
/** The server's default --max-connections-per-ip: each of the crowd's addresses holds that many. */
const PEERS_PER_ADDRESS = 50;
const P99_LIMIT_MS = 100;
/** The attack is the middle third of the hold. */
const ATTACK_FROM_SECOND = Math.round(SECONDS / 3);
const ATTACK_TO_SECOND = Math.round((2 * SECONDS) / 3);

const FLOODS = ['reconnect', 'roomChurn', 'roomsList', 'slowReaders', 'halfOpen', 'pingFlood'] as const;
type Flood = (typeof FLOODS)[number];
const CHOSEN_FLOODS = (process.env.SOAK_FLOODS || FLOODS.join(',')).split(',') as Flood[];
for (const flood of CHOSEN_FLOODS) {
  if (!FLOODS.includes(flood)) throw new Error(`SOAK_FLOODS names floods among ${FLOODS.join(', ')}; got "${flood}"`);
}
/** The server's default --rate-burst: events one connection may send at once. */
const CONNECTION_BURST = 20;
/** The server's default --max-replay: a resume from seq 0 of a room with this many is honoured whole. */
const HISTORY_MESSAGES = 1000;
const HISTORY_ROOM = 'atk-history';
const FLOOD_ROOM = 'atk-flood';
const PING_ROOM = 'atk-ping';
const SLOW_READERS_PER_ADDRESS = PEERS_PER_ADDRESS;
const HALF_OPEN_PER_ADDRESS = 60;
const PINGS_PER_WRITE = 10_000;
/**
 * How long after the attack the server is given to end what the attack left open: the default
 * --replay-timeout-ms (30 s) and --close-timeout-ms (5 s), and a pong's 2 s to notice, with room.
 */
const SETTLE_MS = 40_000;
/** 2,000 emoji, the longest message the server takes (it counts code points): 8,000 bytes of UTF-8. */
const BIG_MESSAGE = Array.from({ length: 2000 }, (_, i) => String.fromCodePoint(0x1f600 + (i % 64))).join('');

type Tally = Record<string, number>;
type Phase = 'before' | 'during' | 'after';
const PHASES: Phase[] = ['before', 'during', 'after'];

function count(tally: Tally, key: string, n = 1): void {
  tally[key] = (tally[key] ?? 0) + n;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The crowd's peer `i` connects from `127.1.x.y`, PEERS_PER_ADDRESS to an address. */
function crowdAddress(i: number): string {
  const a = Math.floor(i / PEERS_PER_ADDRESS);
  return `127.1.${Math.floor(a / 250)}.${(a % 250) + 1}`;
}

/** The `n`th address of flood number `flood`. */
function attackAddress(flood: number, n: number): string {
  return `127.0.${10 + flood}.${n + 1}`;
}

const FLOODER_ADDRESS = '127.0.4.1';
const METRICS_ADDRESS = '127.0.3.1';
const CHAT_ADDRESS = '127.0.2.1';
const SEED_ADDRESS_PREFIX = '127.0.9.';

/** CPU seconds process `pid` has used, read from /proc (Linux). */
function cpuSecondsOf(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds this process has used. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Resident memory of process `pid` in MiB, read from /proc (Linux). */
function rssMiBOf(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** The value at fraction `p` of `values` (nearest rank), with the count and the extremes. */
function summarize(values: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => round(sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN);
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** A `ws` client from `localAddress` that trusts the server's UTF-8, so the generator's CPU goes to holding connections. */
function client(url: string, localAddress: string): WebSocket {
  return new WebSocket(url, { localAddress, skipUTF8Validation: true, perMessageDeflate: false });
}

/**
 * Resolves true once `ws` is open, or false once its upgrade was refused or failed; counts the
 * answer in `tally` (`upgrade 101`, `upgrade 429 Retry-After`, `upgrade error ECONNRESET`, ...).
 */
function upgraded(ws: WebSocket, tally: Tally): Promise<boolean> {
  return new Promise((resolve) => {
    let isSettled = false;
    const settle = (key: string, isOpen: boolean) => {
      if (isSettled) return;
      isSettled = true;
      count(tally, key);
      resolve(isOpen);
    };
    // Errors after the upgrade (a reset by the server) end in 'close', which the caller counts.
    ws.on('error', (err: NodeJS.ErrnoException) => settle(`upgrade error ${err.code ?? err.message}`, false));
    ws.once('open', () => settle('upgrade 101', true));
    ws.once('unexpected-response', (req, res) => {
      settle(`upgrade ${res.statusCode}${res.headers['retry-after'] === undefined ? '' : ' Retry-After'}`, false);
      req.destroy();
    });
  });
}

/** Resolves with the close code `ws` ends with. */
function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/** Closes `ws` and resolves with the code it closed with; one that does not answer in 2 s is cut off (1006). */
async function closeAndWait(ws: WebSocket): Promise<number> {
  ws.close(1000);
  const code = await Promise.race([closed(ws), sleep(2000, 1006)]);
  ws.terminate();
  return code;
}

// ---------------------------------------------------------------------------------------------
// The soak: the server, the crowd and the flooder, the chatters' process, and the figures.

interface Peer {
  ws: WebSocket;
  name: string;
  /** Texts of chatters' messages received, when this peer is checked. */
  heard?: Set<string>;
  droppedWith?: number;
}

/** What the chatters' process reports at the end. */
interface ChatReport {
  sent: string[];
  roundTrips: Record<Phase, number[]>;
  /** Each chatter's round trips, in the order they joined: first, in the middle of the crowd, last. */
  byJoinOrder: Array<ReturnType<typeof summarize>>;
  lost: number;
  droppedWith: number[];
}

async function runSoak(): Promise<void> {
  const root = new URL('..', import.meta.url);
  // The server runs on its store, as by default, in a data directory of its own that goes with the run.
  const dataDir = mkdtempSync(join(tmpdir(), 'plainchat-soak-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const attackSockets = IS_ATTACKING ? CHOSEN_FLOODS.length * ATTACK_ADDRESSES * PEERS_PER_ADDRESS : 0;
  const maxConnections = CONNECTIONS + 100 + attackSockets;
  const { server, port } = await startServerProcess(root, ['--max-connections', String(maxConnections), '--heartbeat-ms', String(HEARTBEAT_MS), '--data-dir', dataDir]);
  const url = `ws://127.0.0.1:${port}/ws`;
  const chat = startRole('chat', port);
  const attacker = IS_ATTACKING ? startRole('attack', port) : undefined;
  // The history the slow readers resume from is written before anything is measured.
  const history = attacker ? ((await ask(attacker, 'seed')) as { epoch: string; seq: number }) : undefined;
  if (history) console.log(`${HISTORY_ROOM}: ${history.seq} messages of 2,000 emoji kept (epoch ${history.epoch})`);

  const rssStart = rssMiBOf(server.pid);
  const cpuAtStart = { server: cpuSecondsOf(server.pid), generator: ownCpuSeconds() };
  const started = Date.now();
  const peers = await connectCrowd(url, chat);
  const connectSeconds = (Date.now() - started) / 1000;
  const cpuAtConnected = { server: cpuSecondsOf(server.pid), generator: ownCpuSeconds() };
  await sleep(1000);
  const rssConnected = rssMiBOf(server.pid);
  const liveConnected = await liveMemory(server);
  console.log(`${CONNECTIONS} connected in ${connectSeconds.toFixed(1)} s; server RSS ${rssStart.toFixed(0)} MiB -> ${rssConnected.toFixed(0)} MiB`);

  const held = await hold(url, server, port, chat, attacker);
  const chatReport = (await ask(chat, 'finish')) as ChatReport;
  // What the attack left open (slow readers, half-open requests) is the server's to end: given time
  // for that, memory should be back where it was before the attack.
  const leftOpen = attacker ? ((await ask(attacker, 'settle')) as Partial<Record<Flood, number>>) : undefined;
  const rssSettled = rssMiBOf(server.pid);
  const liveSettled = await liveMemory(server);
  const attackReport = attacker ? ((await ask(attacker, 'finish')) as AttackReport) : undefined;

  const checked = peers.slice(0, LISTENERS_CHECKED);
  let lost = chatReport.lost;
  for (const peer of checked) for (const text of chatReport.sent) if (!peer.heard!.has(text)) lost++;
  const droppedWith = [...peers.filter((peer) => peer.droppedWith !== undefined).map((peer) => peer.droppedWith!), ...chatReport.droppedWith];
  const dropped = droppedWith.length;
  const droppedByCode: Record<string, number> = {};
  for (const code of droppedWith) droppedByCode[code] = (droppedByCode[code] ?? 0) + 1;

  held.stopFlooder();
  for (const peer of peers) peer.ws.terminate();
  await sleep(HEARTBEAT_MS * 2 + 1000);
  const rssAfter = rssMiBOf(server.pid);
  const liveAfterAllLeft = await liveMemory(server);
  server.kill('SIGTERM');
  await once(server, 'exit');

  const trips = { before: summarize(chatReport.roundTrips.before), during: summarize(chatReport.roundTrips.during), after: summarize(chatReport.roundTrips.after) };
  const rssOf = (phase: Phase) => held.rssSamples.filter((sample) => sample.phase === phase).map((sample) => sample.rss);
  const rssBeforeAttack = rssOf('before').at(-1) ?? rssConnected;
  const rssAfterAttack = rssOf('after').at(-1) ?? NaN;
  const p99Failed = IS_ATTACKING && !(trips.during.p99 < P99_LIMIT_MS);
  const results = {
    date: new Date().toISOString(),
    cores: cpus().length,
    node: process.version,
    connections: CONNECTIONS,
    seconds: SECONDS,
    heartbeatMs: HEARTBEAT_MS,
    serverFlags: `--max-connections ${maxConnections} --heartbeat-ms ${HEARTBEAT_MS}; every budget per address at its default`,
    addresses: `crowd: ${Math.ceil((CONNECTIONS - CHATTERS) / PEERS_PER_ADDRESS)} addresses 127.1.x.y, ${PEERS_PER_ADDRESS} peers each; chatters ${CHAT_ADDRESS}; flooder ${FLOODER_ADDRESS}`,
    connectSeconds,
    cpuDuringConnect: { server: round((cpuAtConnected.server - cpuAtStart.server) / connectSeconds), generator: round((cpuAtConnected.generator - cpuAtStart.generator) / connectSeconds) },
    cpuDuringHold: held.cpuDuringHold,
    chatMessagesSent: chatReport.sent.length,
    listenersChecked: checked.length + CHATTERS,
    messagesLost: lost,
    peersWronglyDropped: dropped,
    droppedByCloseCode: droppedByCode,
    flooderClosedWith1008: held.floodClosed,
    flooderRateLimitedErrors: held.floodRefused,
    phases: { before: `0-${ATTACK_FROM_SECOND} s`, during: `${ATTACK_FROM_SECOND}-${ATTACK_TO_SECOND} s`, after: `${ATTACK_TO_SECOND}-${SECONDS} s`, attacked: IS_ATTACKING },
    chatRoundTripMs: { ...trips, byChatterJoinOrder: chatReport.byJoinOrder },
    cpuByPhase: held.cpuByPhase,
    generatorLoopDelayP99Ms: held.loopDelayP99Ms,
    serverMetrics: held.metrics,
    serverRssMiB: {
      start: round(rssStart),
      connected: round(rssConnected),
      minDuringRun: round(Math.min(...held.rssSamples.map((s) => s.rss))),
      maxDuringRun: round(Math.max(...held.rssSamples.map((s) => s.rss))),
      beforeAttack: round(rssBeforeAttack),
      peakDuringAttack: round(Math.max(...rssOf('during'))),
      peakAfterAttack: round(Math.max(...rssOf('after'))),
      afterAttack: round(rssAfterAttack),
      afterVsBeforeAttack: round(rssAfterAttack / rssBeforeAttack),
      endOfRun: round(held.rssEnd),
      settled: round(rssSettled),
      settledVsBeforeAttack: round(rssSettled / rssBeforeAttack),
      afterAllLeft: round(rssAfter),
      bySecond: held.rssSamples.map((s) => Math.round(s.rss)),
    },
    serverMiBAfterFullGc: { connected: liveConnected, settled: liveSettled, afterAllLeft: liveAfterAllLeft },
    serverKiBPerConnection: round(((rssConnected - rssStart) * 1024) / CONNECTIONS),
    attackLeftOpen: leftOpen,
    attack: attackReport && { floodsRun: CHOSEN_FLOODS, addressesPerFlood: ATTACK_ADDRESSES, historyRoom: { room: HISTORY_ROOM, messages: history?.seq }, ...attackReport },
  };

  printSummary(results, trips, held, attackReport);
  mkdirSync(new URL('bench/results/', root), { recursive: true });
  writeFileSync(new URL('bench/results/soak.json', root), `${JSON.stringify(results, null, 2)}\n`);
  const failures = [lost > 0 && `${lost} messages lost`, dropped > 0 && `${dropped} peers dropped`, p99Failed && `p99 round trip during the attack ${trips.during.p99} ms (limit < ${P99_LIMIT_MS})`].filter(Boolean);
  if (failures.length > 0) console.error(`soak failed: ${failures.join('; ')}`);
  process.exit(failures.length === 0 ? 0 : 1);
}

/**
 * Starts server.ts on a free port of 127.0.0.1 with `flags`, with bench/heap-probe.ts loaded (see
 * `liveMemory`); killed when this process exits.
 */
async function startServerProcess(root: URL, flags: string[]): Promise<{ server: ChildProcess; port: number }> {
  const probe = new URL('bench/heap-probe.ts', root).href;
  const server = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--import', probe, fileURLToPath(new URL('server.ts', root)), '--host', '127.0.0.1', '--port', '0', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await listeningPort(server, 'the server');
  process.on('exit', () => server.kill('SIGKILL'));
  return { server, port };
}

type LiveMemory = Record<'rss' | 'heapUsed' | 'heapTotal' | 'external', number>;

/**
 * The server's memory in MiB after a full garbage collection (bench/heap-probe.ts): what is live,
 * told apart from the RSS the process grew to and kept. Asked only outside the measured hold, since
 * a full collection stops the server for a while.
 */
async function liveMemory(server: ChildProcess): Promise<LiveMemory> {
  const answer = once(server, 'message');
  server.send('memory');
  const bytes = (await answer)[0] as LiveMemory;
  const mib = (n: number) => round(n / 1024 ** 2);
  return { rss: mib(bytes.rss), heapUsed: mib(bytes.heapUsed), heapTotal: mib(bytes.heapTotal), external: mib(bytes.external) };
}

/**
 * Connects the crowd, CONNECTIONS less the chatters, in batches; the chatters' process joins one
 * chatter first, one in the middle and one last, so that their echoes leave at the start, the
 * middle and the end of each fan-out (the room's peers are written in the order they joined).
 */
async function connectCrowd(url: string, chat: ChildProcess): Promise<Peer[]> {
  const crowd = CONNECTIONS - CHATTERS;
  const chatterAt = [0, Math.floor(crowd / 2), crowd];
  let joined = 0;
  const peers: Peer[] = [];
  for (let i = 0; i <= crowd; i += CONNECT_BATCH) {
    for (; joined < CHATTERS && chatterAt[joined]! <= i; joined++) await ask(chat, 'join');
    const batch = Array.from({ length: Math.max(0, Math.min(CONNECT_BATCH, crowd - i)) }, (_, j) => {
      const at = i + j;
      return open(at < LISTENERS_CHECKED ? url : `${url}?room=soak-${Math.floor(at / ROOM_SIZE)}`, crowdAddress(at), at < LISTENERS_CHECKED);
    });
    peers.push(...(await Promise.all(batch)));
  }
  for (; joined < CHATTERS; joined++) await ask(chat, 'join');
  return peers;
}

/** Opens one peer of the crowd from `address`; a checked peer keeps the chat it hears. */
async function open(url: string, address: string, check: boolean): Promise<Peer> {
  const ws = client(url, address);
  const peer: Peer = { ws, name: '' };
  if (check) peer.heard = new Set();
  ws.on('message', (data) => {
    if (!peer.name || peer.heard) {
      const event = JSON.parse(data.toString());
      if (event.type === 'name-generated') peer.name = event.data;
      if (event.type === 'message' && event.data.message.startsWith('chat ')) peer.heard?.add(event.data.message);
    }
  });
  ws.on('close', (code) => (peer.droppedWith ??= code));
  ws.on('error', () => {});
  ws.once('unexpected-response', (_req, res) => {
    console.error(`peer from ${address} refused: ${res.statusCode} ${res.headers['retry-after'] ?? ''}`);
    process.exit(2);
  });
  await once(ws, 'open');
  // Joined once the greeting has arrived: waiting for it paces the join storm to what both ends carry.
  while (!peer.name) await once(ws, 'message');
  return peer;
}

/** Cores busy in a phase: the server, this load generator, the chatters, the attacker, and the whole machine (every process and the kernel). */
interface Cores {
  server: number;
  generator: number;
  chatters: number;
  attacker?: number;
  machine: number;
}

interface Held {
  floodClosed: number;
  floodRefused: number;
  rssSamples: Array<{ phase: Phase; rss: number }>;
  rssEnd: number;
  cpuDuringHold: { server: number; generator: number };
  cpuByPhase: Record<Phase, Cores>;
  loopDelayP99Ms: Record<Phase, number>;
  metrics: Record<string, Record<string, number>>;
  stopFlooder(): void;
}

/** CPU seconds the whole machine has been busy (all cores, every process and the kernel), from /proc/stat. */
function machineBusySeconds(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * Holds the crowd for SECONDS while the chatters send one numbered message a second each and the
 * flooder sends 200 a second (reconnecting whenever it is closed for flooding); the attacker, if
 * any, attacks in the middle third. Samples the server's RSS every second, and at the end of each
 * phase the CPU, this process's event-loop delay and the server's /metrics.
 */
async function hold(url: string, server: ChildProcess, port: number, chat: ChildProcess, attacker: ChildProcess | undefined): Promise<Held> {
  const heldUntil = Date.now() + SECONDS * 1000;
  let flooder = await open(url, FLOODER_ADDRESS, false);
  let floodClosed = 0;
  let floodRefused = 0;
  let isFlooding = true;
  const floodTimer = setInterval(() => {
    if (flooder.ws.readyState !== WebSocket.OPEN) return;
    for (let i = 0; i < 20; i++) flooder.ws.send(`flood ${i}`);
  }, 100);
  const watchFlooder = (peer: Peer) => {
    peer.ws.on('message', (data) => {
      if (data.toString().includes('"rate-limited"')) floodRefused++;
    });
    peer.ws.on('close', (code) => {
      if (code === 1008) floodClosed++;
      if (isFlooding && Date.now() < heldUntil) void open(url, FLOODER_ADDRESS, false).then((next) => watchFlooder((flooder = next)));
    });
  };
  watchFlooder(flooder);
  await ask(chat, 'start');

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpuNow = () => ({
    server: cpuSecondsOf(server.pid),
    generator: ownCpuSeconds(),
    chatters: cpuSecondsOf(chat.pid),
    attacker: attacker ? cpuSecondsOf(attacker.pid) : 0,
    machine: machineBusySeconds(),
  });
  const metrics: Record<string, Record<string, number>> = { atStart: await scrapeMetrics(port) };
  const cpuMarks = [cpuNow()];
  const loopDelayP99Ms: Partial<Record<Phase, number>> = {};
  const rssSamples: Array<{ phase: Phase; rss: number }> = [];
  let phase: Phase = 'before';
  const holdStarted = Date.now();
  /** Closes the phase that ends now: its CPU, its event-loop delay and the server's counters. */
  const endPhase = async (ended: Phase) => {
    cpuMarks.push(cpuNow());
    loopDelayP99Ms[ended] = round(loopDelay.percentile(99) / 1e6);
    loopDelay.reset();
    metrics[`end of ${ended}`] = await scrapeMetrics(port);
  };
  for (let second = 0; second < SECONDS; second++) {
    if (second === ATTACK_FROM_SECOND) {
      await endPhase('before');
      phase = 'during';
      await ask(chat, phase);
      if (attacker) await ask(attacker, 'start');
      console.log(`${second} s: the attack ${attacker ? 'starts' : 'would start (SOAK_ATTACK=0)'}`);
    } else if (second === ATTACK_TO_SECOND) {
      if (attacker) await ask(attacker, 'stop');
      await endPhase('during');
      phase = 'after';
      await ask(chat, phase);
      console.log(`${second} s: the attack ${attacker ? 'ends' : 'would end'}`);
    }
    await sleep(holdStarted + (second + 1) * 1000 - Date.now());
    rssSamples.push({ phase, rss: rssMiBOf(server.pid) });
  }
  clearInterval(floodTimer);
  await endPhase('after');
  await sleep(2000);
  const rssEnd = rssMiBOf(server.pid);
  const holdSeconds = (Date.now() - holdStarted) / 1000;
  const cpuEnd = cpuNow();
  const first = cpuMarks[0]!;
  const phaseSeconds = { before: ATTACK_FROM_SECOND, during: ATTACK_TO_SECOND - ATTACK_FROM_SECOND, after: SECONDS - ATTACK_TO_SECOND };
  const cpuByPhase = {} as Held['cpuByPhase'];
  PHASES.forEach((name, i) => {
    const [from, to] = [cpuMarks[i]!, cpuMarks[i + 1]!];
    const cores = (key: keyof typeof from) => round((to[key] - from[key]) / phaseSeconds[name]);
    cpuByPhase[name] = { server: cores('server'), generator: cores('generator'), chatters: cores('chatters'), ...(attacker && { attacker: cores('attacker') }), machine: cores('machine') };
  });
  return {
    floodClosed,
    floodRefused,
    rssSamples,
    rssEnd,
    cpuDuringHold: { server: round((cpuEnd.server - first.server) / holdSeconds), generator: round((cpuEnd.generator - first.generator) / holdSeconds) },
    cpuByPhase,
    loopDelayP99Ms: loopDelayP99Ms as Record<Phase, number>,
    metrics,
    stopFlooder: () => {
      isFlooding = false;
      flooder.ws.terminate();
    },
  };
}

/** The server's own counters and gauges (GET /metrics, from an address of its own); each scrape resets its event-loop delay p99. */
async function scrapeMetrics(port: number): Promise<Record<string, number>> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => get({ host: '127.0.0.1', port, path: '/metrics', localAddress: METRICS_ADDRESS }, resolve).on('error', reject));
  let text = '';
  for await (const chunk of res) text += chunk;
  const figures: Record<string, number> = {};
  for (const match of text.matchAll(/^(?:plainchat|process)_(\w+) (\S+)$/gm)) figures[match[1]!] = Number(match[2]);
  return figures;
}

function printSummary(results: Record<string, any>, trips: Record<Phase, ReturnType<typeof summarize>>, held: Held, attack: AttackReport | undefined): void {
  const rss = results.serverRssMiB;
  const trip = (phase: Phase) => `${trips[phase].p50} / ${trips[phase].p99} / ${trips[phase].max} (${trips[phase].n})`;
  const cores = (phase: Phase) => {
    const c = held.cpuByPhase[phase];
    return `${c.server} / ${c.generator} / ${c.chatters}${attack ? ` / ${c.attacker}` : ''} / ${c.machine}`;
  };
  const during = attack ? 'during the attack' : 'middle third (no attack)';
  console.table({
    'connections held': CONNECTIONS,
    'seconds held': SECONDS,
    [`chat messages sent (checked at each of ${results.listenersChecked} peers)`]: results.chatMessagesSent,
    'messages lost': results.messagesLost,
    'peers wrongly dropped': `${results.peersWronglyDropped} ${results.peersWronglyDropped ? JSON.stringify(results.droppedByCloseCode) : ''}`,
    'flooder closed with 1008': held.floodClosed,
    'flooder rate-limited errors': held.floodRefused,
    [`chat round trip ms p50 / p99 / max (n), before ${results.phases.before}`]: trip('before'),
    [`chat round trip ms, ${during} ${results.phases.during}`]: trip('during'),
    [`chat round trip ms, after ${results.phases.after}`]: trip('after'),
    'chat round trip p99 ms by chatter (joined first / middle / last)': results.chatRoundTripMs.byChatterJoinOrder.map((s: { p99: number }) => s.p99).join(' / '),
    'server event-loop delay p99 ms before / during / after': PHASES.map((phase) => round((held.metrics[`end of ${phase}`]?.event_loop_delay_p99_seconds ?? NaN) * 1000)).join(' / '),
    'generator event-loop delay p99 ms before / during / after': `${held.loopDelayP99Ms.before} / ${held.loopDelayP99Ms.during} / ${held.loopDelayP99Ms.after}`,
    [`cores before: server / generator / chatters${attack ? ' / attacker' : ''} / machine`]: cores('before'),
    [`cores ${during}`]: cores('during'),
    'cores after': cores('after'),
    'server RSS at start (MiB)': rss.start,
    'server RSS with all connected (MiB)': rss.connected,
    'server RSS before the attack (MiB)': rss.beforeAttack,
    [`server RSS peak ${during} (MiB)`]: rss.peakDuringAttack,
    'server RSS peak after the attack (MiB)': rss.peakAfterAttack,
    [`server RSS ${SECONDS - ATTACK_TO_SECOND} s after the attack (MiB)`]: `${rss.afterAttack} (x${rss.afterVsBeforeAttack} of before)`,
    'server RSS after all left (MiB)': rss.afterAllLeft,
    [`server RSS once the attack's sockets were ended (MiB)`]: `${rss.settled} (x${rss.settledVsBeforeAttack} of before; still open: ${JSON.stringify(results.attackLeftOpen ?? {})})`,
    'server heap used / external after a full GC (MiB): connected, settled, all left': (['connected', 'settled', 'afterAllLeft'] as const)
      .map((when) => `${results.serverMiBAfterFullGc[when].heapUsed} / ${results.serverMiBAfterFullGc[when].external}`)
      .join(', '),
    'server KiB per connection': results.serverKiBPerConnection,
    'seconds to connect all': round(results.connectSeconds),
    'cores busy while connecting: server / generator': `${results.cpuDuringConnect.server} / ${results.cpuDuringConnect.generator}`,
    'cores busy while holding: server / generator': `${held.cpuDuringHold.server} / ${held.cpuDuringHold.generator}`,
  });
  if (!attack) return;
  console.log(`What each flood got (${ATTACK_ADDRESSES} addresses each):`);
  for (const flood of CHOSEN_FLOODS) console.log(`  ${flood}: ${JSON.stringify(attack.floods[flood])}`);
  console.log(`  seconds slow readers were held (n, p50, max): ${JSON.stringify(attack.heldSeconds.slowReaders)}; half-open requests: ${JSON.stringify(attack.heldSeconds.halfOpen)}`);
}

// ---------------------------------------------------------------------------------------------
// The child processes, told what to do over IPC; each command is answered once.

type Role = 'chat' | 'attack';

/** Starts this file in `role`, against the server on `port`. */
function startRole(role: Role, port: number): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, SOAK_ROLE: role, SOAK_PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.once('exit', (code) => {
    if (code !== 0) {
      console.error(`the ${role} process exited with ${code}`);
      process.exit(2);
    }
  });
  process.on('exit', () => child.kill('SIGKILL'));
  return child;
}

/** Sends `command` to a child and resolves with its answer. */
async function ask(child: ChildProcess, command: string): Promise<unknown> {
  const answer = once(child, 'message');
  child.send(command);
  return (await answer)[0];
}

/** Runs a child's commands one after another, answering each; exits after `finish`. */
async function serveRole(role: Role, port: number): Promise<void> {
  const commands = role === 'chat' ? new Chatters(port).commands() : new Attacker(port).commands();
  for await (const [command] of on(process, 'message')) {
    const run = commands[command as string];
    if (!run) throw new Error(`the ${role} process has no command "${String(command)}"`);
    const answer = await run();
    await new Promise((resolve) => process.send!(answer, undefined, {}, resolve));
    if (command === 'finish') process.exit(0);
  }
}

interface ChatPeer {
  ws: WebSocket;
  name: string;
  heard: Set<string>;
  /** Round trips of its own messages, in ms. */
  trips: number[];
  droppedWith?: number;
}

/**
 * The chatting peers, in a process of their own, so that a round trip (send, until the sender's own
 * echo) is the server's and the machine's, not the wait in the crowd's event loop.
 */
class Chatters {
  readonly #url: string;
  readonly #peers: ChatPeer[] = [];
  readonly #sent: string[] = [];
  readonly #unanswered = new Map<string, { at: number; phase: Phase }>();
  readonly #roundTrips: Record<Phase, number[]> = { before: [], during: [], after: [] };
  #phase: Phase = 'before';
  #timer: NodeJS.Timeout | undefined;
  #sequence = 0;

  constructor(port: number) {
    this.#url = `ws://127.0.0.1:${port}/ws`;
  }

  commands(): Record<string, () => unknown> {
    return {
      join: () => this.#join(),
      start: () => this.#start(),
      during: () => (this.#phase = 'during'),
      after: () => (this.#phase = 'after'),
      finish: () => this.#finish(),
    };
  }

  /** One more chatter, from CHAT_ADDRESS; resolves with its name once greeted. */
  async #join(): Promise<string> {
    const ws = client(this.#url, CHAT_ADDRESS);
    const peer: ChatPeer = { ws, name: '', heard: new Set(), trips: [] };
    ws.on('message', (data) => {
      const event = JSON.parse(data.toString());
      if (event.type === 'name-generated') peer.name = event.data;
      if (event.type !== 'message' || !event.data.message.startsWith('chat ')) return;
      peer.heard.add(event.data.message);
      const sent = event.data.sender === peer.name ? this.#unanswered.get(event.data.message) : undefined;
      if (!sent) return;
      const ms = performance.now() - sent.at;
      this.#roundTrips[sent.phase].push(ms);
      peer.trips.push(ms);
      this.#unanswered.delete(event.data.message);
    });
    ws.on('close', (code) => (peer.droppedWith ??= code));
    ws.on('error', () => {});
    await once(ws, 'open');
    while (!peer.name) await once(ws, 'message');
    this.#peers.push(peer);
    return peer.name;
  }

  /** Each chatter sends one numbered message a second. */
  #start(): string {
    this.#timer = setInterval(() => {
      for (const peer of this.#peers) {
        const text = `chat ${peer.name} ${this.#sequence}`;
        this.#unanswered.set(text, { at: performance.now(), phase: this.#phase });
        peer.ws.send(text);
        this.#sent.push(text);
      }
      this.#sequence++;
    }, 1000);
    return 'started';
  }

  /** Stops, waits 2 s for the last echoes, and reports what every chatter heard. */
  async #finish(): Promise<ChatReport> {
    clearInterval(this.#timer);
    await sleep(2000);
    let lost = 0;
    for (const peer of this.#peers) for (const text of this.#sent) if (!peer.heard.has(text)) lost++;
    const droppedWith = this.#peers.filter((peer) => peer.droppedWith !== undefined).map((peer) => peer.droppedWith!);
    for (const peer of this.#peers) peer.ws.terminate();
    return { sent: this.#sent, roundTrips: this.#roundTrips, byJoinOrder: this.#peers.map((peer) => summarize(peer.trips)), lost, droppedWith };
  }
}

// ---------------------------------------------------------------------------------------------
// The attacker process: seed, start, stop, finish.

interface AttackReport {
  floods: Record<Flood, Tally>;
  heldSeconds: { slowReaders: ReturnType<typeof summarize>; halfOpen: ReturnType<typeof summarize> };
}

/** Opens a WebSocket by hand on a raw socket from `localAddress`: resolves with the upgrade's status (0: none) and the bytes after its head. */
function rawUpgrade(port: number, path: string, localAddress: string): Promise<{ socket: Socket; status: number; retryAfter: boolean; rest: Buffer }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const text = head.toString('latin1', 0, end);
      resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), retryAfter: /\r\nretry-after:/i.test(text), rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.once('close', () => resolve({ socket, status: 0, retryAfter: false, rest: Buffer.alloc(0) }));
    socket.once('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
  });
}

/** A masked client frame (RFC 6455 section 5.2) with a payload of at most 125 bytes. */
function maskedFrame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const mask = randomBytes(4);
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}

const OPCODE = { close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Reads the server's (unmasked) frames from chunks, calling `onFrame` with each whole one. */
function frameReader(onFrame: (opcode: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buffered: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      let length = buffered[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffered.length < offset + length) return;
      onFrame(buffered[0]! & 0x0f, buffered.subarray(offset, offset + length));
      buffered = buffered.subarray(offset + length);
    }
  };
}

/** Counts the status lines and Retry-After headers of HTTP responses on `socket`, however they are split across chunks. */
function countResponses(socket: Socket, tally: Tally): void {
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    const text = pending + chunk.toString('latin1');
    const pattern = /HTTP\/1\.1 (\d{3})|\r\nRetry-After: /g;
    let end = 0;
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      count(tally, match[1] ? `status ${match[1]}` : 'Retry-After headers');
      end = pattern.lastIndex;
    }
    pending = text.slice(Math.max(end, text.length - 16));
  });
}

/** The six floods, each from ATTACK_ADDRESSES addresses of its own, and what each was answered. */
class Attacker {
  readonly #port: number;
  readonly #url: string;
  #epoch = '';
  #isRunning = false;
  #stoppedAt = 0;
  #loops: Array<Promise<void>> = [];
  /** What the floods leave open when they stop, for the server to end, and the flood each belongs to. */
  readonly #open = new Map<() => void, Flood>();
  readonly #tallies = Object.fromEntries(FLOODS.map((flood) => [flood, {}])) as Record<Flood, Tally>;
  readonly #heldSeconds = { slowReaders: [] as number[], halfOpen: [] as number[] };
  #rooms = 0;

  constructor(port: number) {
    this.#port = port;
    this.#url = `ws://127.0.0.1:${port}/ws`;
  }

  /**
   * Fills HISTORY_ROOM with HISTORY_MESSAGES big messages, a connection's burst at a time from
   * addresses of its own (five connections an address, within the address's burst), and returns
   * the room's position.
   */
  async seed(): Promise<{ epoch: string; seq: number }> {
    for (let visit = 0; ; visit++) {
      const address = `${SEED_ADDRESS_PREFIX}${Math.floor(visit / 5) + 1}`;
      const ws = client(`${this.#url}?room=${HISTORY_ROOM}`, address);
      let name = '';
      let echoes = 0;
      let synced: { epoch: string; seq: number } | undefined;
      ws.on('message', (data: Buffer) => {
        if (data.length > 1000) {
          if (name && data.subarray(0, 100).includes(`"sender":"${name}"`)) echoes++;
          return;
        }
        const event = JSON.parse(data.toString());
        if (event.type === 'name-generated') name = event.data;
        if (event.type === 'synced') synced = event.data;
      });
      if (!(await upgraded(ws, {}))) throw new Error(`seeding from ${address} was refused`);
      while (!synced) await once(ws, 'message');
      const toSend = Math.min(CONNECTION_BURST, HISTORY_MESSAGES - synced.seq);
      for (let i = 0; i < toSend; i++) ws.send(BIG_MESSAGE);
      const deadline = Date.now() + 5000;
      while (echoes < toSend && Date.now() < deadline) await sleep(10);
      await closeAndWait(ws);
      if (toSend === 0) {
        this.#epoch = synced.epoch;
        return synced;
      }
    }
  }

  commands(): Record<string, () => unknown> {
    return { seed: () => this.seed(), start: () => this.start(), stop: () => this.stop(), settle: () => this.settle(), finish: () => this.finish() };
  }

  /** Starts every flood from its addresses; each loops until `stop`. */
  start(): string {
    this.#isRunning = true;
    const loops: Array<(address: string, tally: Tally) => Promise<void>> = [
      (a, t) => Promise.all([this.#reconnect(a, t), this.#reconnect(a, t)]).then(() => {}),
      (a, t) => this.#roomChurn(a, t),
      (a, t) => Promise.all([this.#roomsList(a, t), this.#roomsList(a, t)]).then(() => {}),
      (a, t) => this.#slowReaders(a, t),
      (a, t) => this.#halfOpen(a, t),
      (a, t) => this.#pingFlood(a, t),
    ];
    loops.forEach((loop, flood) => {
      if (!CHOSEN_FLOODS.includes(FLOODS[flood]!)) return;
      for (let n = 0; n < ATTACK_ADDRESSES; n++) this.#loops.push(loop(attackAddress(flood, n), this.#tallies[FLOODS[flood]!]));
    });
    return 'started';
  }

  /** Stops opening anything; what is open stays open, for the server to end. */
  stop(): string {
    this.#isRunning = false;
    this.#stoppedAt = Date.now();
    return 'stopped';
  }

  /**
   * Waits until the server has ended every slow reader and half-open request left open, or until
   * SETTLE_MS after `stop`; answers how many are still open, by flood.
   */
  async settle(): Promise<Partial<Record<Flood, number>>> {
    const isLeft = (flood: Flood) => flood === 'slowReaders' || flood === 'halfOpen';
    while ([...this.#open.values()].some(isLeft) && Date.now() < this.#stoppedAt + SETTLE_MS) await sleep(250);
    const left: Partial<Record<Flood, number>> = {};
    for (const flood of this.#open.values()) if (isLeft(flood)) left[flood] = (left[flood] ?? 0) + 1;
    return left;
  }

  /** Waits (bounded) for the loops to end, closes what the server has not, and reports. */
  async finish(): Promise<AttackReport> {
    this.#isRunning = false;
    await Promise.race([Promise.all(this.#loops), sleep(20_000)]);
    for (const [end, flood] of this.#open) {
      count(this.#tallies[flood], 'still open at the end');
      end();
    }
    return { floods: this.#tallies, heldSeconds: { slowReaders: summarize(this.#heldSeconds.slowReaders), halfOpen: summarize(this.#heldSeconds.halfOpen) } };
  }

  /** Keeps `end` until `closing` settles: what is open then is ended at `finish`. */
  #track(flood: Flood, end: () => void, closing: Promise<unknown>): void {
    this.#open.set(end, flood);
    void closing.then(() => this.#open.delete(end));
  }

  /** Connect, send a connection's whole burst of big messages, hear what was taken, close; again. */
  async #reconnect(address: string, tally: Tally): Promise<void> {
    while (this.#isRunning) {
      const ws = client(`${this.#url}?room=${FLOOD_ROOM}`, address);
      let name = '';
      ws.on('message', (data: Buffer) => {
        if (data.length > 1000) {
          if (name && data.subarray(0, 100).includes(`"sender":"${name}"`)) count(tally, 'messages taken (own echoes)');
          return;
        }
        const event = JSON.parse(data.toString());
        if (event.type === 'name-generated') name = event.data;
        else if (event.type === 'error') count(tally, `error ${event.data.code}`);
      });
      if (await upgraded(ws, tally)) {
        for (let i = 0; i < CONNECTION_BURST; i++) ws.send(BIG_MESSAGE);
        count(tally, 'messages sent', CONNECTION_BURST);
        await sleep(300);
        count(tally, `closed ${await closeAndWait(ws)}`);
      }
      await sleep(50);
    }
  }

  /** Connect and close into a room nobody has opened, ten times a second. */
  async #roomChurn(address: string, tally: Tally): Promise<void> {
    const prefix = `atk-${address.split('.').slice(2).join('-')}`;
    while (this.#isRunning) {
      const ws = client(`${this.#url}?room=${prefix}-${this.#rooms++}`, address);
      if (await upgraded(ws, tally)) count(tally, `closed ${await closeAndWait(ws)}`);
      await sleep(100);
    }
  }

  /** Ten pipelined `GET /rooms` on a keep-alive socket every 100 ms; a socket the server ends is replaced. */
  async #roomsList(address: string, tally: Tally): Promise<void> {
    const requests = `GET /rooms HTTP/1.1\r\nHost: 127.0.0.1:${this.#port}\r\n\r\n`.repeat(10);
    while (this.#isRunning) {
      const socket = connect({ host: '127.0.0.1', port: this.#port, localAddress: address });
      const ended = once(socket, 'close');
      socket.on('error', () => {});
      countResponses(socket, tally);
      this.#track('roomsList', () => socket.destroy(), ended);
      count(tally, 'sockets');
      await Promise.race([once(socket, 'connect'), ended]);
      while (this.#isRunning && !socket.destroyed) {
        socket.write(requests);
        count(tally, 'requests sent', 10);
        await sleep(100);
      }
      if (socket.destroyed) count(tally, 'sockets the server ended');
      await sleep(100);
    }
  }

  /**
   * Resume from seq 0 into the room of long history and read nothing, with a pong every 2 s to
   * look alive; up to SLOW_READERS_PER_ADDRESS at once (the cap per address), five attempts a second.
   */
  async #slowReaders(address: string, tally: Tally): Promise<void> {
    let open = 0;
    while (this.#isRunning) {
      if (open < SLOW_READERS_PER_ADDRESS) {
        const ws = client(`${this.#url}?room=${HISTORY_ROOM}&epoch=${this.#epoch}&lastSeq=0`, address);
        if (await upgraded(ws, tally)) {
          ws.pause();
          open++;
          const openedAt = Date.now();
          const pongs = setInterval(() => {
            if (ws.readyState !== WebSocket.OPEN) return;
            ws.pong();
            count(tally, 'pongs sent');
          }, 2000);
          const closing = closed(ws).then((code) => {
            clearInterval(pongs);
            open--;
            count(tally, `closed ${code}`);
            this.#heldSeconds.slowReaders.push((Date.now() - openedAt) / 1000);
          });
          this.#track('slowReaders', () => ws.terminate(), closing);
        }
      }
      await sleep(200);
    }
  }

  /** Raw sockets that send an unfinished request and then nothing; HALF_OPEN_PER_ADDRESS at once (10 past the cap), 20 openings a second. */
  async #halfOpen(address: string, tally: Tally): Promise<void> {
    let open = 0;
    while (this.#isRunning) {
      if (open < HALF_OPEN_PER_ADDRESS) {
        open++;
        const socket = connect({ host: '127.0.0.1', port: this.#port, localAddress: address });
        const openedAt = Date.now();
        let status = '';
        socket.on('error', () => {});
        socket.once('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${this.#port}\r\nUser-Agent: soak`));
        socket.on('data', (chunk: Buffer) => (status ||= /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? ''));
        const closing = once(socket, 'close').then(() => {
          open--;
          count(tally, status ? `answered ${status}` : 'closed without an answer');
          if (status !== '503') this.#heldSeconds.halfOpen.push((Date.now() - openedAt) / 1000);
        });
        this.#track('halfOpen', () => socket.destroy(), closing);
      }
      await sleep(50);
    }
  }

  /** A raw WebSocket that writes PINGS_PER_WRITE pings at once, then answers the server's close; once a second. */
  async #pingFlood(address: string, tally: Tally): Promise<void> {
    const pings = Buffer.concat(Array.from({ length: PINGS_PER_WRITE }, () => maskedFrame(OPCODE.ping)));
    while (this.#isRunning) {
      const { socket, status, retryAfter, rest } = await rawUpgrade(this.#port, `/ws?room=${PING_ROOM}`, address);
      count(tally, `upgrade ${status}${retryAfter ? ' Retry-After' : ''}`);
      if (status === 101) {
        const ended = once(socket, 'close');
        let closeCode = 0;
        const read = frameReader((opcode, payload) => {
          if (opcode === OPCODE.pong) count(tally, 'pongs received');
          if (opcode !== OPCODE.close) return;
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          socket.end(maskedFrame(OPCODE.close, payload.subarray(0, 2)));
        });
        socket.on('data', read);
        read(rest);
        socket.write(pings);
        count(tally, 'pings written', PINGS_PER_WRITE);
        await Promise.race([ended, sleep(15_000)]);
        socket.destroy();
        count(tally, closeCode ? `closed ${closeCode}` : 'ended without a close frame');
      } else {
        socket.destroy();
      }
      await sleep(1000);
    }
  }
}

// Last, so that every declaration above is initialized before either role runs.
const role = process.env.SOAK_ROLE;
if (role === 'chat' || role === 'attack') await serveRole(role, Number(process.env.SOAK_PORT));
else await runSoak();
