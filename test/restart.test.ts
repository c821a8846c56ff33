// The store across restarts, against real server processes on one data directory: stopped with
// SIGTERM, or killed with SIGKILL in the middle of a chat, then started again.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ChatServer } from '../lib/server.ts';
import { join, type Joined, spawnServer, tempDataDir } from './helpers.ts';

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));

/**
 * server.ts on `dataDir` (or with `--memory` among `flags`), as the helpers expect a server; `stop`
 * sends a signal and waits for the exit.
 */
async function startNode(dataDir: string, flags = ['--grace-ms', '200', '--rate-burst', '1000', '--rate-per-second', '1000']): Promise<ChatServer & { stop(signal: NodeJS.Signals): Promise<number | null> }> {
  const { child, port } = await spawnServer([...(flags.includes('--memory') ? [] : ['--data-dir', dataDir]), ...flags]);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {},
    async stop(signal) {
      child.kill(signal);
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

const url = (params: Record<string, string | number>) => `/ws?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`;

/** Every message of the lobby as a fresh client resuming from the start sees it. */
async function everything(server: ChatServer, epoch: string): Promise<any[]> {
  const probe = await join(server, url({ epoch, lastSeq: 0 }));
  assert.equal(probe.synced.recovered, true);
  await probe.client.close();
  return probe.history;
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  describe(`stopped with ${signal} in the middle of a chat, then started again on the same data directory`, async () => {
    const dataDir = tempDataDir();
    let server = await startNode(dataDir);
    const writer = await join(server);
    const reader = await join(server);
    const away = await join(server);
    const { epoch } = writer.synced;
    writer.client.send('/nick Writer');
    await writer.client.nextOfType('peer-renamed');
    await away.client.close();
    while (!(await writer.client.nextOfType('peer-left')).data.includes(away.name));
    writer.client.send(`/msg ${away.name} kept for you`);
    assert.equal((await writer.client.nextOfType('direct-message')).data.stored, true);

    // 200 messages with ids go out at once; the process is stopped once 50 are acknowledged.
    const TOTAL = 200;
    const acks = new Map<string, number>();
    for (let i = 0; i < TOTAL; i++) writer.client.send({ type: 'message', data: `m-${i}`, id: `id-${i}` });
    while (acks.size < 50) {
      const event = await writer.client.next();
      if (event.type === 'ack') acks.set(event.data.id, event.data.seq);
    }
    const code = await server.stop(signal);
    assert.equal(code, signal === 'SIGTERM' ? 0 : null);
    const heard = reader.client.received.filter((e) => e.type === 'message').map((e) => e.data);
    const lastSeq = heard.at(-1)?.seq ?? 0;
    server = await startNode(dataDir);

    test('every acknowledged message is in history, once, under its seq and epoch', async () => {
      const kept = await everything(server, epoch);
      assert.equal(kept[0].epoch, epoch, 'the epoch outlived the process');
      const bySeq = new Map(kept.map((m) => [m.seq, m.message]));
      for (const [id, seq] of acks) assert.equal(bySeq.get(seq), `m-${id.slice(3)}`, `${id} at seq ${seq}`);
      assert.deepEqual(kept.map((m) => m.seq), Array.from({ length: kept.length }, (_, i) => i + 1), 'no gap');
      const texts = kept.map((m) => m.message);
      assert.equal(new Set(texts).size, texts.length, 'no message twice');
      for (const m of heard) assert.equal(bySeq.get(m.seq), m.message, 'what a reader saw live is what was kept');
    });

    test('a resume recovers exactly what the reader missed, with no gap and no duplicate', async () => {
      const resumed = await join(server, url({ token: reader.token, epoch, lastSeq }));
      assert.equal(resumed.synced.recovered, true);
      assert.equal(resumed.name, reader.name, 'its token kept its name');
      const kept = await everything(server, epoch);
      assert.deepEqual(resumed.history, kept.slice(lastSeq));
      await resumed.client.close();
    });

    test('the writer keeps its name; retried ids are acknowledged with their seq and not stored twice', async () => {
      const again = await join(server, url({ token: writer.token, epoch, lastSeq: 0 }));
      assert.equal(again.name, 'Writer', 'a renamed name lasts');
      for (let i = 0; i < TOTAL; i++) again.client.send({ type: 'message', data: `m-${i}`, id: `id-${i}` });
      const reacks = new Map<string, number>();
      while (reacks.size < TOTAL) {
        const event = await again.client.next(10_000);
        if (event.type === 'ack') reacks.set(event.data.id, event.data.seq);
      }
      for (const [id, seq] of acks) assert.equal(reacks.get(id), seq, `${id} acknowledged with its first seq`);
      const kept = await everything(server, epoch);
      const texts = kept.map((m) => m.message).sort();
      assert.deepEqual(texts, Array.from({ length: TOTAL }, (_, i) => `m-${i}`).sort(), 'every message exactly once');
      await again.client.close();
    });

    test('the direct message kept for a session away is delivered once when it comes back', async () => {
      const back = await join(server, url({ token: away.token }));
      assert.equal(back.name, away.name);
      const dm = await back.client.nextOfType('direct-message');
      assert.deepEqual([dm.data.from, dm.data.message, dm.data.missed], ['Writer', 'kept for you', true]);
      await back.client.close();
      await sleep(50);
      const later = await join(server, url({ token: away.token }));
      later.client.send('marker');
      await later.client.nextOfType('message');
      assert.ok(!later.client.received.some((e) => e.type === 'direct-message'), 'once');
    });
  });
}

test('with --memory a restart forgets everything, and says so: unknown-epoch, a new name', async () => {
  const first = await startNode('', ['--memory']);
  const peer = await join(first);
  peer.client.send('gone with the process');
  await peer.client.nextOfType('message');
  await first.stop('SIGKILL');
  const back = await join(await startNode('', ['--memory']), url({ token: peer.token, epoch: peer.synced.epoch, lastSeq: 1 }));
  assert.deepEqual([back.synced.recovered, back.synced.reason, back.history.length], [false, 'unknown-epoch', 0]);
  assert.notEqual(back.token, peer.token);
});

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`a session connected when the server stops (${signal}) keeps its name for its TTL after`, async () => {
    const dataDir = tempDataDir();
    // A TTL long enough for the restart to be over within it, on a machine busy with the whole suite.
    const flags = ['--session-ttl-ms', '6000', '--grace-ms', '100'];
    const node = await startNode(dataDir, flags);
    const holder = await join(node);
    // Connected for longer than the TTL: what counts is when it was last connected.
    await sleep(6500);
    await node.stop(signal);
    const restarted = await startNode(dataDir, flags);
    const other = await join(restarted);
    other.client.send(`/nick ${holder.name.toUpperCase()}`);
    assert.equal((await other.client.nextOfType('error')).data.code, 'name-taken');
    assert.equal((await join(restarted, url({ token: holder.token }))).name, holder.name);
  });
}

