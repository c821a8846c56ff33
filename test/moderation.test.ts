// Moderators (a JWT's role, or `oper` with --admin-token-file's token) against the real server with
// real clients: kick, ban (by identity and by address, refused before the upgrade), unban, mute,
// unmute, delete, slow mode and the topic; each refused for everyone else, told to the room, and
// written to the audit log. Bans, mutes and slow mode hold across a SIGKILL and across nodes.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { ChatServer } from '../lib/server.ts';
import { connect, connectText, join, joinFrom, nextMessage, operWith, spawnServer, startTestServer, type TestClient, tempDataDir, until, upgradeStatus } from './helpers.ts';
import { rawRequest } from './raw-frames.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const dir = mkdtempSync(joinPath(tmpdir(), 'plainchat-moderation-'));
const ADMIN_TOKEN = 'the-admin-token-of-this-test';
const adminTokenFile = joinPath(dir, 'admin-token');
writeFileSync(adminTokenFile, `${ADMIN_TOKEN}\n`);
const HS_SECRET = 'a-secret-of-at-least-thirty-two-characters';
const jwtSecretFile = joinPath(dir, 'jwt-secret');
writeFileSync(jwtSecretFile, HS_SECRET);

/** Becomes a moderator with the admin token. */
const oper = (client: TestClient): Promise<void> => operWith(client, ADMIN_TOKEN);

