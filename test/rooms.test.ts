// Rooms: chosen on the upgrade URL, validated before the upgrade, isolated, listed, forgotten.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, nextMessage, startTestServer } from './helpers.ts';
import { rawRequest, upgradeRequest } from './raw-frames.ts';

describe('rooms', async () => {
  const server = await startTestServer({ graceMs: 0, roomTtlMs: 200, roomsCacheMs: 0 });
  const listRooms = async (query = '') => ((await (await fetch(`${server.url}/rooms${query}`)).json()) as { rooms: Array<{ room: string; peers: number }>; next: string | null }).rooms;

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
    const listed = await listRooms();
    assert.deepEqual(listed.find((r: { room: string }) => r.room === 'quiet'), { room: 'quiet', peers: 1 });
    assert.ok(listed.some((r: { room: string }) => r.room === 'lobby'), JSON.stringify(listed));
    await quiet.client.close();
    await sleep(50);
    const emptied = await listRooms();
    assert.deepEqual(emptied.find((r: { room: string }) => r.room === 'quiet'), { room: 'quiet', peers: 0 }, 'kept while its history lasts');
    await sleep(300);
    const later = await listRooms();
    assert.equal(later.find((r: { room: string }) => r.room === 'quiet'), undefined, 'forgotten');
  });

  test('GET /rooms comes in pages: ?limit, and ?after the last room of the page before, in name order', async () => {
    const peers = [];
    for (const room of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) peers.push(await join(server, `/ws?room=${room}`));
    const first = await (await fetch(`${server.url}/rooms?after=page-&limit=2`)).json();
    assert.deepEqual(first, { rooms: [{ room: 'page-a', peers: 1 }, { room: 'page-b', peers: 1 }], next: 'page-b' });
    const second = await (await fetch(`${server.url}/rooms?after=${first.next}&limit=2`)).json();
    assert.deepEqual(second.rooms.map((r: { room: string }) => r.room), ['page-c', 'page-d']);
    const rest = await listRooms('?after=page-d');
    assert.equal(rest[0]?.room, 'page-e');
    for (const bad of ['?limit=0', '?limit=many', `?limit=${10_000_000}`]) {
      const answer = await fetch(`${server.url}/rooms${bad}`);
      assert.equal(answer.status, 400, bad);
      assert.match(await answer.text(), /limit is a whole number from 1 to \d+/);
    }
    await Promise.all(peers.map((peer) => peer.client.close()));
  });

  test("a session token is good only in its own room", async () => {
    const here = await join(server, '/ws?room=here');
    const there = await join(server, `/ws?room=there&token=${here.token}`);
    assert.notEqual(there.token, here.token);
  });
});

describe('GET /rooms under load', () => {
  test('GET /rooms is answered from one reading for --rooms-cache-ms, and a flood of requests is refused with 429', async () => {
    const server = await startTestServer({ roomsPageMax: 3, roomsCacheMs: 60_000, requestBurstPerIp: 20, requestsPerSecondPerIp: 1 });
    const first = await join(server, '/ws?room=early');
    const listed = await (await fetch(`${server.url}/rooms`)).json();
    assert.deepEqual(listed.rooms.map((r: { room: string }) => r.room), ['early']);
    const late = await join(server, '/ws?room=late');
    const cached = await (await fetch(`${server.url}/rooms`)).json();
    assert.deepEqual(cached.rooms.map((r: { room: string }) => r.room), ['early'], 'the list read a moment ago is answered again');
    const statuses = await Promise.all(Array.from({ length: 30 }, async () => (await fetch(`${server.url}/rooms`)).status));
    assert.ok(statuses.includes(429), `a flood meets the address's request budget: ${statuses.join(' ')}`);
    await Promise.all([first.client.close(), late.client.close()]);
  });
});