test('a store whose file is removed under the running server refuses to acknowledge, says so, and changes nothing', async () => {
  const dataDir = tempDataDir();
  const server = await startNode(dataDir);
  const peer = await join(server);
  const watcher = await join(server);
  peer.client.send({ type: 'message', data: 'kept', id: 'k' });
  await peer.client.nextOfType('ack');
  rmSync(joinPath(dataDir, 'plainchat.db'));
  peer.client.send({ type: 'message', data: 'into the void', id: 'v' });
  const refused = await peer.client.nextOfType('error');
  assert.equal(refused.data.code, 'unavailable');
  assert.ok(!peer.client.received.some((e) => e.type === 'ack' && e.data.id === 'v'), 'no ack for what cannot be kept');
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 503);
  assert.equal((await health.json()).status, 'engine-unavailable');
  peer.client.send('/nick Renamed Into The Void');
  assert.equal((await peer.client.nextOfType('error')).data.code, 'unavailable');
  watcher.client.send('/who');
  assert.deepEqual(new Set((await watcher.client.nextOfType('update-peers')).data), new Set([peer.name, watcher.name]), 'the rename changed nothing');
  assert.ok(!watcher.client.received.some((e) => e.type === 'peer-renamed' || (e.type === 'message' && e.data.message === 'into the void')));
});

test('a server whose standard output has gone away still stops cleanly on SIGTERM', async () => {
  const { child } = await spawnServer();
  child.stdout!.destroy();
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});

/** Runs server.ts until it exits; returns its exit code and everything it printed. */
async function runUntilExit(args: string[]): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, '--host', '127.0.0.1', '--port', '0', ...args]);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number, out };
}

describe('a data directory that cannot be used', () => {
  const assertClearError = ({ code, out }: { code: number; out: string }, expected: RegExp) => {
    assert.equal(code, 1, out);
    assert.match(out, /^plainchat: cannot start: /);
    assert.match(out, expected);
    assert.doesNotMatch(out, /^\s+at /m, 'no stack trace');
  };

  test('a file where the directory should be: a clear error naming it, exit 1', async () => {
    const file = joinPath(tempDataDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    assertClearError(await runUntilExit(['--data-dir', joinPath(file, 'data')]), /cannot create the data directory .*not-a-dir.*--data-dir/);
  });

  test('a corrupt database file: a clear error saying what to do, exit 1, and the file is left as it was', async () => {
    const dir = tempDataDir();
    writeFileSync(joinPath(dir, 'plainchat.db'), 'this is not a database, but someone might want it back '.repeat(200));
    assertClearError(await runUntilExit(['--data-dir', dir]), /plainchat\.db is not a readable SQLite database .*restore it from a backup, or move it away/);
  });

  test('a data directory in use by another plainchat: a clear error, exit 1, and the first one goes on', async () => {
    const dir = tempDataDir();
    mkdirSync(dir, { recursive: true });
    const first = await startNode(dir);
    assertClearError(await runUntilExit(['--data-dir', dir]), /in use by another plainchat process/);
    const peer: Joined = await join(first);
    assert.ok(peer.name);
    await peer.client.close();
  });
});
