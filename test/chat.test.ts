// The chat protocol end to end: greeting, presence diffs, broadcast, plain text, errors, closes.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { describe, test } from 'node:test';
import { connect, join, nextMessage, said, startTestServer, type TestClient } from './helpers.ts';
import { clientFrame, OPCODE, parseServerFrames, upgradeRequest } from './raw-frames.ts';

const NOW = 1_763_800_000_000;
const NAME = /^[a-z]+-[a-z]+(-\d+)?$/;

/** Sends a message from `client` and waits until it comes back, so everything sent before has arrived too. */
let syncs = 0;
async function roundTrip(client: TestClient): Promise<void> {
  const text = `sync ${++syncs}`;
  client.send({ type: 'message', data: text });
  await nextMessage(client, text);
}

// graceMs 0: a closed connection leaves at once (reconnect grace has tests of its own).
describe('greeting and presence', async () => {
  const server = await startTestServer({ maxConnectionsPerIp: 500, graceMs: 0 });

  test('a new peer gets name-generated, then update-peers listing everyone with itself', async () => {
    const a = await join(server);
    assert.match(a.name, NAME);
    assert.deepEqual(a.peers, [a.name]);

    const b = await connect(server);
    const first = await b.next();
    const second = await b.next();
    assert.equal(first.type, 'name-generated');
    assert.match(first.data, NAME);
    assert.notEqual(first.data, a.name);
    assert.equal(second.type, 'update-peers');
    assert.deepEqual([...second.data].sort(), [a.name, first.data].sort());

    // A learns of B by a diff, and is never sent the whole list again.
    assert.deepEqual(await a.client.next(), { type: 'peer-joined', data: [first.data] });
    await roundTrip(a.client);
    assert.deepEqual(a.client.received.map((e) => e.type), ['name-generated', 'update-peers', 'session', 'synced', 'peer-joined', 'message']);

    // B is not told about its own arrival.
    await roundTrip(b);
    assert.deepEqual(b.received.map((e) => e.type), ['name-generated', 'update-peers', 'session', 'synced', 'message', 'message']);

    await b.close();
    assert.deepEqual(await a.client.nextOfType('peer-left'), { type: 'peer-left', data: [first.data] });
    await a.client.close();
  });

  test('200 clients connecting at once all get different names', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => join(server)));
    const names = new Set(clients.map((c) => c.name));
    assert.equal(names.size, 200);
    for (const name of names) assert.match(name, NAME);
    const late = await join(server);
    assert.equal(late.peers.length, 201);
    assert.deepEqual(new Set(late.peers), new Set([...names, late.name]));
    await Promise.all([...clients, late].map((c) => c.client.close()));
  });
});

describe('messages', async () => {
  const server = await startTestServer({}, { now: () => NOW });

  test('a message reaches every peer, the sender included, with sender and time', async () => {
    const peers = await Promise.all([join(server), join(server), join(server)]);
    const [sender] = peers;
    sender!.client.send({ type: 'message', data: '  hello, room  ' });
    for (const peer of peers) {
      assert.deepEqual(said(await peer.client.nextOfType('message')), { sender: sender!.name, message: 'hello, room', ts: NOW });
    }
    await Promise.all(peers.map((p) => p.client.close()));
  });

  test('a text frame that is not JSON is the text of a message; JSON may follow leading spaces', async () => {
    const { client, name } = await join(server);
    client.send('just typing in a terminal');
    assert.deepEqual(said(await client.next()), { sender: name, message: 'just typing in a terminal', ts: NOW });
    client.send('  \n {"type":"message","data":"indented json"}');
    assert.equal((await client.next()).data.message, 'indented json');
    client.send('[1, 2]');
    assert.equal((await client.next()).data.message, '[1, 2]');
    await client.close();
  });

  test('the length limit counts characters, so 2000 emoji fit and 2001 do not', async () => {
    const { client } = await join(server);
    client.send({ type: 'message', data: '😀'.repeat(2000) });
    assert.equal((await client.next()).type, 'message');
    client.send({ type: 'message', data: 'x'.repeat(2001) });
    const refused = await client.next();
    assert.equal(refused.data.code, 'bad-message');
    assert.match(refused.data.message, /2001 characters; at most 2000/);
    await client.close();
  });

  test('the length limit is configurable', async () => {
    const small = await startTestServer({ maxMessageChars: 5 });
    const { client } = await join(small);
    client.send('12345');
    assert.equal((await client.next()).type, 'message');
    client.send('123456');
    assert.equal((await client.next()).data.code, 'bad-message');
  });
});