/** The audit lines written so far, parsed. */
function auditLog(): { lines: string[]; entries: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  return { lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('moderators with --admin-token-file', async () => {
  const audit = auditLog();
  const server = await startTestServer({ adminTokenFile, authFailuresPerMinutePerIp: 3 }, { audit: (line) => audit.lines.push(line) });

  test('every moderator command is refused for someone who is not one, with not-moderator, and nothing happens', async () => {
    const { client, name } = await joinFrom(server, '127.0.1.1', 'refused');
    const other = await joinFrom(server, '127.0.1.2', 'refused');
    client.send('before');
    const before = await nextMessage(other.client, 'before');
    const commands = [`/kick ${other.name}`, `/ban ${other.name} 1h spam`, `/unban ${other.name}`, `/mute ${other.name}`, `/unmute ${other.name}`, `/delete ${before.data.seq}`, '/slow 10', '/topic mine now'];
    for (const command of commands) {
      client.send(command);
      const error = await client.nextOfType('error');
      assert.equal(error.data.code, 'not-moderator', command);
    }
    client.send({ type: 'ban', data: { name: other.name } });
    assert.equal((await client.nextOfType('error')).data.code, 'not-moderator', 'the JSON event too');
    other.client.send('still here');
    await nextMessage(client, 'still here');
    assert.equal(audit.entries().filter((entry) => entry.who === name).length, 0, 'nothing was logged');
  });

  test('oper: a wrong token is refused and spends the address\'s guesses; the right one makes a moderator, logged', async () => {
    const { client, name } = await joinFrom(server, '127.0.2.1', 'oper');
    client.send('/oper wrong-token-wrong-token');
    assert.deepEqual((await client.nextOfType('error')).data, { code: 'auth-failed', message: 'wrong admin token' });
    await oper(client);
    assert.deepEqual(audit.entries().at(-1), { when: audit.entries().at(-1)!.when, who: name, what: 'oper', whom: null, room: 'oper' });
    const guesser = await joinFrom(server, '127.0.2.2', 'oper');
    for (let i = 0; i < 3; i++) {
      guesser.client.send({ type: 'oper', data: `guess-${i}-guess-guess-guess` });
      assert.equal((await guesser.client.nextOfType('error')).data.code, 'auth-failed');
    }
    guesser.client.send(`/oper ${ADMIN_TOKEN}`);
    const refused = await guesser.client.nextOfType('error');
    assert.equal(refused.data.code, 'auth-failed');
    assert.ok(refused.data.retryAfterMs > 0, 'past the budget even the right token waits');
  });

  test('kick: the room is told, every connection of the name is closed with 4003, the audit log says who, what, whom, when', async () => {
    const mod = await joinFrom(server, '127.0.3.1', 'kick');
    await oper(mod.client);
    const spammer = await joinFrom(server, '127.0.3.2', 'kick');
    const second = await joinFrom(server, '127.0.3.2', 'kick', spammer.token);
    mod.client.send(`/kick ${spammer.name} stop it`);
    const told = await mod.client.nextOfType('peer-kicked');
    assert.deepEqual(told.data, { name: spammer.name, by: mod.name, reason: 'stop it' });
    assert.deepEqual(await spammer.client.closed, { code: 4003, reason: 'kicked: stop it' });
    assert.equal((await second.client.closed).code, 4003);
    const entry = audit.entries().at(-1)!;
    assert.equal(entry.what, 'kick');
    assert.equal(entry.who, mod.name);
    assert.equal(entry.whom, spammer.name);
    assert.equal(entry.reason, 'stop it');
    assert.ok(Math.abs(Date.parse(entry.when as string) - Date.now()) < 5000);
    mod.client.send('/kick nobody-here');
    assert.equal((await mod.client.nextOfType('error')).data.code, 'unknown-recipient');
  });

  test('delete: everyone is told message-deleted and history keeps a tombstone; an unknown seq is refused', async () => {
    const mod = await joinFrom(server, '127.0.4.1', 'delete');
    await oper(mod.client);
    const author = await joinFrom(server, '127.0.4.2', 'delete');
    author.client.send('something to regret');
    const { seq } = (await nextMessage(mod.client, 'something to regret')).data;
    mod.client.send(`/delete ${seq}`);
    assert.deepEqual((await author.client.nextOfType('message-deleted')).data, { seq, sender: author.name, by: mod.name });
    const later = await joinFrom(server, '127.0.4.3', 'delete');
    const tombstone = later.history.find((message) => message.seq === seq);
    assert.equal(tombstone.message, '');
    assert.equal(tombstone.deleted, true);
    assert.equal(audit.entries().at(-1)!.what, 'delete');
    assert.equal(audit.entries().at(-1)!.seq, seq);
    mod.client.send({ type: 'delete', data: { seq: 999 } });
    assert.equal((await mod.client.nextOfType('error')).data.code, 'unknown-message');
  });

  test('ban: closed with 4030, then refused before the upgrade by address and by session, in every room, until unbanned', async () => {
    const mod = await joinFrom(server, '127.0.5.1', 'ban');
    await oper(mod.client);
    const spammer = await joinFrom(server, '127.0.5.2', 'ban');
    const elsewhere = await joinFrom(server, '127.0.5.2', 'ban-other');
    const bystander = await joinFrom(server, '127.0.5.3', 'ban');
    mod.client.send(`/ban "${spammer.name}" spamming links`);
    const line = await bystander.client.nextOfType('moderation');
    assert.deepEqual(line.data, { action: 'ban', by: mod.name, name: spammer.name, until: null, reason: 'spamming links' });
    assert.deepEqual(await spammer.client.closed, { code: 4030, reason: 'banned: spamming links' });
    assert.equal((await elsewhere.client.closed).code, 4030, 'the same address in another room too');
    const byAddress = await upgradeStatus(server.port, '/ws?room=lobby', '127.0.5.2');
    assert.match(byAddress, /^HTTP\/1.1 403 Forbidden\na moderator banned you from this chat until a moderator lifts it: spamming links/);
    assert.match(await upgradeStatus(server.port, `/ws?room=lobby&token=${spammer.token}`, '127.0.5.9'), /^HTTP\/1.1 403/, 'by the session, from another address');
    assert.match(await upgradeStatus(server.port, '/ws?room=ban', '127.0.5.9'), /^HTTP\/1.1 101/, 'someone else from elsewhere is in');
    bystander.client.send('the bystander stays');
    await nextMessage(mod.client, 'the bystander stays');
    const entry = audit.entries().at(-1)!;
    assert.deepEqual({ what: entry.what, whom: entry.whom, until: entry.until, reason: entry.reason }, { what: 'ban', whom: spammer.name, until: null, reason: 'spamming links' });

    mod.client.send(`/unban ${spammer.name.toUpperCase()}`);
    assert.deepEqual((await bystander.client.nextOfType('moderation')).data, { action: 'unban', by: mod.name, name: spammer.name });
    const back = await joinFrom(server, '127.0.5.2', 'ban', spammer.token);
    assert.equal(back.name, spammer.name, 'back, as who they were');
    mod.client.send(`/unban ${spammer.name}`);
    assert.equal((await mod.client.nextOfType('error')).data.code, 'unknown-recipient', 'nobody is banned under it now');
  });

  test('a moderator behind the address of the person banned stays: moderators are not held by bans', async () => {
    const mod = await joinFrom(server, '127.0.14.1', 'shared');
    await oper(mod.client);
    const neighbour = await joinFrom(server, '127.0.14.1', 'shared');
    mod.client.send(`/ban ${neighbour.name}`);
    assert.equal((await neighbour.client.closed).code, 4030);
    mod.client.send('still here');
    await nextMessage(mod.client, 'still here');
    mod.client.send(`/unban ${neighbour.name}`);
    await mod.client.nextOfType('moderation');
  });

  test('a name whose connection just dropped (online for its grace period) is banned by its session', async () => {
    const mod = await joinFrom(server, '127.0.15.1', 'grace');
    await oper(mod.client);
    const leaving = await joinFrom(server, '127.0.15.2', 'grace');
    await leaving.client.close();
    mod.client.send(`/ban ${leaving.name} 1h`);
    assert.equal((await mod.client.nextOfType('moderation')).data.name, leaving.name);
    await until(async () => /^HTTP\/1.1 403/.test(await upgradeStatus(server.port, `/ws?room=grace&token=${leaving.token}`, '127.0.15.3')), 3000, () => 'the session is banned');
  });

  test('a time a moderator types is read as one or refused: never a ban for ever by a typo; a timed ban without a reason has none', async () => {
    const mod = await joinFrom(server, '127.0.17.1', 'times');
    await oper(mod.client);
    const target = await joinFrom(server, '127.0.17.2', 'times');
    for (const command of [`/ban ${target.name} 1.5h flood`, `/ban ${target.name} 2 weeks`, `/mute ${target.name} 10min`, `/mute ${target.name} 1y`, `/ban ${target.name} 90`]) {
      mod.client.send(command);
      assert.equal((await mod.client.nextOfType('error')).data.code, 'unknown-command', command);
    }
    mod.client.send(`/mute ${target.name} 2w`);
    const week = (await mod.client.nextOfType('moderation')).data;
    assert.ok(Math.abs(week.until - (Date.now() + 14 * 86_400_000)) < 5000, 'w is weeks');
    mod.client.send(`/unmute ${target.name}`);
    await mod.client.nextOfType('moderation');
    mod.client.send(`/ban ${target.name} 90m`);
    const ban = (await mod.client.nextOfType('moderation')).data;
    assert.equal(ban.reason, '', 'no reason given, none told');
    assert.ok(Math.abs(ban.until - (Date.now() + 90 * 60_000)) < 5000);
  });

  test('a muted person cannot rename or show typing either; a moderator cannot kick themselves; /oper without a token says how', async () => {
    const mod = await joinFrom(server, '127.0.18.1', 'quiet');
    await oper(mod.client);
    const loud = await joinFrom(server, '127.0.18.2', 'quiet');
    mod.client.send(`/mute ${loud.name}`);
    await loud.client.nextOfType('moderation');
    loud.client.send('/nick Shouting Now');
    assert.equal((await loud.client.nextOfType('error')).data.code, 'muted');
    loud.client.send({ type: 'typing', data: true });
    loud.client.send('/names');
    await loud.client.nextOfType('update-peers');
    mod.client.send('/names');
    await mod.client.nextOfType('update-peers');
    assert.ok(!mod.client.received.some((event) => event.type === 'typing' || event.type === 'peer-renamed'), 'the room heard nothing of them');
    mod.client.send(`/kick ${mod.name}`);
    assert.equal((await mod.client.nextOfType('error')).data.code, 'bad-name');
    mod.client.send('/oper');
    assert.match((await mod.client.nextOfType('error')).data.message, /^usage: \/oper <token>/);
  });

  test('a ban holds for the sessions a connection had in the other rooms it joined', async () => {
    const mod = await joinFrom(server, '127.0.19.1', 'hops');
    await oper(mod.client);
    const hopper = await joinFrom(server, '127.0.19.2', 'hops');
    hopper.client.send('/join hops-other');
    await hopper.client.nextOfType('room-changed');
    const { data: other } = await hopper.client.nextOfType('session');
    await hopper.client.nextOfType('synced');
    hopper.client.send('/join hops');
    await hopper.client.nextOfType('synced');
    mod.client.send(`/ban ${hopper.name}`);
    assert.equal((await hopper.client.closed).code, 4030);
    assert.match(await upgradeStatus(server.port, `/ws?room=hops-other&token=${other.token}`, '127.0.19.3'), /^HTTP\/1.1 403/);
  });

  test('a ban for a time ends by itself; a moderator cannot ban themselves; a name not online is refused', async () => {
    const mod = await joinFrom(server, '127.0.6.1', 'timed');
    await oper(mod.client);
    const target = await joinFrom(server, '127.0.6.2', 'timed');
    mod.client.send({ type: 'ban', data: { name: target.name, seconds: 2 } });
    const { until } = (await mod.client.nextOfType('moderation')).data;
    assert.ok(until > Date.now() && until <= Date.now() + 2000);
    assert.equal((await target.client.closed).code, 4030);
    const before = Date.now();
    const refused = await upgradeStatus(server.port, '/ws?room=timed', '127.0.6.2');
    // Asked well before its end (a loaded machine may take longer), the ban says when it ends.
    if (before < until - 500) assert.match(refused, /^HTTP\/1.1 403 Forbidden\na moderator banned you from this chat until 20\d\d-\d\d-\d\d \d\d:\d\d UTC$/m);
    await until_(until);
    assert.match(await upgradeStatus(server.port, '/ws?room=timed', '127.0.6.2'), /^HTTP\/1.1 101/, 'over at its time');
    mod.client.send(`/ban ${mod.name}`);
    assert.equal((await mod.client.nextOfType('error')).data.code, 'bad-name');
    mod.client.send('/ban ghost-of-nobody 1h');
    assert.equal((await mod.client.nextOfType('error')).data.code, 'unknown-recipient');
  });

  test('mute: the muted reads but cannot send (messages, direct messages, the topic), even from a new session; unmute lets them speak', async () => {
    const mod = await joinFrom(server, '127.0.7.1', 'mute');
    await oper(mod.client);
    const loud = await joinFrom(server, '127.0.7.2', 'mute');
    mod.client.send(`/mute ${loud.name} 10m`);
    const line = await loud.client.nextOfType('moderation');
    assert.equal(line.data.action, 'mute');
    assert.ok(line.data.until > Date.now() + 590_000);
    // From the line on, nothing they send goes out.
    loud.client.send({ type: 'message', data: 'can I talk?', id: 'm1' });
    const refused = await loud.client.nextOfType('error');
    assert.equal(refused.data.code, 'muted');
    assert.equal(refused.data.id, 'm1', 'the refusal names the message');
    assert.ok(refused.data.retryAfterMs > 500_000);
    loud.client.send(`/msg ${mod.name} psst`);
    assert.equal((await loud.client.nextOfType('error')).data.code, 'muted');
    mod.client.send('they still read');
    await nextMessage(loud.client, 'they still read');
    const fresh = await joinFrom(server, '127.0.7.2', 'mute');
    fresh.client.send('a new name, the same address');
    assert.equal((await fresh.client.nextOfType('error')).data.code, 'muted');
    const elsewhere = await joinFrom(server, '127.0.7.2', 'mute-other');
    elsewhere.client.send('another room is not muted');
    await nextMessage(elsewhere.client, 'another room is not muted');
    mod.client.send(`/unmute ${loud.name}`);
    assert.equal((await loud.client.nextOfType('moderation')).data.action, 'unmute');
    loud.client.send('free again');
    await nextMessage(mod.client, 'free again');
    assert.deepEqual(audit.entries().slice(-2).map((entry) => entry.what), ['mute', 'unmute']);
  });

  test('slow mode: one message per interval for each person (their next is refused with how long to wait); moderators are exempt; /slow 0 ends it', async () => {
    const mod = await joinFrom(server, '127.0.8.1', 'slow');
    await oper(mod.client);
    const ada = await joinFrom(server, '127.0.8.2', 'slow');
    const bob = await joinFrom(server, '127.0.8.2', 'slow');
    mod.client.send('/slow 30');
    assert.deepEqual((await ada.client.nextOfType('moderation')).data, { action: 'slow', by: mod.name, seconds: 30 });
    ada.client.send('first');
    await nextMessage(mod.client, 'first');
    ada.client.send({ type: 'message', data: 'second', id: 's2' });
    const refused = await ada.client.nextOfType('error');
    assert.equal(refused.data.code, 'slow-mode');
    assert.equal(refused.data.id, 's2');
    assert.ok(refused.data.retryAfterMs > 25_000 && refused.data.retryAfterMs <= 30_000);
    bob.client.send('bob has his own turn behind the same address');
    await nextMessage(mod.client, 'bob has his own turn behind the same address');
    mod.client.send('a moderator is not slowed');
    mod.client.send('not even twice');
    await nextMessage(ada.client, 'not even twice');
    mod.client.send({ type: 'slow', data: { seconds: 0 } });
    assert.equal((await ada.client.nextOfType('moderation')).data.seconds, 0);
    ada.client.send('second, now');
    await nextMessage(mod.client, 'second, now');
  });

  test('the topic is the moderators\' on a server that has them; a moderator sets it and it is logged', async () => {
    const mod = await joinFrom(server, '127.0.9.1', 'topic');
    const other = await joinFrom(server, '127.0.9.2', 'topic');
    other.client.send('/topic');
    assert.equal((await other.client.nextOfType('topic')).data.topic, '', 'anyone may read it');
    await oper(mod.client);
    mod.client.send('/topic Be kind');
    assert.equal((await other.client.nextOfType('topic')).data.topic, 'Be kind');
    assert.deepEqual({ what: audit.entries().at(-1)!.what, topic: audit.entries().at(-1)!.topic }, { what: 'topic', topic: 'Be kind' });
  });

  test('text mode: the acts are lines, and /help lists the moderator commands', async () => {
    const mod = await connectText(server, 'room=lines');
    await mod.expect(/^You are /);
    const target = await joinFrom(server, '127.0.10.2', 'lines');
    mod.send(`/oper ${ADMIN_TOKEN}`);
    await mod.expect('-- you are a moderator on this connection: /help lists what you may do');
    mod.send(`/mute ${target.name} 2h`);
    await mod.expect(new RegExp(`^-- ${target.name} was muted by \\S+ until \\[(\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d\\]$`));
    mod.send('/slow 5');
    await mod.expect(/ set slow mode: one message every 5 s each$/);
    mod.send(`/ban ${target.name} 1d flooding`);
    await mod.expect(new RegExp(`^-- ${target.name} was banned by \\S+ until .*: flooding$`));
    mod.send('/help');
    await mod.expect(/\/ban <name> \[time\] \[reason\]/);
  });
});

/** Waits until the clock passes `ms` (since the epoch). */
async function until_(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now() + 50)));
}

