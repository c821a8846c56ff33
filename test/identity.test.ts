// Identity that lasts: a session owns its name while it is away, one session may hold several
// connections (two tabs), and a direct message to a session that is not connected is kept for it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, type Joined, nextMessage, startTestServer, type TestClient } from './helpers.ts';

const withToken = (token: string, room = 'lobby') => `/ws?room=${room}&token=${token}`;

/** Waits until `client` hears `type` naming `name`. */
async function hears(client: TestClient, type: 'peer-joined' | 'peer-left', name: string): Promise<void> {
  while (!(await client.nextOfType(type, 5000)).data.includes(name));
}

describe('a name owned while away', async () => {
  const server = await startTestServer({ graceMs: 100, sessionTtlMs: 1500 });

  test('cannot be taken while its session is away, and is free after the session TTL', async () => {
    const owner = await join(server, '/ws?room=ttl');
    owner.client.send('/nick Ada');
    await owner.client.nextOfType('peer-renamed');
    await owner.client.close();
    const other = await join(server, '/ws?room=ttl');
    await hears(other.client, 'peer-left', 'Ada');
    other.client.send('/nick ada');
    const refused = await other.client.nextOfType('error');
    assert.equal(refused.data.code, 'name-taken');
    assert.match(refused.data.message, /owns it while away/);
    const back = await join(server, withToken(owner.token, 'ttl'));
    assert.equal(back.name, 'Ada', 'the rename lasted');
    await back.client.close();
    await hears(other.client, 'peer-left', 'Ada');
    await sleep(1700);
    other.client.send('/nick Ada');
    assert.deepEqual((await other.client.nextOfType('peer-renamed')).data, { from: other.name, to: 'Ada' }, 'free after the TTL');
    const late = await join(server, withToken(owner.token, 'ttl'));
    assert.notEqual(late.token, owner.token, 'the expired token starts a new session');
    assert.notEqual(late.name, 'Ada');
  });
});

describe('one session, several connections', async () => {
  const server = await startTestServer({ graceMs: 100 });

  test('two tabs are one peer: one name for everyone, one sender, a direct message reaches both, a rename renames both', async () => {
    const watcher = await join(server, '/ws?room=tabs');
    const first = await join(server, '/ws?room=tabs');
    const second = await join(server, withToken(first.token, 'tabs'));
    assert.equal(second.name, first.name);
    assert.equal(second.token, first.token);
    assert.deepEqual(second.peers.filter((name) => name === first.name), [first.name], 'listed once');
    const probe = await join(server, '/ws?room=tabs');
    assert.deepEqual(probe.peers.filter((name) => name === first.name).length, 1);
    second.client.send('from the second tab');
    assert.equal((await nextMessage(watcher.client, 'from the second tab')).data.sender, first.name);
    watcher.client.send(`/msg ${first.name} to both`);
    for (const tab of [first, second]) assert.equal((await tab.client.nextOfType('direct-message')).data.message, 'to both');
    first.client.send('/nick Tabby');
    await watcher.client.nextOfType('peer-renamed');
    second.client.send('after the rename');
    assert.equal((await nextMessage(watcher.client, 'after the rename')).data.sender, 'Tabby', 'the other tab speaks under the new name');
    watcher.client.send('/msg tabby psst');
    for (const tab of [first, second]) assert.equal((await tab.client.nextOfType('direct-message')).data.to, 'Tabby');
    // Closing one tab is not leaving: the peer is still connected through the other.
    await first.client.close();
    await sleep(300);
    watcher.client.send('marker');
    await nextMessage(watcher.client, 'marker');
    const joins = watcher.client.received.filter((e) => e.type === 'peer-joined' && e.data.includes(first.name));
    assert.equal(joins.length, 1, 'one peer-joined for the two tabs');
    assert.ok(!watcher.client.received.some((e) => e.type === 'peer-left' && e.data.includes('Tabby')), 'no leave while a tab is open');
    await second.client.close();
    await hears(watcher.client, 'peer-left', 'Tabby');
  });
});

describe('direct messages are never lost', async () => {
  const server = await startTestServer({ graceMs: 300 });

  async function pair(room: string): Promise<[Joined, Joined]> {
    return [await join(server, `/ws?room=${room}`), await join(server, `/ws?room=${room}`)];
  }

  test('to a peer reconnecting within the grace period: kept, the sender told so, delivered once, marked missed, in order', async () => {
    const [sender, recipient] = await pair('blink');
    recipient.client.ws.terminate();
    await sleep(50);
    for (const text of ['first', 'second']) sender.client.send(`/msg ${recipient.name} ${text}`);
    for (const text of ['first', 'second']) {
      const echo = await sender.client.nextOfType('direct-message');
      assert.deepEqual({ message: echo.data.message, stored: echo.data.stored }, { message: text, stored: true });
    }
    const back = await join(server, withToken(recipient.token, 'blink'));
    const missed = [await back.client.nextOfType('direct-message'), await back.client.nextOfType('direct-message')];
    assert.deepEqual(missed.map((e) => [e.data.from, e.data.message, e.data.missed]), [
      [sender.name, 'first', true],
      [sender.name, 'second', true],
    ]);
    const again = await join(server, withToken(recipient.token, 'blink'));
    again.client.send('marker');
    await nextMessage(again.client, 'marker');
    assert.ok(!again.client.received.some((e) => e.type === 'direct-message'), 'delivered once');
    sender.client.send(`/msg ${recipient.name} live again`);
    const live = await back.client.nextOfType('direct-message');
    assert.deepEqual([live.data.message, live.data.missed], ['live again', undefined]);
    assert.equal((await sender.client.nextOfType('direct-message')).data.stored, undefined, 'told it went out live');
  });

  test('to a session away past the grace period: kept until it comes back, visible only to the two ends', async () => {
    const [sender, recipient] = await pair('away');
    const bystander = await join(server, '/ws?room=away');
    await recipient.client.close();
    await hears(sender.client, 'peer-left', recipient.name);
    sender.client.send(`/msg ${recipient.name} while you were out`);
    assert.equal((await sender.client.nextOfType('direct-message')).data.stored, true);
    const back = await join(server, withToken(recipient.token, 'away'));
    assert.equal((await back.client.nextOfType('direct-message')).data.message, 'while you were out');
    assert.ok(!back.history.some((m) => m.message === 'while you were out'), 'not in room history');
    bystander.client.send('marker');
    await nextMessage(bystander.client, 'marker');
    assert.ok(!bystander.client.received.some((e) => e.type === 'direct-message'));
  });

  test('to a session whose connections all arrive at once: handed to one of them, once', async () => {
    const [sender, recipient] = await pair('crowd');
    await recipient.client.close();
    await hears(sender.client, 'peer-left', recipient.name);
    sender.client.send(`/msg ${recipient.name} for exactly one`);
    assert.equal((await sender.client.nextOfType('direct-message')).data.stored, true);
    const tabs = await Promise.all(Array.from({ length: 6 }, () => join(server, withToken(recipient.token, 'crowd'))));
    await sleep(200);
    const got = tabs.flatMap((tab) => tab.client.received.filter((e) => e.type === 'direct-message' && e.data.missed));
    assert.equal(got.length, 1, 'one connection of the six got it');
  });

  test('to a name nobody holds, online or away: unknown-recipient', async () => {
    const [sender] = await pair('nobody');
    sender.client.send('/msg ghost-owl hello?');
    assert.equal((await sender.client.nextOfType('error')).data.code, 'unknown-recipient');
  });
});
