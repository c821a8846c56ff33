// `npm run soak`: holds 10,000 WebSocket connections to a real server process for a minute, with
// heartbeats running, while a few peers chat and one floods. Prints the server's memory over the
// run, messages lost and peers wrongly dropped (both must be 0), and writes the figures as JSON to
// bench/results/soak.json.
//
// Settings (environment): SOAK_CONNECTIONS (10000), SOAK_SECONDS (60), SOAK_HEARTBEAT_MS (10000).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';

const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 10_000);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const HEARTBEAT_MS = Number(process.env.SOAK_HEARTBEAT_MS ?? 10_000);
const CHATTERS = 3;
const LISTENERS_CHECKED = 100;
const CONNECT_BATCH = 250;

const root = new URL('..', import.meta.url);
// The server runs on its store, as by default, in a data directory of its own that goes with the run.
const dataDir = mkdtempSync(join(tmpdir(), 'plainchat-soak-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const server = spawn(
  process.execPath,
  [
    '--import', 'tsx', fileURLToPath(new URL('server.ts', root)),
    '--host', '127.0.0.1', '--port', '0',
    '--max-connections', String(CONNECTIONS + 100),
    '--max-connections-per-ip', String(CONNECTIONS + 100),
    '--heartbeat-ms', String(HEARTBEAT_MS),
    '--data-dir', dataDir,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = await new Promise<number>((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk) => {
    out += chunk;
    const match = /open http:\/\/127\.0\.0\.1:(\d+) /.exec(out);
    if (match) resolve(Number(match[1]));
  });
  server.once('exit', () => reject(new Error(`the server exited: ${out}`)));
});
const url = `ws://127.0.0.1:${port}/ws`;
process.on('exit', () => server.kill('SIGKILL'));

/** CPU seconds the server process has used, read from /proc (Linux). */
function serverCpuSeconds(): number {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds this load generator has used. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The server's resident memory in MiB, read from /proc (Linux). */
function serverRssMiB(): number {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

interface Peer {
  ws: WebSocket;
  name: string;
  /** Texts of chatters' messages received, when this peer is checked. */
  heard?: string[];
  droppedWith?: number;
}

async function open(check: boolean): Promise<Peer> {
  // The load generator trusts the server's UTF-8, so its own CPU goes to holding connections.
  const ws = new WebSocket(url, { skipUTF8Validation: true, perMessageDeflate: false });
  const peer: Peer = { ws, name: '' };
  if (check) peer.heard = [];
  ws.on('message', (data) => {
    if (!peer.name || peer.heard) {
      const event = JSON.parse(data.toString());
      if (event.type === 'name-generated') peer.name = event.data;
      if (event.type === 'message' && event.data.message.startsWith('chat ')) peer.heard?.push(event.data.message);
    }
  });
  ws.on('close', (code) => (peer.droppedWith ??= code));
  ws.on('error', () => {});
  await once(ws, 'open');
  // Joined once the greeting has arrived: waiting for it paces the join storm to what both ends carry.
  while (!peer.name) await once(ws, 'message');
  return peer;
}

const rssStart = serverRssMiB();
const started = Date.now();
const peers: Peer[] = [];
for (let i = 0; i < CONNECTIONS; i += CONNECT_BATCH) {
  const batch = Array.from({ length: Math.min(CONNECT_BATCH, CONNECTIONS - i) }, (_, j) => open(i + j < CHATTERS + LISTENERS_CHECKED));
  peers.push(...(await Promise.all(batch)));
}
const connectSeconds = (Date.now() - started) / 1000;
const cpuAtConnected = { server: serverCpuSeconds(), generator: ownCpuSeconds() };
await sleep(1000);
const rssConnected = serverRssMiB();
console.log(`${CONNECTIONS} connected in ${connectSeconds.toFixed(1)} s; server RSS ${rssStart.toFixed(0)} MiB -> ${rssConnected.toFixed(0)} MiB`);

// Chatters send one numbered message a second each; the flooder sends 200 a second and reconnects
// whenever it is closed for flooding.
const chatters = peers.slice(0, CHATTERS);
const sent = new Set<string>();
let sequence = 0;
const chatTimer = setInterval(() => {
  for (const chatter of chatters) {
    const text = `chat ${chatter.name} ${sequence}`;
    chatter.ws.send(text);
    sent.add(text);
  }
  sequence++;
}, 1000);

let flooder = await open(false);
let floodClosed = 0;
let floodRefused = 0;
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
    if (Date.now() - started < SECONDS * 1000 + connectSeconds * 1000) void open(false).then((next) => watchFlooder((flooder = next)));
  });
};
watchFlooder(flooder);

