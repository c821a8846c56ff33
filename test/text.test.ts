// Text mode (`/ws?format=text`): each line form of lib/text.ts, read from a real client, and the
// commands people know from IRC, on text and JSON connections alike.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { textClock } from '../lib/text.ts';
import { connectText, join, nextMessage, startTestServer, tempDataDir, type TextClient } from './helpers.ts';

const TIME = String.raw`\[\d\d:\d\d\]`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A text client and its name, read from the banner. */
async function enter(server: Parameters<typeof connectText>[0], query = ''): Promise<{ client: TextClient; name: string }> {
  const client = await connectText(server, query);
  const banner = await client.expect(/^You are /);
  const name = /^You are (.+?) in #/.exec(banner)![1]!;
  return { client, name };
}

describe('text mode', async () => {
  const server = await startTestServer({ graceMs: 0 });

  test('the greeting is a short banner, history comes as ordinary lines under a marker, and no line is JSON', async () => {
    const writer = await join(server, '/ws?room=banner');
    writer.client.send('said before');
    await nextMessage(writer.client, 'said before');
    const { client, name } = await enter(server, 'room=banner');
    const banner = client.frames[0]!;
    assert.match(banner, new RegExp(`^You are ${escape(name)} in #banner\\. 2 online\\. /help for commands\\.\\n-- to come back as ${escape(name)}, reconnect with &token=[\\w-]{32} in the URL$`));
    await client.expect('-- history --');
    await client.expect(new RegExp(`^${TIME} <${escape(writer.name)}> said before$`));
    client.send('hello from a terminal');
    await client.expect(new RegExp(`^${TIME} <${escape(name)}> hello from a terminal$`));
    assert.equal((await nextMessage(writer.client, 'hello from a terminal')).data.sender, name, 'JSON peers get JSON');
    assert.ok(!client.frames.some((frame) => frame.startsWith('{')), JSON.stringify(client.frames));
  });

  test('a message of several lines keeps its lines, indented under its text; {, // and empty lines', async () => {
    const { client, name } = await enter(server, 'room=lines');
    client.send('');
    client.send('   ');
    client.send('{"type":"message","data":"not json here"}');
    await client.expect(new RegExp(`^${TIME} <${escape(name)}> \\{"type":"message","data":"not json here"\\}$`));
    client.send('//shrug is not a command');
    await client.expect(new RegExp(`^${TIME} <${escape(name)}> /shrug is not a command$`));
    const reader = await join(server, '/ws?room=lines');
    reader.client.send('first line\nsecond line\nthird');
    const frame = await client.expect(/first line/);
    const head = `[00:00] <${reader.name}> `;
    assert.equal(frame.replace(/^\[[^\]]+\]/, '[00:00]'), `${head}first line\n${' '.repeat(head.length)}second line\n${' '.repeat(head.length)}third`);
    assert.ok(!client.frames.some((f) => f.startsWith('!!')), 'empty lines are not errors');
  });

  test('/me is an action for everyone: * name waves in text, "action": true in JSON, and in history', async () => {
    const { client, name } = await enter(server, 'room=action');
    const json = await join(server, '/ws?room=action');
    client.send('/me waves');
    await client.expect(new RegExp(`^${TIME} \\* ${escape(name)} waves$`));
    const event = await json.client.nextOfType('message');
    assert.deepEqual([event.data.message, event.data.action], ['waves', true]);
    json.client.send({ type: 'message', data: 'nods', action: true, id: 'a1' });
    await client.expect(new RegExp(`^${TIME} \\* ${escape(json.name)} nods$`));
    assert.equal((await json.client.nextOfType('ack')).data.id, 'a1');
    const late = await join(server, '/ws?room=action');
    assert.deepEqual(late.history.map((m) => [m.message, m.action]), [['waves', true], ['nods', true]]);
    client.send('/me');
    await client.expect('!! bad-message: the action is empty; say what you do, as in /me waves');
  });

  test('presence lines: joined, left, a quit reason, a rename; several names at once are listed short', async () => {
    const quiet = await startTestServer({ graceMs: 0, presenceBatchMs: 300 });
    const { client } = await enter(quiet, 'room=presence');
    const one = await join(quiet, '/ws?room=presence');
    await client.expect(`-- ${one.name} joined`);
    const crowd = await Promise.all(Array.from({ length: 5 }, () => join(quiet, '/ws?room=presence')));
    const many = await client.expect(/ joined$/);
    assert.match(many, /^-- [^,]+, [^,]+ and 3 others joined$/);
    await Promise.all(crowd.slice(0, 2).map((peer) => peer.client.close()));
    await client.expect(/^-- \S+ and \S+ left$/);
    one.client.send('/nick Ada');
    await client.expect(`-- ${one.name} is now Ada`);
    one.client.send('/quit lunch time');
    await client.expect('-- Ada quit: lunch time');
    await client.expect('-- Ada left');
    assert.deepEqual(await one.client.closed, { code: 1000, reason: 'quit' });
  });

  test('direct messages: -> to someone, <- from someone, and kept for someone away', async () => {
    const { client, name } = await enter(server, 'room=dm');
    const peer = await join(server, '/ws?room=dm');
    client.send(`/msg ${peer.name} psst`);
    await client.expect(new RegExp(`^${TIME} -> ${escape(peer.name)}: psst$`));
    peer.client.send({ type: 'direct-message', data: { to: name, message: 'hi back' } });
    await client.expect(new RegExp(`^${TIME} <- ${escape(peer.name)}: hi back$`));
    client.send('/msg nobody-here hi');
    await client.expect('!! unknown-recipient: nobody called "nobody-here" is in this room');
    // A quote left open, or no text: how to write it, not who is missing.
    for (const line of [`/msg "${peer.name} hi`, `/msg ${peer.name}`, `/msg ${peer.name}   `]) {
      client.send(line);
      await client.expect('!! unknown-command: usage: /msg <name> <text>, with "quotes" around a name with spaces; see /help');
    }
  });

  test('a direct message to someone away is kept, and says so at both ends', async () => {
    const away = await enter(server, 'room=kept-dm');
    const token = /&token=([\w-]+)/.exec(away.client.frames[0]!)![1]!;
    const { client } = await enter(server, 'room=kept-dm');
    away.client.ws.close();
    await client.expect(`-- ${away.name} left`);
    client.send(`/msg ${away.name} see you later`);
    await client.expect(new RegExp(`^${TIME} -> ${escape(away.name)}: see you later \\(kept: ${escape(away.name)} is away\\)$`));
    const back = await enter(server, `room=kept-dm&token=${token}`);
    assert.equal(back.name, away.name);
    await back.client.expect(/<- .*: see you later \(while you were away\)$/);
  });

  test('a resume that cannot be served says why in a line', async () => {
    const { client } = await enter(server, 'room=resume&epoch=00ff&lastSeq=3');
    await client.expect('-- the server started its history over: the messages above are from before');
    const bad = await enter(server, 'room=resume&epoch=zz&lastSeq=3');
    await bad.client.expect('-- the position to resume from was not readable: the newest are above');
  });

  test('errors are one !! line; rate-limited says how long to wait', async () => {
    const strict = await startTestServer({ rateBurst: 1, ratePerSecond: 2, pasteQueueEvents: 0 });
    const { client } = await enter(strict);
    client.send('one');
    client.send('two');
    await client.expect(/^!! rate-limited: wait 0\.\d s$/);
    await new Promise((resolve) => setTimeout(resolve, 600));
    client.send('/dance');
    await client.expect('!! unknown-command: unknown command /dance; type /help for the list');
  });

  test('/help is several short lines; /names and /who list the room; a ping is answered', async () => {
    const { client, name } = await enter(server, 'room=help');
    client.send('/help');
    const help = await client.expect(/^Type a line/);
    const lines = help.split('\n');
    assert.ok(lines.length >= 10, help);
    for (const line of lines) assert.ok(line.length <= 80, `short: ${line}`);
    for (const command of ['/me', '/msg', '/nick', '/join', '/list', '/names', '/topic', '/typing', '/quit', '/help']) assert.ok(help.includes(command), command);
    assert.ok(!help.includes('{"type"'), 'no JSON in text help');
    client.send('/names');
    await client.expect(`-- 1 here: ${name}`);
    client.send('/who');
    await client.expect(`-- 1 here: ${name}`);
  });
});