describe('raw bytes', async () => {
  const server = await startTestServer({}, { now: () => NOW });

  test('a frame sent in the same packet as the upgrade is handled after the greeting, not lost', async () => {
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.setTimeout(3000, () => socket.destroy(new Error('the server sent fewer than five frames')));
    await once(socket, 'connect');
    socket.write(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame(OPCODE.text, 'first words')]));
    let bytes = Buffer.alloc(0);
    const events: Array<{ type: string; data: any }> = [];
    for await (const chunk of socket) {
      bytes = Buffer.concat([bytes, chunk as Buffer]);
      const headerEnd = bytes.indexOf('\r\n\r\n');
      if (headerEnd === -1) continue;
      // Text frames only: a heartbeat's ping may come between them.
      const frames = parseServerFrames(bytes.subarray(headerEnd + 4)).frames.filter((f) => f.opcode === OPCODE.text);
      if (frames.length < 5) continue;
      events.push(...frames.map((f) => JSON.parse(f.payload.toString())));
      break;
    }
    socket.destroy();
    assert.deepEqual(events.map((e) => e.type), ['name-generated', 'update-peers', 'session', 'synced', 'message']);
    assert.deepEqual(said(events[4]!), { sender: events[0]!.data, message: 'first words', ts: NOW });
  });
});

describe('bad input', async () => {
  const server = await startTestServer({ graceMs: 0 }, { now: () => NOW });

  const cases: Array<[string, string, RegExp]> = [
    ['{"type":"message","data":', 'bad-json', /invalid JSON/],
    ['{not json}', 'bad-json', /invalid JSON/],
    ['{"data":"no type"}', 'bad-envelope', /string "type"/],
    ['{"type":42,"data":"x"}', 'bad-envelope', /string "type"/],
    ['{"__proto__":{"type":"message"},"data":"x"}', 'bad-envelope', /string "type"/],
    ['{"type":"shout","data":"x"}', 'unknown-type', /unknown type "shout"/],
    ['{"type":"constructor","data":"x"}', 'unknown-type', /unknown type "constructor"/],
    ['{"type":"__proto__","data":"x"}', 'unknown-type', /unknown type/],
    ['{"type":"message","data":42}', 'bad-message', /must be a string, got a number/],
    ['{"type":"message"}', 'bad-message', /must be a string, got nothing/],
    ['{"type":"message","data":{"text":"x"}}', 'bad-message', /must be a string, got an object/],
    ['{"type":"message","data":"   "}', 'bad-message', /empty/],
    ['   ', 'bad-message', /empty/],
  ];

  test('each bad frame gets its error event, the connection stays open, and nobody else hears of it', async () => {
    const offender = await join(server);
    const bystander = await join(server);
    await offender.client.nextOfType('peer-joined');
    for (const [frame, code, message] of cases) {
      offender.client.send(frame);
      const event = await offender.client.next();
      assert.equal(event.type, 'error', `for ${frame}`);
      assert.equal(event.data.code, code, `for ${frame}`);
      assert.match(event.data.message, message, `for ${frame}`);
    }
    offender.client.send('still here');
    assert.deepEqual(said(await offender.client.next()), { sender: offender.name, message: 'still here', ts: NOW });
    const heard = await bystander.client.next();
    assert.equal(heard.type, 'message');
    assert.deepEqual(said(heard), { sender: offender.name, message: 'still here', ts: NOW });
    assert.equal(({} as Record<string, unknown>).type, undefined, 'no prototype was polluted');
  });

  test('a binary frame closes with 1003 and others keep chatting', async () => {
    const offender = await join(server);
    const bystander = await join(server);
    offender.client.ws.send(Buffer.from('hello'), { binary: true });
    const { code, reason } = await offender.client.closed;
    assert.equal(code, 1003);
    assert.match(reason, /binary/);
    assert.deepEqual((await bystander.client.nextOfType('peer-left')).data, [offender.name]);
    bystander.client.send('after binary');
    assert.equal((await bystander.client.nextOfType('message')).data.message, 'after binary');
  });

  test('a frame over the size limit closes with 1009 and others keep chatting', async () => {
    const offender = await join(server);
    const bystander = await join(server);
    offender.client.send({ type: 'message', data: 'x'.repeat(64 * 1024) });
    assert.deepEqual(await offender.client.closed, { code: 1009, reason: '' });
    assert.deepEqual((await bystander.client.nextOfType('peer-left')).data, [offender.name]);
    bystander.client.send('after oversize');
    assert.equal((await bystander.client.nextOfType('message')).data.message, 'after oversize');
  });

  test('the frame size limit is configurable', async () => {
    const small = await startTestServer({ maxFrameBytes: 1024 });
    const { client } = await join(small);
    client.send('x'.repeat(1000));
    assert.equal((await client.next()).type, 'message');
    client.send('x'.repeat(1100));
    assert.equal((await client.closed).code, 1009);
  });
});