const rssSamples: number[] = [];
for (let second = 0; second < SECONDS; second++) {
  await sleep(1000);
  rssSamples.push(serverRssMiB());
}
clearInterval(chatTimer);
clearInterval(floodTimer);
await sleep(2000);
const rssEnd = serverRssMiB();
const holdSeconds = SECONDS + 2;
const cpuDuringHold = {
  server: round((serverCpuSeconds() - cpuAtConnected.server) / holdSeconds),
  generator: round((ownCpuSeconds() - cpuAtConnected.generator) / holdSeconds),
};

const checked = peers.slice(0, CHATTERS + LISTENERS_CHECKED);
let lost = 0;
for (const peer of checked) {
  const heard = new Set(peer.heard);
  for (const text of sent) if (!heard.has(text)) lost++;
}
const droppedPeers = peers.filter((peer) => peer.droppedWith !== undefined);
const dropped = droppedPeers.length;
const droppedByCode: Record<string, number> = {};
for (const peer of droppedPeers) droppedByCode[peer.droppedWith!] = (droppedByCode[peer.droppedWith!] ?? 0) + 1;

flooder.ws.removeAllListeners('close');
for (const peer of [...peers, flooder]) peer.ws.terminate();
await sleep(HEARTBEAT_MS * 2 + 1000);
const rssAfter = serverRssMiB();
server.kill('SIGTERM');
await once(server, 'exit');

const results = {
  date: new Date().toISOString(),
  cores: cpus().length,
  node: process.version,
  connections: CONNECTIONS,
  seconds: SECONDS,
  heartbeatMs: HEARTBEAT_MS,
  connectSeconds,
  cpuDuringConnect: { server: round(cpuAtConnected.server / connectSeconds), generator: round(cpuAtConnected.generator / connectSeconds) },
  cpuDuringHold,
  chatMessagesSent: sent.size,
  listenersChecked: checked.length,
  messagesLost: lost,
  peersWronglyDropped: dropped,
  droppedByCloseCode: droppedByCode,
  flooderClosedWith1008: floodClosed,
  flooderRateLimitedErrors: floodRefused,
  serverRssMiB: {
    start: round(rssStart),
    connected: round(rssConnected),
    minDuringRun: round(Math.min(...rssSamples)),
    maxDuringRun: round(Math.max(...rssSamples)),
    endOfRun: round(rssEnd),
    afterAllLeft: round(rssAfter),
  },
  serverKiBPerConnection: round(((rssConnected - rssStart) * 1024) / CONNECTIONS),
};


console.table({
  'connections held': CONNECTIONS,
  'seconds held': SECONDS,
  'chat messages sent (checked at each of 103 peers)': sent.size,
  'messages lost': lost,
  'peers wrongly dropped': `${dropped} ${dropped ? JSON.stringify(droppedByCode) : ''}`,
  'flooder closed with 1008': floodClosed,
  'flooder rate-limited errors': floodRefused,
  'server RSS at start (MiB)': results.serverRssMiB.start,
  'server RSS with all connected (MiB)': results.serverRssMiB.connected,
  'server RSS max during run (MiB)': results.serverRssMiB.maxDuringRun,
  'server RSS at end of run (MiB)': results.serverRssMiB.endOfRun,
  'server RSS after all left (MiB)': results.serverRssMiB.afterAllLeft,
  'server KiB per connection': results.serverKiBPerConnection,
  'seconds to connect all': round(connectSeconds),
  'cores busy while connecting: server / generator': `${results.cpuDuringConnect.server} / ${results.cpuDuringConnect.generator}`,
  'cores busy while holding: server / generator': `${cpuDuringHold.server} / ${cpuDuringHold.generator}`,
});
mkdirSync(new URL('bench/results/', root), { recursive: true });
writeFileSync(new URL('bench/results/soak.json', root), `${JSON.stringify(results, null, 2)}\n`);
process.exit(lost === 0 && dropped === 0 ? 0 : 1);