describe('rooms from one connection', async () => {
  const server = await startTestServer({ graceMs: 0 });

  test('/join leaves one room and enters another with its history; presence is right in both; the name is kept per room', async () => {
    const { client, name } = await enter(server, 'room=north');
    const northPeer = await join(server, '/ws?room=north');
    const southPeer = await join(server, '/ws?room=south');
    southPeer.client.send('south news');
    await nextMessage(southPeer.client, 'south news');
    client.send('/nick Bea');
    await client.expect(`-- ${name} is now Bea`);

    client.send('/join #south');
    await client.expect('-- you left #north');
    const banner = await client.expect(/^You are /);
    const southName = /^You are (.+?) in #south\. 2 online\./.exec(banner)?.[1];
    assert.ok(southName, banner);
    await client.expect('-- history --');
    await client.expect(new RegExp(`<${escape(southPeer.name)}> south news$`));
    assert.deepEqual((await northPeer.client.nextOfType('peer-left')).data, ['Bea'], 'north sees it leave at once');
    assert.deepEqual((await southPeer.client.nextOfType('peer-joined')).data, [southName]);
    client.send('in the south');
    assert.equal((await nextMessage(southPeer.client, 'in the south')).data.sender, southName);

    client.send('/join north');
    await client.expect(/^You are Bea in #north\. 2 online\./);
    assert.deepEqual((await southPeer.client.nextOfType('peer-left')).data, [southName]);
    client.send('/join north');
    await client.expect('!! bad-room: you are in #north already');
    client.send('/join No Such Room!');
    await client.expect(/^!! bad-room: a room name is 1 to 32 characters/);
  });

  test('a JSON client joins with {"type":"join"}: room-changed, then the greeting of the new room', async () => {
    const a = await join(server, '/ws?room=east');
    a.client.send({ type: 'join', data: 'west' });
    assert.deepEqual((await a.client.nextOfType('room-changed')).data, { from: 'east', to: 'west' });
    assert.equal((await a.client.next()).type, 'name-generated');
    assert.equal((await a.client.next()).type, 'update-peers');
    assert.equal((await a.client.next()).type, 'session');
    assert.equal((await a.client.next()).type, 'synced');
    a.client.send('hello west');
    const b = await join(server, '/ws?room=west');
    assert.deepEqual(b.history.map((m) => m.message), ['hello west']);
  });

  test('/join into a room nobody is in spends the address\'s new-room budget', async () => {
    const strict = await startTestServer({ roomsPerMinutePerIp: 2 });
    const { client } = await enter(strict, 'room=r0');
    client.send('/join r1');
    await client.expect(/^You are .* in #r1\./);
    client.send('/join r2');
    await client.expect(/^!! room-refused: /);
  });

  test('/list lists the rooms with how many are in each', async () => {
    const lister = await startTestServer({ roomsCacheMs: 0 });
    const { client } = await enter(lister, 'room=alpha');
    await join(lister, '/ws?room=beta');
    await join(lister, '/ws?room=beta');
    client.send('/list');
    assert.equal(await client.expect(/rooms:/), '-- 2 rooms:\n   #alpha (1 online)\n   #beta (2 online)');
    const alone = await startTestServer();
    const single = await enter(alone);
    single.client.send('/list');
    assert.equal(await single.client.expect(/room/), '-- 1 room:\n   #lobby (1 online)');
    const json = await join(lister, '/ws?room=beta');
    json.client.send({ type: 'list' });
    assert.deepEqual((await json.client.nextOfType('room-list')).data, { rooms: [{ room: 'alpha', peers: 1 }, { room: 'beta', peers: 3 }], next: null });
  });

  test('/topic sets the topic for everyone, it is shown on join and kept across a restart; /topic - clears it', async () => {
    const { client, name } = await enter(server, 'room=topics');
    client.send('/topic');
    await client.expect('-- no topic is set; /topic <text> sets one');
    client.send('/topic release on Friday');
    await client.expect(new RegExp(`^-- topic: release on Friday \\(set by ${escape(name)} ${TIME}\\)$`));
    const later = await enter(server, 'room=topics');
    await later.client.expect(/^-- topic: release on Friday/);
    const json = await join(server, '/ws?room=topics');
    json.client.send({ type: 'topic' });
    assert.deepEqual({ ...(await json.client.nextOfType('topic')).data, ts: 0 }, { topic: 'release on Friday', by: name, ts: 0 });
    client.send('/topic -');
    await client.expect(`-- ${name} cleared the topic`);
    client.send('/topic');
    await client.expect('-- no topic is set; /topic <text> sets one');
    const after = await join(server, '/ws?room=topics');
    assert.ok(!after.client.received.some((e) => e.type === 'topic'), 'a cleared topic is not shown on entering');
    client.send(`/topic ${'x'.repeat(301)}`);
    await client.expect('!! bad-message: the topic is 301 characters; at most 300 are allowed');
  });
});

test('a topic is kept with the room across a restart of the server', async () => {
  const dataDir = tempDataDir();
  const first = await startTestServer({ dataDir });
  const { client } = await enter(first, 'room=kept');
  client.send('/topic still here');
  await client.expect(/^-- topic: still here/);
  await first.close();
  const second = await startTestServer({ dataDir });
  const back = await join(second, '/ws?room=kept');
  back.client.send({ type: 'topic' });
  assert.equal((await back.client.nextOfType('topic')).data.topic, 'still here');
});

test('times are HH:MM in the chosen zone, with the date for another day', () => {
  const noon = Date.UTC(2026, 11, 2, 12, 5);
  assert.equal(textClock('UTC', () => noon)(noon), '[12:05]');
  assert.equal(textClock('Asia/Kolkata', () => noon)(noon), '[17:35]');
  assert.equal(textClock('UTC', () => noon)(noon - 86_400_000), '[2026-12-01 12:05]');
});
