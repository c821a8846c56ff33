// Nicknames: rules, uniqueness ignoring case, and what everyone sees.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join, nextMessage, startTestServer } from './helpers.ts';

describe('rename', async () => {
  const server = await startTestServer({ graceMs: 0 });

  test('everyone in the room, the renamer included, is told; later messages and newcomers use the new name', async () => {
    const renamer = await join(server);
    const other = await join(server);
    renamer.client.send({ type: 'rename', data: '  Ada Lovelace  ' });
    const expected = { type: 'peer-renamed', data: { from: renamer.name, to: 'Ada Lovelace' } };
    assert.deepEqual(await renamer.client.nextOfType('peer-renamed'), expected);
    assert.deepEqual(await other.client.nextOfType('peer-renamed'), expected);
    renamer.client.send('hi as Ada');
    assert.equal((await nextMessage(other.client, 'hi as Ada')).data.sender, 'Ada Lovelace');
    const newcomer = await join(server);
    assert.ok(newcomer.peers.includes('Ada Lovelace'));
    assert.ok(!newcomer.peers.includes(renamer.name));
    await renamer.client.close();
    assert.deepEqual((await other.client.nextOfType('peer-left')).data, ['Ada Lovelace']);
  });

  test('names are NFC-normalized, and letters of any script, digits, spaces, - and _ are allowed', async () => {
    const peer = await join(server);
    peer.client.send({ type: 'rename', data: 'Zoe\u0308_2-x' });
    assert.equal((await peer.client.nextOfType('peer-renamed')).data.to, 'Zo\u00eb_2-x');
    peer.client.send({ type: 'rename', data: 'Дмитрий 山田' });
    assert.equal((await peer.client.nextOfType('peer-renamed')).data.to, 'Дмитрий 山田');
  });

  test('a bad name is refused with bad-name saying why, and nothing changes', async () => {
    const peer = await join(server);
    for (const data of ['', '   ', 'x'.repeat(33), 'cat 🐱', '<b>bold</b>', 'tab\there', 42, null]) {
      peer.client.send({ type: 'rename', data });
      const error = await peer.client.next();
      assert.equal(error.data.code, 'bad-name', JSON.stringify(data));
      assert.match(error.data.message, /1 to 32 letters, digits, spaces, - and _|must be a string/);
    }
    peer.client.send('still me');
    assert.equal((await nextMessage(peer.client, 'still me')).data.sender, peer.name);
  });

  test('a name someone in the room has, even in other letter case, is refused with name-taken', async () => {
    const first = await join(server);
    const second = await join(server);
    first.client.send({ type: 'rename', data: 'Grace' });
    await second.client.nextOfType('peer-renamed');
    for (const taken of ['Grace', 'grace', 'GRACE']) {
      second.client.send({ type: 'rename', data: taken });
      const error = await second.client.nextOfType('error');
      assert.equal(error.data.code, 'name-taken', taken);
      assert.match(error.data.message, /already called/);
    }
    second.client.send({ type: 'rename', data: second.name.toUpperCase() });
    assert.equal((await second.client.nextOfType('peer-renamed')).data.to, second.name.toUpperCase(), 'changing the case of your own name is fine');
  });

  test('a generated name never collides with a chosen one in other case', async () => {
    const lonely = await startTestServer({ graceMs: 0 }, { random: () => 0 });
    const a = await join(lonely);
    a.client.send({ type: 'rename', data: 'RED-BEAR' });
    await a.client.nextOfType('peer-renamed');
    const b = await join(lonely);
    assert.notEqual(b.name.toLowerCase(), 'red-bear', `generated ${b.name}`);
  });
});
