// Rooms: chosen on the upgrade URL, validated before the upgrade, isolated, listed, forgotten.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, nextMessage, startTestServer } from './helpers.ts';
import { rawRequest, upgradeRequest } from './raw-frames.ts';

describe('rooms', async () => {
  const server = await startTestServer({ graceMs: 0, roomTtlMs: 200 });

  test('presence, history, seq and messages are per room', async () => {
    const lobby = await join(server);
    const dev = await join(server, '/ws?room=dev');
    assert.deepEqual(dev.peers, [dev.name], 'dev sees only dev');
    const devToo = await join(server, '/ws?room=dev');
    assert.deepEqual(new Set(devToo.peers), new Set([dev.name, devToo.name]));

    dev.client.send('only for dev');
    assert.equal((await nextMessage(devToo.client, 'only for dev')).data.seq, 1, 'seq counts per room');
    lobby.client.send('only for the lobby');
    await nextMessage(lobby.client, 'only for the lobby');
    devToo.client.send('marker');
    await nextMessage(dev.client, 'marker');

    const lobbyHeard = lobby.client.received.map((e) => `${e.type} ${JSON.stringify(e.data)}`).join('\n');
    assert.doesNotMatch(lobbyHeard, /only for dev|marker/);
    assert.doesNotMatch(lobbyHeard, new RegExp(`peer-joined .*"(${dev.name}|${devToo.name})"`));
    assert.ok(!dev.client.received.some((e) => e.type === 'message' && e.data.message === 'only for the lobby'));
  });

  test('a room name that is not 1-32 of a-z, 0-9 and - is refused with 400 before the upgrade', async () => {
    for (const room of ['Dev', '', 'a_b', 'x'.repeat(33), '..', 'dev%20ops', 'd%C3%A9v']) {
      const answer = await rawRequest(server.port, upgradeRequest(`/ws?room=${room}`, '', `127.0.0.1:${server.port}`));
      assert.match(answer, /^HTTP\/1\.1 400 /, room);
      assert.match(answer, /1 to 32 characters of a-z, 0-9 and -/);
      assert.doesNotMatch(answer, /101 Switching/);
    }
    const ok = await join(server, `/ws?room=${'a1-'.repeat(10)}xy`);
    assert.ok(ok.name);
  });

  test('GET /rooms lists rooms with their peer counts, and an empty room is forgotten after its time', async () => {
    const quiet = await join(server, '/ws?room=quiet');
    const listed = await (await fetch(`${server.url}/rooms`)).json();
    assert.deepEqual(listed.find((r: { room: string }) => r.room === 'quiet'), { room: 'quiet', peers: 1 });
    assert.ok(listed.some((r: { room: string }) => r.room === 'lobby'), JSON.stringify(listed));
    await quiet.client.close();
    await sleep(50);
    const emptied = await (await fetch(`${server.url}/rooms`)).json();
    assert.deepEqual(emptied.find((r: { room: string }) => r.room === 'quiet'), { room: 'quiet', peers: 0 }, 'kept while its history lasts');
    await sleep(300);
    const later = await (await fetch(`${server.url}/rooms`)).json();
    assert.equal(later.find((r: { room: string }) => r.room === 'quiet'), undefined, 'forgotten');
  });

  test("a session token is good only in its own room", async () => {
    const here = await join(server, '/ws?room=here');
    const there = await join(server, `/ws?room=there&token=${here.token}`);
    assert.notEqual(there.token, here.token);
  });
});