describe('moderators in jwt mode: role "moderator"', async () => {
  const server = await startTestServer({ auth: 'jwt', jwtSecretFile }, { audit: () => {} });
  const token = (sub: string, role?: string) =>
    new SignJWT({ name: sub, ...(role && { role }) }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(Buffer.from(HS_SECRET));

  test('a moderator token acts without oper; a ban by sub holds from any address and any room', async () => {
    const mod = await join(server, '/ws?room=jwt', '127.0.11.1', ['plainchat', `plainchat.jwt.${await token('Moderator', 'moderator')}`]);
    const user = await join(server, '/ws?room=jwt', '127.0.11.2', ['plainchat', `plainchat.jwt.${await token('Eve')}`]);
    user.client.send('/kick Moderator');
    assert.equal((await user.client.nextOfType('error')).data.code, 'not-moderator');
    mod.client.send('/ban Eve trolling');
    assert.equal((await user.client.closed).code, 4030);
    const status = await upgradeStatus(server.port, '/ws?room=elsewhere', '127.0.11.3', `Sec-WebSocket-Protocol: plainchat, plainchat.jwt.${await token('Eve')}\r\n`);
    assert.match(status, /^HTTP\/1.1 403/, 'her sub is banned, wherever she comes from');
    // A first-frame sign-in is checked too.
    const late = await connect(server, '/ws?room=other', '127.0.11.4');
    await late.nextOfType('auth-required');
    late.send({ type: 'auth', data: await token('Eve') });
    assert.deepEqual(await late.closed, { code: 4030, reason: 'banned: trolling' }, 'with the reason, as the docs say');
  });
});

describe('bans kept: across a SIGKILL (SQLite)', () => {
  test('a ban and a mute made before the process was killed still hold after it starts again', async () => {
    const dataDir = tempDataDir();
    const flags = ['--data-dir', dataDir, '--admin-token-file', adminTokenFile];
    const first = await spawnServer(flags);
    const server = { url: `http://127.0.0.1:${first.port}`, port: first.port, close: async () => {} };
    const mod = await joinFrom(server, '127.0.12.1', 'kept');
    await oper(mod.client);
    const muted = await joinFrom(server, '127.0.12.2', 'kept');
    const banned = await joinFrom(server, '127.0.12.3', 'kept');
    mod.client.send(`/mute ${muted.name}`);
    await muted.client.nextOfType('moderation');
    mod.client.send(`/ban ${banned.name} 1d`);
    await banned.client.closed;
    await until(() => /"what":"ban"/.test(first.output()), 3000, () => `the audit line is on stdout: ${first.output()}`);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const second = await spawnServer(flags);
    assert.match(await upgradeStatus(second.port, '/ws?room=kept', '127.0.12.3'), /^HTTP\/1.1 403/);
    const again = await joinFrom({ ...server, url: `http://127.0.0.1:${second.port}`, port: second.port }, '127.0.12.2', 'kept', muted.token);
    again.client.send('after the restart');
    assert.equal((await again.client.nextOfType('error')).data.code, 'muted');
  });
});

withRedis('moderation across nodes (Redis)', async () => {
  const redis = await startRedis();
  const flags = ['--admin-token-file', adminTokenFile];
  const [one, two] = await Promise.all([startNode(redis.url, flags), startNode(redis.url, flags)]);

  test('reconnecting in a tight loop to another node while the ban is made: no connection of the banned address or session stays open', async () => {
    const mod = await joinFrom(one, '127.0.16.1', 'race');
    await oper(mod.client);
    const target = await joinFrom(one, '127.0.16.2', 'race');
    const opened: TestClient[] = [];
    let isBanned = false;
    // Fresh sessions from the banned address, and the banned session from another address, as fast as the node takes them.
    const storm = async (address: string, token?: string) => {
      while (!isBanned) {
        const client = await connect(two, `/ws?room=race${token ? `&token=${token}` : ''}`, address).catch(() => undefined);
        if (client) opened.push(client);
      }
    };
    const storms = [storm('127.0.16.2'), storm('127.0.16.3', target.token), storm('127.0.16.2'), storm('127.0.16.3', target.token)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    mod.client.send(`/ban ${target.name}`);
    await target.client.closed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    isBanned = true;
    await Promise.all(storms);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const open = opened.filter((client) => client.ws.readyState === client.ws.OPEN);
    assert.deepEqual(open.map((client) => client.received.find((event) => event.type === 'name-generated')?.data), [], 'every one was closed');
  });

  test('a ban made on one node closes its target on another and is refused on both; a mute and slow mode hold on both; Redis restarted keeps them', async () => {
    const mod = await joinFrom(one, '127.0.13.1', 'nodes');
    await oper(mod.client);
    const target = await joinFrom(two, '127.0.13.2', 'nodes');
    const talker = await joinFrom(two, '127.0.13.3', 'nodes');
    mod.client.send(`/mute ${talker.name}`);
    await talker.client.nextOfType('moderation');
    mod.client.send('/slow 60');
    await talker.client.nextOfType('moderation');
    mod.client.send(`/ban ${target.name}`);
    assert.equal((await target.client.closed).code, 4030);
    for (const node of [one, two]) assert.match(await upgradeStatus(node.port, '/ws?room=nodes', '127.0.13.2'), /^HTTP\/1.1 403/, node.url);
    talker.client.send('muted?');
    assert.equal((await talker.client.nextOfType('error')).data.code, 'muted', 'on the node it is on');

    await redis.stop();
    await redis.start();
    // Each node reads the rules afresh once it is back: both still refuse.
    const isBack = async (node: ChatServer) => (await fetch(`${node.url}/healthz`)).status === 200;
    await until(async () => (await isBack(one)) && (await isBack(two)), 10_000, () => 'both nodes are back');
    assert.match(await upgradeStatus(two.port, '/ws?room=nodes', '127.0.13.2'), /^HTTP\/1.1 403/);
    const onOne = await joinFrom(one, '127.0.13.4', 'nodes');
    onOne.client.send('first on one');
    await nextMessage(onOne.client, 'first on one');
    onOne.client.send({ type: 'message', data: 'second too soon', id: 'x' });
    assert.equal((await onOne.client.nextOfType('error')).data.code, 'slow-mode', 'slow mode holds after Redis came back');
    assert.match(await upgradeStatus(one.port, '/ws?room=nodes', '127.0.13.2'), /^HTTP\/1.1 403/);
  });
});

void rawRequest;
