// Direct messages and the commands a terminal user types as plain text.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join, nextMessage, startTestServer } from './helpers.ts';

describe('direct messages', async () => {
  const server = await startTestServer({ graceMs: 0 });

  test('only the recipient and the sender receive it; a third peer hears nothing; it is never history', async () => {
    const [a, b, c] = await Promise.all([join(server), join(server), join(server)]);
    a.client.send({ type: 'direct-message', data: { to: b.name, message: 'just for you' } });
    const expected = { from: a.name, to: b.name, message: 'just for you' };
    const got = await b.client.nextOfType('direct-message');
    assert.deepEqual({ ...got.data, ts: undefined }, { ...expected, ts: undefined });
    assert.equal(typeof got.data.ts, 'number');
    assert.deepEqual((await a.client.nextOfType('direct-message')).data, got.data, 'the sender gets the same as confirmation');
    a.client.send('marker');
    await nextMessage(c!.client, 'marker');
    assert.ok(!JSON.stringify(c!.client.received).includes('just for you'), 'the third peer received nothing');
    const late = await join(server);
    assert.ok(!JSON.stringify(late.history).includes('just for you'), 'not in history');
    assert.equal((await nextMessage(a.client, 'marker')).data.seq, late.synced.seq, 'and it took no seq');
  });

  test('an unknown recipient, or one in another room, gets unknown-recipient', async () => {
    const a = await join(server);
    const elsewhere = await join(server, '/ws?room=elsewhere');
    for (const to of ['nobody-here', elsewhere.name]) {
      a.client.send({ type: 'direct-message', data: { to, message: 'hello?' } });
      const error = await a.client.nextOfType('error');
      assert.equal(error.data.code, 'unknown-recipient', to);
    }
    for (const data of ['b', { to: 5, message: 'x' }, { to: elsewhere.name }]) {
      a.client.send({ type: 'direct-message', data });
      assert.equal((await a.client.nextOfType('error')).data.code, 'bad-message', JSON.stringify(data));
    }
  });
});

describe('commands from plain-text frames', async () => {
  const server = await startTestServer({ graceMs: 0 });

  test('/nick renames, /msg sends a direct message (quoted names too), /who lists the room', async () => {
    const a = await join(server);
    const b = await join(server);
    a.client.send('/nick Ada Lovelace');
    assert.equal((await b.client.nextOfType('peer-renamed')).data.to, 'Ada Lovelace');
    b.client.send('/msg "Ada Lovelace" hi Ada');
    assert.equal((await a.client.nextOfType('direct-message')).data.message, 'hi Ada');
    assert.equal((await b.client.nextOfType('direct-message')).data.to, 'Ada Lovelace', "the sender's confirmation");
    a.client.send(`/msg ${b.name} hi back`);
    assert.deepEqual((await b.client.nextOfType('direct-message')).data, (await a.client.nextOfType('direct-message')).data);
    assert.equal((await b.client.received.filter((e) => e.type === 'direct-message').at(-1))!.data.from, 'Ada Lovelace');
    b.client.send('/who');
    assert.deepEqual(new Set((await b.client.nextOfType('update-peers')).data), new Set(['Ada Lovelace', b.name]));
  });

  test('/help lists the commands and the JSON events; an unknown command points to /help', async () => {
    const a = await join(server);
    a.client.send('/help');
    const help = (await a.client.nextOfType('help')).data as string;
    for (const part of ['/nick', '/msg', '/who', '/help', '"type":"rename"', '"type":"direct-message"', '"type":"message"']) assert.ok(help.includes(part), part);
    a.client.send('/dance now');
    const error = await a.client.nextOfType('error');
    assert.equal(error.data.code, 'unknown-command');
    assert.match(error.data.message, /unknown command \/dance; type \/help/);
    a.client.send('/msg');
    assert.equal((await a.client.nextOfType('error')).data.code, 'unknown-command');
  });
});

describe('typing', async () => {
  const server = await startTestServer({ graceMs: 0, typingMs: 300 });

  test('others are told who is typing, never the typist; it lapses without renewal and is not history', async () => {
    const typist = await join(server);
    const other = await join(server);
    typist.client.send({ type: 'typing', data: true });
    assert.deepEqual((await other.client.nextOfType('typing')).data, { name: typist.name, typing: true });
    const started = Date.now();
    assert.deepEqual((await other.client.nextOfType('typing')).data, { name: typist.name, typing: false });
    assert.ok(Date.now() - started >= 250, 'lapsed after the typing time');
    typist.client.send('marker');
    await nextMessage(typist.client, 'marker');
    assert.ok(!typist.client.received.some((e) => e.type === 'typing'), 'the typist is not told about itself');
    const late = await join(server);
    assert.ok(!JSON.stringify(late.history).includes('typing'));
  });

  test('sending a message, saying false, or leaving ends typing; /typing starts it; bad data is refused', async () => {
    const typist = await join(server);
    const other = await join(server);
    typist.client.send('/typing');
    assert.equal((await other.client.nextOfType('typing')).data.typing, true);
    typist.client.send('/typing off');
    assert.equal((await other.client.nextOfType('typing')).data.typing, false, '/typing off ends it');
    typist.client.send('/typing on');
    assert.equal((await other.client.nextOfType('typing')).data.typing, true);
    typist.client.send('/typing maybe');
    assert.match((await typist.client.nextOfType('error')).data.message, /usage: \/typing, \/typing on or \/typing off/);
    typist.client.send('done typing');
    assert.equal((await other.client.nextOfType('typing')).data.typing, false, 'a message ends it');
    typist.client.send({ type: 'typing', data: true });
    assert.equal((await other.client.nextOfType('typing')).data.typing, true);
    typist.client.send({ type: 'typing', data: false });
    assert.equal((await other.client.nextOfType('typing')).data.typing, false);
    typist.client.send({ type: 'typing', data: true });
    assert.equal((await other.client.nextOfType('typing')).data.typing, true);
    await typist.client.close();
    assert.deepEqual((await other.client.nextOfType('typing')).data, { name: typist.name, typing: false }, 'leaving ends it');
    other.client.send({ type: 'typing', data: 'yes' });
    assert.equal((await other.client.nextOfType('error')).data.code, 'bad-envelope');
  });

  test('typing counts against the rate limit', async () => {
    const strict = await startTestServer({ rateBurst: 3, ratePerSecond: 1, pasteQueueEvents: 0 });
    const typist = await join(strict);
    for (let i = 0; i < 6; i++) typist.client.send({ type: 'typing', data: i % 2 === 0 });
    assert.equal((await typist.client.nextOfType('error')).data.code, 'rate-limited');
  });
});
