// Nicknames: rules, uniqueness up to case and look-alikes, and what everyone sees.

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

  test('names are NFC-normalized, and letters of any one script, digits, spaces, - and _ are allowed', async () => {
    const peer = await join(server);
    peer.client.send({ type: 'rename', data: 'Zoe\u0308_2-x' });
    assert.equal((await peer.client.nextOfType('peer-renamed')).data.to, 'Zo\u00eb_2-x');
    for (const name of ['Дмитрий', '山田たろう', '김민수', 'Αλέξανδρος']) {
      peer.client.send({ type: 'rename', data: name });
      assert.equal((await peer.client.nextOfType('peer-renamed')).data.to, name);
    }
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

  test('taking the name you already have is answered, not met with silence', async () => {
    const peer = await join(server);
    peer.client.send(`/nick ${peer.name}`);
    const answer = await peer.client.next();
    assert.deepEqual([answer.type, answer.data.code, answer.data.message], ['error', 'bad-name', `you are already called "${peer.name}"`]);
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

  describe('while orchid-eagle is online', async () => {
    // A room of its own: the other tests' peers do not hear these renames.
    const path = '/ws?room=look-alikes';
    const owner = await join(server, path);
    owner.client.send({ type: 'rename', data: 'orchid-eagle' });
    await owner.client.nextOfType('peer-renamed');

    test('its look-alikes in one script are name-taken, as a rename or as /nick', async () => {
      const impostor = await join(server, path);
      for (const name of ['ORCHID-EAGLE', '\uff4f\uff52\uff43\uff48\uff49\uff44-eagle', '0rchid-eag1e', 'orchid-eagIe', 'ORCHlD-EAGLE']) {
        impostor.client.send({ type: 'rename', data: name });
        const error = await impostor.client.nextOfType('error');
        assert.equal(error.data.code, 'name-taken', name);
        assert.match(error.data.message, /already called/);
      }
      impostor.client.send('/nick 0rchid-eagle');
      assert.equal((await impostor.client.nextOfType('error')).data.code, 'name-taken', '/nick');
      assert.ok(!impostor.client.received.some((event) => event.type === 'peer-renamed'), 'nobody was renamed');
    });

    test('a look-alike all in Cyrillic of another name online is name-taken', async () => {
      const space = await join(server, path);
      space.client.send({ type: 'rename', data: 'space' });
      await space.client.nextOfType('peer-renamed');
      const impostor = await join(server, path);
      impostor.client.send({ type: 'rename', data: '\u0455\u0440\u0430\u0441\u0435' });
      assert.equal((await impostor.client.nextOfType('error')).data.code, 'name-taken');
    });

    test('its look-alikes with a letter of another script are bad-name, for mixing scripts', async () => {
      const impostor = await join(server, path);
      for (const name of ['\u043erchid-eagle', '\u03bfrchid-eagle', '\u043e\u0433\u0441\u04bb\u0456d-\u0435\u0430gl\u0435']) {
        impostor.client.send({ type: 'rename', data: name });
        const error = await impostor.client.nextOfType('error');
        assert.equal(error.data.code, 'bad-name', name);
        assert.match(error.data.message, /mixes/);
      }
      impostor.client.send('/nick \u043erchid-eagle');
      assert.equal((await impostor.client.nextOfType('error')).data.code, 'bad-name', '/nick');
    });

    test('the name with a Hangul filler or an invisible character is bad-name, saying so', async () => {
      const impostor = await join(server, path);
      for (const invisible of ['\u3164', '\u115f', '\u1160', '\uffa0', '\u200d', '\u200b']) {
        impostor.client.send({ type: 'rename', data: `orchid-eagle${invisible}` });
        const error = await impostor.client.nextOfType('error');
        assert.equal(error.data.code, 'bad-name', invisible.codePointAt(0)!.toString(16));
        assert.match(error.data.message, /invisible characters or fillers/);
      }
      impostor.client.send('/nick orchid\u3164eagle');
      assert.equal((await impostor.client.nextOfType('error')).data.code, 'bad-name', '/nick');
    });

    test('a direct message to a look-alike reaches orchid-eagle, under its own name', async () => {
      const sender = await join(server, path);
      sender.client.send('/msg \u043erchid-eagle psst');
      const got = await owner.client.nextOfType('direct-message');
      assert.deepEqual([got.data.to, got.data.message], ['orchid-eagle', 'psst']);
    });
  });
});
