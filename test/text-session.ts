// The text-mode websocat session of docs/PROTOCOL.md, played against a real server: a person in a
// terminal types every command while two others (JSON clients) talk, join and leave. The docs test
// plays it and compares it with the document, and prints it afresh when they differ.

import { defaultConfig } from '../lib/config.ts';
import { type ChatServer, startServer } from '../lib/server.ts';
import { connectText, join, nextMessage, tempDataDir } from './helpers.ts';

/** Names drawn from a fixed sequence, so that the session reads the same each time. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts a server as the session needs one: names from a fixed sequence, peers leaving at once. */
export async function sessionServer(): Promise<ChatServer> {
  return startServer({ ...defaultConfig(), port: 0, host: '127.0.0.1', dataDir: tempDataDir(), graceMs: 0, textTimeZone: 'UTC' }, { random: seeded(7), log: () => {} });
}

/** Plays the session; returns it as the document shows it: `> ` lines typed, the others received. */
export async function playTextSession(server: ChatServer): Promise<string> {
  const other = await join(server);
  other.client.send('good morning');
  await nextMessage(other.client, 'good morning');
  other.client.send({ type: 'topic', data: 'release on Friday' });
  await other.client.nextOfType('topic');

  const user = await connectText(server);
  const out: string[] = ["$ websocat 'ws://localhost:3000/ws?format=text'"];
  let seen = 0;
  /** Waits for a frame like `match`, and writes down every frame up to it. */
  const receive = async (match: string | RegExp) => {
    await user.expect(match, 5000);
    out.push(...user.frames.slice(seen, user.taken));
    seen = user.taken;
  };
  const type = (line: string) => {
    out.push(`> ${line}`);
    user.send(line);
  };
  await receive('-- history --');
  await receive(/good morning$/);
  const me = /^You are (\S+)/.exec(user.frames[0]!)![1]!;
  type('hello everyone');
  await receive(/> hello everyone$/);
  type('/me waves');
  await receive(/\* \S+ waves$/);
  other.client.send('hi! welcome');
  await receive(/hi! welcome$/);
  const third = await join(server);
  await receive(/ joined$/);
  type(`/msg ${other.name} lunch at noon?`);
  await receive(/lunch at noon\?$/);
  other.client.send({ type: 'direct-message', data: { to: me, message: 'sure' } });
  await receive(/: sure$/);
  await third.client.close();
  await receive(/ left$/);
  type('/nick Ada');
  await receive(/ is now Ada$/);
  type('/names');
  await receive(/^-- 2 here/);
  type('/topic');
  await receive(/^-- topic: /);
  type('');
  type('/dance');
  await receive(/^!! unknown-command/);
  type('/join dev');
  await receive(/^You are /);
  type('quiet in here');
  await receive(/quiet in here$/);
  type('/list');
  await receive(/ rooms:/);
  type('/join lobby');
  await receive(/welcome$/);
  type('/help');
  await receive(/^Type a line/);
  type('/quit lunch');
  await user.closed;
  out.push('$');
  await other.client.close();
  return out.join('\n');
}

/** What changes from one play to the next: times and tokens. */
export function normalizeSession(text: string): string {
  return text.replace(/\[\d\d:\d\d\]/g, '[12:00]').replace(/token=[\w-]{32}/g, 'token=…');
}
