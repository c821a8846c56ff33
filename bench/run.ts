// `npm run bench`: measures plainchat against a bare `ws` broadcast server (bench/baseline.ts) in the
// same run, each as its own process on this machine, driven by this process through cheap raw
// WebSocket clients (bench/ws-client.ts). Prints one table of figures, each for plainchat, for the
// baseline and as their ratio, with the targets, and writes it all to bench/results/bench.json.
//
// Scenarios, each run on the baseline and then on plainchat, with a fresh server process each:
//   throughput  BENCH_PEERS peers in one room, BENCH_SENDERS of them sending; the offered rate doubles
//               from 25 msgs/s until a step fails, then two bisection steps. A step holds when every
//               message reached every peer (the sender too) and p99 latency < 100 ms.
//   workers     the throughput scenario on plainchat run as `--workers 2` over a `redis-server` this
//               run starts (skipped with a notice where there is none), beside 1 process in memory;
//               then the join scenario the same way, beside 1 process --memory measured right after.
//   latency     BENCH_PEERS peers, BENCH_LATENCY_RATE msgs/s for 10 s after 2 s unmeasured: p50, p99, max.
//   join        for each N in BENCH_JOIN, N peers connect at once into one room (after three storms
//               of 1,000, unmeasured, into other rooms): time until all are ready, and presence bytes
//               against the floor N² × average name length; the median of three such storms.
//   history     plainchat only, on its store beside --memory: one peer says BENCH_HISTORY messages of
//               200 characters into one room (history kept at its default of 100,000 a room); the
//               server's live heap after a full GC before and after, per message kept.
//   idle        BENCH_IDLE peers in rooms of 100, every setting at its default: server RSS growth
//               per connection, then (after a full GC in the server, through bench/heap-probe.ts)
//               live heap per connection and how far the V8 heap grew. Then, on a fresh server
//               pinging each peer every BENCH_HEARTBEAT_MS, the latency scenario beside them.
//
// Settings (environment): BENCH_PEERS (1000), BENCH_SENDERS (10), BENCH_STEP_SECONDS (4),
// BENCH_LATENCY_RATE (50), BENCH_JOIN (1000,5000), BENCH_IDLE (10000), BENCH_CONNECT_CONCURRENCY
// (256 handshakes in flight, within the listen backlog), BENCH_HEARTBEAT_MS (1000, idle scenario),
// BENCH_HISTORY (50000), BENCH_ONLY (comma-separated scenario names; default all).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Comparison, plainchatAtMost, plainchatBelow, plainchatIsYes, ratioAtLeast, ratioAtMost, round } from './comparison.ts';
import { measureCores, rssKiB, startRedis, startServer, type Cores, type Kind, type Server } from './servers.ts';
import { startsWith, Tally } from './tally.ts';
import { WsClient } from './ws-client.ts';

const SCENARIOS = ['throughput', 'workers', 'latency', 'join', 'history', 'idle'];

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** Whole numbers above 0, comma-separated, from the environment variable `name`; a mistake stops the run with a message. */
function counts(name: string, fallback: string): number[] {
  const raw = process.env[name] || fallback;
  const values = raw.split(',').map(Number);
  if (!values.every((v) => Number.isInteger(v) && v > 0)) fail(`${name} takes whole numbers above 0, got "${raw}"`);
  return values;
}

function count(name: string, fallback: number): number {
  const [value, ...rest] = counts(name, String(fallback));
  if (rest.length > 0) fail(`${name} takes one number, got "${process.env[name]}"`);
  return value!;
}

const settings = {
  peers: count('BENCH_PEERS', 1000),
  senders: count('BENCH_SENDERS', 10),
  stepSeconds: count('BENCH_STEP_SECONDS', 4),
  latencyRate: count('BENCH_LATENCY_RATE', 50),
  latencySeconds: 10,
  join: counts('BENCH_JOIN', '1000,5000'),
  idle: count('BENCH_IDLE', 10_000),
  idleRoomSize: 100,
  connectConcurrency: count('BENCH_CONNECT_CONCURRENCY', 256),
  heartbeatMs: count('BENCH_HEARTBEAT_MS', 1000),
  history: count('BENCH_HISTORY', 50_000),
  only: (process.env.BENCH_ONLY || SCENARIOS.join(',')).split(','),
};
const unknownScenario = settings.only.find((name) => !SCENARIOS.includes(name));
if (unknownScenario) fail(`BENCH_ONLY takes ${SCENARIOS.join(', ')}, got "${unknownScenario}"`);
const P99_LIMIT_MS = 100;
const WARM_UP_SECONDS = 2;
const WARM_UP_STORMS = 3;
const WARM_UP_PEERS = 1000;
const JOIN_STORMS = 3;
const DELIVERY_WAIT_MS = 3000;
const READY_TIMEOUT_MS = 60_000;
/** The doubling stops here even if every step held, so that a run always ends. */
const MAX_RATE = 25 * 2 ** 12;
const SYNCED = Buffer.from('{"type":"synced"');
const root = new URL('..', import.meta.url);

async function waitUntil(isDone: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!isDone()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

interface Crowd {
  clients: WsClient[];
  ready: number;
  /** Closed before they were ready (refused, reset, timed out). */
  failed: number;
  /** Every close we did not ask for, by reason, including those after ready. */
  closes: Record<string, number>;
  closed: number;
  /** From the first connect until all were ready; NaN if some never were. */
  seconds: number;
}

/**
 * Connects `n` peers, at most `settings.connectConcurrency` handshakes at a time, and waits until all
 * are ready: a baseline peer at its 101, a plainchat peer at `synced`, the end of its greeting.
 */
async function connectAll(server: Server, n: number, room: (i: number) => string, tally: Tally): Promise<Crowd> {
  const crowd: Crowd = { clients: [], ready: 0, failed: 0, closes: {}, closed: 0, seconds: NaN };
  const started = performance.now();
  let inFlight = 0;
  const openOne = (i: number) => {
    let isHandshaking = true;
    let isReady = false;
    const settle = () => {
      if (!isHandshaking) return;
      isHandshaking = false;
      inFlight--;
      launch();
    };
    const becomeReady = () => {
      isReady = true;
      if (++crowd.ready === n) crowd.seconds = (performance.now() - started) / 1000;
    };
    const client = new WsClient({
      port: server.port,
      path: `/ws?room=${room(i)}`,
      onOpen() {
        settle();
        if (server.kind === 'baseline') becomeReady();
      },
      onText(buf, start, end, now) {
        if (!isReady && startsWith(buf, start, end, SYNCED)) becomeReady();
        tally.record(buf, start, end, now);
      },
      onClose(reason) {
        settle();
        crowd.closed++;
        crowd.closes[reason] = (crowd.closes[reason] ?? 0) + 1;
        if (!isReady) crowd.failed++;
      },
    });
    crowd.clients.push(client);
  };
  const launch = () => {
    while (inFlight < settings.connectConcurrency && crowd.clients.length < n) {
      inFlight++;
      openOne(crowd.clients.length);
    }
  };
  launch();
  await waitUntil(() => crowd.ready + crowd.failed >= n, READY_TIMEOUT_MS);
  if (crowd.ready < n) console.log(`  ${server.kind}: only ${crowd.ready} of ${n} peers ready; closes: ${JSON.stringify(crowd.closes)}`);
  return crowd;
}

function closeAll(crowd: Crowd): void {
  for (const client of crowd.clients) client.close();
}

/** Waits until the crowd has received nothing for half a second, so a step's backlog does not spill into the next. */
async function waitQuiet(crowd: Crowd): Promise<void> {
  const received = () => crowd.clients.reduce((sum, client) => sum + client.bytesIn, 0);
  let last = -1;
  for (let waited = 0; waited < 30_000 && received() !== last; waited += 500) {
    last = received();
    await sleep(500);
  }
}

interface Load {
  rate: number;
  sent: number;
  allDelivered: boolean;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** While sending and waiting for the deliveries. */
  cores: Cores;
}

/**
 * Offers `rate` messages a second in all, spread over the crowd's first `settings.senders` peers, for
 * `seconds`, then waits up to 3 s for every message to reach every peer of the crowd.
 */
async function runLoad(server: Server, crowd: Crowd, tally: Tally, rate: number, seconds: number): Promise<Load> {
  const senders = crowd.clients.slice(0, settings.senders);
  const first = tally.startWindow();
  const coresSince = measureCores(server);
  let sent = 0;
  await new Promise<void>((resolve) => {
    const started = performance.now();
    // A timer fires late under load, so each tick sends whatever the elapsed time says is due.
    const timer = setInterval(() => {
      const elapsedMs = Math.min(performance.now() - started, seconds * 1000);
      for (const due = Math.floor((elapsedMs / 1000) * rate); sent < due; sent++) {
        senders[sent % senders.length]!.sendText(tally.nextMessage(performance.now()));
      }
      if (elapsedMs >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  const peers = crowd.clients.length;
  await waitUntil(() => tally.deliveries >= sent * peers, DELIVERY_WAIT_MS);
  const allDelivered = tally.deliveries === sent * peers && tally.hasReachedAll(first, peers);
  const load = {
    rate,
    sent,
    allDelivered,
    p50Ms: round(tally.percentile(0.5), 1),
    p99Ms: round(tally.percentile(0.99), 1),
    maxMs: round(tally.maxMs, 1),
    cores: coresSince(),
  };
  console.log(
    `  ${server.kind} ${rate} msgs/s to ${peers}: p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, all delivered: ${allDelivered}` +
      `${crowd.closed ? `, closes ${JSON.stringify(crowd.closes)}` : ''}; cores ${JSON.stringify(load.cores)}`,
  );
  return load;
}

async function throughput(kind: Kind, flags: string[] = []) {
  const tally = new Tally();
  let server = await startServer(kind, flags);
  let crowd = await connectAll(server, settings.peers, () => 'bench', tally);
  const steps: Array<Load & { holds: boolean }> = [];
  const step = async (rate: number): Promise<boolean> => {
    // Peers lost in a failed step (plainchat drops slow consumers) would fail every step after it.
    if (crowd.closed > 0 || crowd.ready < settings.peers) {
      closeAll(crowd);
      await server.stop();
      server = await startServer(kind, flags);
      crowd = await connectAll(server, settings.peers, () => 'bench', tally);
    }
    const load = await runLoad(server, crowd, tally, rate, settings.stepSeconds);
    const holds = load.allDelivered && load.p99Ms < P99_LIMIT_MS && crowd.closed === 0;
    steps.push({ ...load, holds });
    await waitQuiet(crowd);
    return holds;
  };
  let held = 0;
  let failed = 0;
  for (let rate = 25; rate <= MAX_RATE && failed === 0; rate *= 2) {
    if (await step(rate)) held = rate;
    else failed = rate;
  }
  for (let i = 0; i < 2 && failed > 0; i++) {
    const rate = Math.round((held + failed) / 2);
    if (await step(rate)) held = rate;
    else failed = rate;
  }
  closeAll(crowd);
  const disk = await server.stop();
  const best = steps.find((s) => s.holds && s.rate === held);
  return {
    disk,
    heldMsgsPerSecond: held,
    deliveriesPerSecond: held * settings.peers,
    p99Ms: best?.p99Ms ?? NaN,
    cores: best?.cores ?? { server: NaN, generator: NaN, others: NaN },
    steps,
  };
}

/** Runs the load unmeasured for a while, so that what is measured is a server whose code is compiled. */
async function warmUp(server: Server, crowd: Crowd, tally: Tally): Promise<void> {
  await runLoad(server, crowd, tally, settings.latencyRate, WARM_UP_SECONDS);
  await waitQuiet(crowd);
}

async function latency(kind: Kind) {
  const tally = new Tally();
  const server = await startServer(kind);
  const crowd = await connectAll(server, settings.peers, () => 'bench', tally);
  await warmUp(server, crowd, tally);
  const load = await runLoad(server, crowd, tally, settings.latencyRate, settings.latencySeconds);
  closeAll(crowd);
  await server.stop();
  return { ...load, closes: crowd.closes };
}

async function join(kind: Kind, flags: string[] = [], sizes = settings.join) {
  const results = [];
  for (const n of sizes) {
    const server = await startServer(kind, flags);
    // Unmeasured storms first, each in a room of its own, so that the measured ones run code the JIT
    // has optimized: the first thousand joins on a fresh process run at about half speed.
    for (let i = 0; i < WARM_UP_STORMS; i++) closeAll(await connectAll(server, WARM_UP_PEERS, () => `warm-up-${i}`, new Tally({ countsMessages: false })));
    await sleep(1000);
    // A storm lasts a fraction of a second, so one is at the mercy of the machine's noise: the
    // storm reported is the median of three, each into a fresh room.
    const storms = [];
    for (let i = 0; i < JOIN_STORMS; i++) {
      const tally = new Tally();
      const coresSince = measureCores(server);
      const crowd = await connectAll(server, n, () => `join-${i}`, tally);
      const cores = coresSince();
      // Presence diffs keep arriving after the last peer is ready.
      await sleep(1000);
      storms.push({
        peers: n,
        seconds: round(crowd.seconds, 3),
        ready: crowd.ready,
        presenceBytes: tally.presenceBytes,
        averageNameBytes: tally.names ? round(tally.nameBytes / tally.names) : NaN,
        closes: crowd.closes,
        cores,
      });
      console.log(`  ${kind} join ${n}: ${crowd.ready} ready in ${round(crowd.seconds)} s, presence ${tally.presenceBytes} bytes; cores ${JSON.stringify(cores)}`);
      closeAll(crowd);
      await sleep(1000);
    }
    await server.stop();
    // A storm that never completed (NaN) sorts last, so it is the median only if most did not complete.
    const sorted = [...storms].sort((a, b) => (Number.isNaN(a.seconds) ? 1 : Number.isNaN(b.seconds) ? -1 : a.seconds - b.seconds));
    results.push({ ...sorted[Math.floor(sorted.length / 2)]!, storms });
  }
  return results;
}

/**
 * What history costs the server's memory: one peer says `settings.history` messages, a thousand in
 * flight at a time, and the live heap after a full GC is compared before and after.
 */
async function history(flags: string[] = []) {
  const server = await startServer('plainchat', flags);
  const text = 'x'.repeat(200);
  let echoed = 0;
  let isReady = false;
  const sender = new WsClient({
    port: server.port,
    path: '/ws?room=history',
    onOpen() {},
    onText(buf, start, end) {
      if (startsWith(buf, start, end, SYNCED)) isReady = true;
      else if (isReady) echoed++;
    },
    onClose() {},
  });
  await waitUntil(() => isReady, READY_TIMEOUT_MS);
  const before = await server.memory();
  for (let sent = 0; sent < settings.history; ) {
    for (const end = Math.min(sent + 1000, settings.history); sent < end; sent++) sender.sendText(`{"type":"message","data":"${text} ${sent}"}`);
    await waitUntil(() => echoed >= sent, READY_TIMEOUT_MS);
  }
  const after = await server.memory();
  sender.close();
  await server.stop();
  const bytesPerMessage = (after.heapUsed - before.heapUsed) / settings.history;
  console.log(`  plainchat ${flags.join(' ') || 'store'}: ${settings.history} messages kept, live heap +${round(bytesPerMessage)} B each`);
  return { messages: settings.history, echoed, heapBytesPerMessage: round(bytesPerMessage), rssGrowthMiB: round((after.rss - before.rss) / 1024 ** 2) };
}

/** plainchat on its store beside --memory; the baseline keeps no history. */
async function historyScenario() {
  if (!settings.only.includes('history')) return undefined;
  try {
    console.log('history: plainchat, store on disk');
    const store = await history();
    console.log('history: plainchat --memory');
    return { store, memory: await history(['--memory']) };
  } catch (err) {
    errors['history'] = (err as Error).message;
    console.log(`history failed: ${errors['history']}`);
    return undefined;
  }
}

/**
 * The baseline has neither rooms nor heartbeats: its idle peers get every chat message too, so its
 * latency here is that of a broadcast to all of them; the latency target is plainchat's alone.
 */
async function idle(kind: Kind, flags: string[] = []) {
  const idleRoom = (i: number) => `idle-${Math.floor(i / settings.idleRoomSize)}`;
  // Memory with every setting at its default: what an operator's idle peers cost.
  const server = await startServer(kind, flags);
  await sleep(1000);
  const rssStart = rssKiB(server.pid);
  const heapStart = await server.memory();
  const holders = await connectAll(server, settings.idle, idleRoom, new Tally({ countsMessages: false }));
  await sleep(3000);
  const rssConnected = rssKiB(server.pid);
  const heapConnected = await server.memory();
  closeAll(holders);
  await server.stop();
  // Then the same idle peers pinged every BENCH_HEARTBEAT_MS while a room beside them chats.
  const pinging = await startServer(kind, ['--heartbeat-ms', String(settings.heartbeatMs), ...flags]);
  const pinged = await connectAll(pinging, settings.idle, idleRoom, new Tally({ countsMessages: false }));
  const tally = new Tally();
  const crowd = await connectAll(pinging, settings.peers, () => 'bench', tally);
  await warmUp(pinging, crowd, tally);
  const load = await runLoad(pinging, crowd, tally, settings.latencyRate, settings.latencySeconds);
  closeAll(pinged);
  closeAll(crowd);
  await pinging.stop();
  return {
    rssStartKiB: rssStart,
    rssConnectedKiB: rssConnected,
    kibPerConnection: round((rssConnected - rssStart) / settings.idle),
    // Measured after the RSS figure, with a full collection in between: what each peer holds, apart from what the heap grew to.
    liveHeapKibPerConnection: round((heapConnected.heapUsed - heapStart.heapUsed) / 1024 / settings.idle),
    rssAfterGcKibPerConnection: round((heapConnected.rss - heapStart.rss) / 1024 / settings.idle),
    heapTotalGrowthMiB: round((heapConnected.heapTotal - heapStart.heapTotal) / 1024 ** 2),
    idleReady: holders.ready,
    idleClosed: holders.closed + pinged.closed,
    idleCloses: { ...holders.closes, ...pinged.closes },
    ...load,
  };
}

/** Each scenario's figures for the baseline, plainchat on its store (the default), and plainchat with `--memory` where it is measured. */
type ByKind<T> = Record<Kind, T> & { memory?: T };

const errors: Record<string, string> = {};

/**
 * Runs a scenario on the baseline and then on plainchat (on its store), and with `alsoInMemory` on
 * plainchat `--memory` too, unless BENCH_ONLY leaves it out. A server that cannot start fails its
 * scenario, and the run goes on with the next.
 */
async function onBoth<T>(name: string, run: (kind: Kind, flags?: string[]) => Promise<T>, alsoInMemory = false): Promise<ByKind<T> | undefined> {
  if (!settings.only.includes(name)) return undefined;
  try {
    console.log(`${name}: baseline`);
    const baseline = await run('baseline');
    console.log(`${name}: plainchat, store on disk`);
    const plainchat = await run('plainchat');
    if (!alsoInMemory) return { baseline, plainchat };
    console.log(`${name}: plainchat --memory`);
    return { baseline, plainchat, memory: await run('plainchat', ['--memory']) };
  } catch (err) {
    errors[name] = (err as Error).message;
    console.log(`${name} failed: ${errors[name]}`);
    return undefined;
  }
}

/** plainchat as two worker processes sharing one port over a `redis-server` this run starts. */
async function workers() {
  if (!settings.only.includes('workers')) return undefined;
  const redis = await startRedis();
  if (!redis) {
    errors['workers'] = 'redis-server is not installed (apt-get install redis-server)';
    console.log(`workers skipped: ${errors['workers']}`);
    return undefined;
  }
  const flags = (url: string) => ['--workers', '2', '--redis-url', url];
  let throughputOverRedis;
  try {
    console.log('workers: plainchat, 2 workers over Redis');
    throughputOverRedis = await throughput('plainchat', flags(redis.url));
  } finally {
    redis.stop();
  }
  // Join storms over two processes against one process in memory, measured here side by side;
  // each size on a Redis of its own, as each --memory server starts empty.
  const joinOverRedis = [];
  for (const n of settings.join) {
    const fresh = (await startRedis())!;
    try {
      console.log(`workers: join storms of ${n}, 2 workers over Redis`);
      joinOverRedis.push(...(await join('plainchat', flags(fresh.url), [n])));
    } finally {
      fresh.stop();
    }
  }
  console.log('workers: join storms, 1 process --memory');
  return { throughput: throughputOverRedis, join: joinOverRedis, joinInMemory: await join('plainchat', ['--memory']) };
}

const results = {
  throughput: await onBoth('throughput', throughput, true),
  workers: await workers(),
  latency: await onBoth('latency', latency),
  join: await onBoth('join', join, true),
  history: await historyScenario(),
  idle: await onBoth('idle', idle, true),
};

/** One line of the table per figure: plainchat, baseline, their ratio, and the target if there is one. */
function tabulate(r: typeof results) {
  const table = new Comparison();
  if (r.throughput) {
    const { plainchat: p, baseline: b } = r.throughput;
    table.add('throughput: deliveries/s (held msgs/s × peers)', p.deliveriesPerSecond, b.deliveriesPerSecond, ratioAtLeast(10));
    table.add('throughput: msgs/s held', p.heldMsgsPerSecond, b.heldMsgsPerSecond);
    table.add('throughput: p99 ms at that rate', p.p99Ms, b.p99Ms);
    table.add('throughput: server cores busy at that rate', p.cores.server, b.cores.server);
    table.add('throughput: generator cores busy at that rate', p.cores.generator, b.cores.generator);
    table.add('throughput: other processes\' cores busy then', p.cores.others, b.cores.others);
    const m = r.throughput.memory;
    if (m) {
      table.add('throughput: store on disk / --memory, deliveries/s', p.deliveriesPerSecond, m.deliveriesPerSecond, ratioAtLeast(0.8));
      table.add('throughput: --memory, server cores busy', m.cores.server, b.cores.server);
    }
    if (p.disk) table.add(`store: bytes on disk per message (${p.disk.messages} of the bench's 4 to 8 B texts)`, round(p.disk.bytes / p.disk.messages), NaN);
  }
  r.workers?.join.forEach((w, i) => {
    const m = r.workers!.joinInMemory[i]!;
    table.add(`join ${w.peers}: seconds, 2 workers over Redis / 1 process in memory`, w.seconds, m.seconds, ratioAtMost(2));
    table.add(`join ${w.peers}: 2 workers over Redis, peers ready`, w.ready, m.ready);
  });
  if (r.workers && r.throughput) {
    const w = r.workers.throughput;
    const { plainchat: p, baseline: b } = r.throughput;
    table.add('throughput, 2 workers over Redis: deliveries/s held', w.deliveriesPerSecond, b.deliveriesPerSecond);
    table.add('throughput, 2 workers over Redis / 1 process in memory', w.deliveriesPerSecond, p.deliveriesPerSecond);
    table.add('throughput, 2 workers over Redis: server cores busy (all processes)', w.cores.server, b.cores.server);
    table.add('throughput, 2 workers over Redis: generator cores busy', w.cores.generator, b.cores.generator);
  }
  if (r.latency) {
    const { plainchat: p, baseline: b } = r.latency;
    table.add(`latency: p50 ms at ${settings.latencyRate} msgs/s`, p.p50Ms, b.p50Ms);
    table.add(`latency: p99 ms at ${settings.latencyRate} msgs/s`, p.p99Ms, b.p99Ms, plainchatBelow(P99_LIMIT_MS));
    table.add(`latency: max ms at ${settings.latencyRate} msgs/s`, p.maxMs, b.maxMs);
    table.add('latency: all delivered', p.allDelivered, b.allDelivered, plainchatIsYes);
  }
  r.join?.plainchat.forEach((p, i) => {
    const b = r.join!.baseline[i]!;
    // Each of N peers must learn N names at least once; a join that never completed has no ratio.
    const floor = Number.isNaN(p.seconds) ? NaN : p.peers * p.peers * p.averageNameBytes;
    table.add(`join ${p.peers}: seconds until all ready`, p.seconds, b.seconds, ratioAtMost(1.5));
    table.add(`join ${p.peers}: presence bytes`, p.presenceBytes, b.presenceBytes);
    table.add(`join ${p.peers}: presence bytes / (N² × ${p.averageNameBytes} B name)`, round(p.presenceBytes / floor), round(b.presenceBytes / floor), plainchatAtMost(2));
    const m = r.join!.memory?.[i];
    if (m) table.add(`join ${p.peers}: seconds, store on disk / --memory`, p.seconds, m.seconds);
  });
  if (r.history) {
    const { store, memory } = r.history;
    table.add(`history ${settings.history} × 200 B: live heap bytes per message kept, store on disk / --memory`, store.heapBytesPerMessage, memory.heapBytesPerMessage);
    table.add(`history ${settings.history} × 200 B: RSS growth MiB, store on disk / --memory`, store.rssGrowthMiB, memory.rssGrowthMiB);
  }
  if (r.idle) {
    const { plainchat: p, baseline: b } = r.idle;
    table.add(`idle ${settings.idle}: server KiB per connection`, p.kibPerConnection, b.kibPerConnection, ratioAtMost(1.25));
    table.add(`idle ${settings.idle}: server KiB per connection after a full GC`, p.rssAfterGcKibPerConnection, b.rssAfterGcKibPerConnection);
    table.add(`idle ${settings.idle}: live heap KiB per connection (after full GC)`, p.liveHeapKibPerConnection, b.liveHeapKibPerConnection);
    table.add(`idle ${settings.idle}: V8 heap grown to hold them, MiB`, p.heapTotalGrowthMiB, b.heapTotalGrowthMiB);
    table.add(`idle ${settings.idle}: peers ready`, p.idleReady, b.idleReady);
    table.add(`idle ${settings.idle}: peers closed by the server or an error`, p.idleClosed, b.idleClosed);
    table.add(`idle ${settings.idle}: latency p99 ms beside them`, p.p99Ms, b.p99Ms, plainchatBelow(P99_LIMIT_MS));
    table.add(`idle ${settings.idle}: all delivered beside them`, p.allDelivered, b.allDelivered, plainchatIsYes);
    const m = r.idle.memory;
    if (m) table.add(`idle ${settings.idle}: server KiB per connection, store on disk / --memory`, p.kibPerConnection, m.kibPerConnection);
  }
  return table.rows;
}

const rows = tabulate(results);
console.log(`${cpus().length} cores, Node ${process.version}; the generator shares the cores with the server under test`);
console.table(rows);
mkdirSync(new URL('bench/results/', root), { recursive: true });
writeFileSync(
  new URL('bench/results/bench.json', root),
  `${JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, node: process.version, settings, table: rows, errors, results }, null, 2)}\n`,
);
process.exit(0);
