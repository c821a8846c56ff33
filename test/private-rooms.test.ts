// Private rooms and invitations against the real server with real clients: a moderator's /private
// makes everyone present a member and keeps everyone else out (before the upgrade, on /join, at a
// first-frame sign-in, in GET /rooms and /list); /invite makes signed, expiring links that admit
// and make members; expired, forged and other rooms' codes are refused, and wrong ones spend the
// address's guesses. The flag and the members outlive a SIGKILL and hold across nodes.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { ChatServer } from '../lib/server.ts';
import { connect, connectText, join, joinFrom, type Joined, operWith, spawnServer, startTestServer, type TestClient, tempDataDir, until, upgradeStatus } from './helpers.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const dir = mkdtempSync(joinPath(tmpdir(), 'plainchat-private-'));
const ADMIN_TOKEN = 'the-admin-token-of-the-private-test';
const adminTokenFile = joinPath(dir, 'admin-token');
writeFileSync(adminTokenFile, ADMIN_TOKEN);
const HS_SECRET = 'a-secret-of-at-least-thirty-two-characters';
const jwtSecretFile = joinPath(dir, 'jwt-secret');
writeFileSync(jwtSecretFile, HS_SECRET);

const oper = (client: TestClient) => operWith(client, ADMIN_TOKEN);

/** A moderator in `room` who made it private, and a bystander who was there then. */
async function privateRoom(server: ChatServer, room: string, at: string): Promise<{ mod: Joined; member: Joined }> {
  const mod = await joinFrom(server, `${at}.1`, room);
  await oper(mod.client);
  const member = await joinFrom(server, `${at}.2`, room);
  mod.client.send('/private');
  assert.deepEqual((await member.client.nextOfType('moderation')).data, { action: 'private', by: mod.name });
  return { mod, member };
}

/** Asks for an invitation and returns its code. */
async function invite(client: TestClient, time = ''): Promise<{ room: string; code: string; expiresAt: number; url: string }> {
  client.send(`/invite${time ? ` ${time}` : ''}`);
  return (await client.nextOfType('invitation')).data;
}

const PRIVATE = /^HTTP\/1.1 403 Forbidden\n#\S+ is private: only its members may join; ask one for an invitation \(\/invite\)/;

describe('private rooms in open mode', async () => {
  const audit: string[] = [];
  // The room list is read afresh for each /list and GET /rooms (--rooms-cache-ms 0).
  const server = await startTestServer({ adminTokenFile, authFailuresPerMinutePerIp: 3, roomsCacheMs: 0 }, { audit: (line) => audit.push(line) });

  test('/private is a moderator\'s; it keeps newcomers out before the upgrade and on /join, and lets those present back in by their token', async () => {
    const outsider = await joinFrom(server, '127.0.20.9', 'lobby');
    const early = await joinFrom(server, '127.0.20.3', 'team');
    early.client.send('/private');
    assert.equal((await early.client.nextOfType('error')).data.code, 'not-moderator');
    const { mod, member } = await privateRoom(server, 'team', '127.0.20');
    assert.deepEqual(JSON.parse(audit.at(-1)!).what, 'private');
    assert.match(await upgradeStatus(server.port, '/ws?room=team', '127.0.20.9'), PRIVATE);
    assert.match(await upgradeStatus(server.port, '/ws?room=team', '127.0.20.2'), PRIVATE, 'a member\'s address is not who they are');
    outsider.client.send('/join team');
    const refused = await outsider.client.nextOfType('error');
    assert.equal(refused.data.code, 'room-refused');
    assert.match(refused.data.message, /#team is private/);
    await member.client.close();
    const back = await joinFrom(server, '127.0.20.8', 'team', member.token);
    assert.equal(back.name, member.name, 'back by token, from anywhere');
    const alsoBack = await joinFrom(server, '127.0.20.8', 'team', early.token);
    assert.equal(alsoBack.name, early.name, 'everyone present became a member');
    // A member who left for another room may come back with /join.
    back.client.send('/join lobby');
    await back.client.nextOfType('synced');
    back.client.send('/join team');
    assert.equal((await back.client.nextOfType('room-changed')).data.to, 'team');
    await back.client.nextOfType('synced');
    mod.client.send('/private');
    assert.equal((await mod.client.nextOfType('error')).data.code, 'bad-room', 'private already');
  });

  test('GET /rooms lists public rooms only; /list shows a private room to its members, marked', async () => {
    const { member } = await privateRoom(server, 'hidden', '127.0.21');
    const rooms = (await (await fetch(`${server.url}/rooms`)).json()) as { rooms: Array<{ room: string }> };
    assert.ok(!rooms.rooms.some(({ room }) => room === 'hidden'), JSON.stringify(rooms));
    member.client.send('/list');
    const seen = (await member.client.nextOfType('room-list')).data.rooms;
    assert.deepEqual(seen.find((r: { room: string }) => r.room === 'hidden'), { room: 'hidden', peers: 2, private: true });
    const stranger = await joinFrom(server, '127.0.21.9', 'lobby');
    stranger.client.send('/list');
    const theirs = (await stranger.client.nextOfType('room-list')).data.rooms;
    assert.ok(!theirs.some((r: { room: string }) => r.room === 'hidden'));
    assert.ok(theirs.some((r: { room: string }) => r.room === 'lobby'));
  });

  test('an invitation admits (in the URL or the subprotocol) and makes a member, who comes back without it', async () => {
    const { member } = await privateRoom(server, 'invited', '127.0.22');
    const before = Date.now();
    const invitation = await invite(member.client);
    assert.equal(invitation.room, 'invited');
    assert.ok(invitation.expiresAt > before + 7 * 86_400_000 - 5000 && invitation.expiresAt <= Date.now() + 7 * 86_400_000, 'a week by default');
    assert.equal(invitation.url, `${server.url}/#invited&invite=${invitation.code}`);
    const guest = await join(server, `/ws?room=invited&invite=${invitation.code}`, '127.0.22.9');
    await guest.client.close();
    const again = await joinFrom(server, '127.0.22.10', 'invited', guest.token);
    assert.equal(again.name, guest.name, 'a member now, without the invitation');
    const second = await join(server, '/ws?room=invited', '127.0.22.11', ['plainchat', `plainchat.invite.${invitation.code}`]);
    assert.ok(second.name, 'the subprotocol form admits too');
    const invitedByGuest = await invite(again.client, '2h');
    assert.ok(Math.abs(invitedByGuest.expiresAt - (Date.now() + 7_200_000)) < 5000, 'any member may invite, for the time asked');
  });

  test('an expired invitation, a forged one, another room\'s and garbage are refused before the upgrade, each saying why', async () => {
    const { member } = await privateRoom(server, 'guarded', '127.0.23');
    const { mod: otherMod } = await privateRoom(server, 'elsewhere', '127.0.24');
    const short = await invite(member.client, '1s');
    const good = await invite(member.client);
    const others = await invite(otherMod.client);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, short.expiresAt - Date.now() + 50)));
    const status = (code: string, address: string) => upgradeStatus(server.port, `/ws?room=guarded&invite=${encodeURIComponent(code)}`, address);
    assert.match(await status(short.code, '127.0.23.20'), /^HTTP\/1.1 403 Forbidden\nthe invitation has expired; ask a member of #guarded for a new one/);
    const tampered = good.code.slice(0, -1) + (good.code.endsWith('A') ? 'B' : 'A');
    const notValid = /^HTTP\/1.1 403 Forbidden\nthe invitation is not valid for #guarded/;
    assert.match(await status(tampered, '127.0.23.21'), notValid);
    assert.match(await status(others.code, '127.0.23.22'), notValid, 'another room\'s code');
    assert.match(await status('garbage', '127.0.23.23'), notValid);
    const later = good.code.replace(/\.([0-9a-z]+)\./, (_, expiry: string) => `.${(parseInt(expiry, 36) + 1000).toString(36)}.`);
    assert.match(await status(later, '127.0.23.24'), notValid, 'a longer life is not the one signed');
    assert.match(await status(good.code, '127.0.23.25'), /^HTTP\/1.1 101/);
  });

  test('wrong codes spend the address\'s guesses: past them even a good one waits (429)', async () => {
    const { member } = await privateRoom(server, 'guessed', '127.0.25');
    const good = await invite(member.client);
    for (let i = 0; i < 3; i++) assert.match(await upgradeStatus(server.port, `/ws?room=guessed&invite=guess${i}`, '127.0.25.9'), /^HTTP\/1.1 403/);
    const waited = await upgradeStatus(server.port, `/ws?room=guessed&invite=${good.code}`, '127.0.25.9');
    assert.match(waited, /^HTTP\/1.1 429 Too Many Requests\ntoo many wrong invitations or sign-ins from your address/);
    assert.match(await upgradeStatus(server.port, `/ws?room=guessed&invite=${good.code}`, '127.0.25.10'), /^HTTP\/1.1 101/, 'another address is not held up');
  });

  test('/invite in a public room answers its plain link; /public opens the room again', async () => {
    const { mod, member } = await privateRoom(server, 'opened', '127.0.26');
    mod.client.send('/public');
    assert.deepEqual((await member.client.nextOfType('moderation')).data, { action: 'public', by: mod.name });
    assert.match(await upgradeStatus(server.port, '/ws?room=opened', '127.0.26.9'), /^HTTP\/1.1 101/);
    assert.deepEqual(await invite(member.client), { room: 'opened', code: null, expiresAt: null, url: `${server.url}/#opened` });
    assert.equal(JSON.parse(audit.at(-1)!).what, 'public');
    member.client.send({ type: 'invite', data: { seconds: 10 * 366 * 86_400 } });
    assert.equal((await member.client.nextOfType('error')).data.code, 'bad-envelope', 'longer than --max-invite-ttl-ms');
  });

  test('text mode: the lines of /private, /invite (with the websocat form) and /list', async () => {
    const mod = await connectText(server, 'room=lines');
    await mod.expect(/^You are /);
    mod.send(`/oper ${ADMIN_TOKEN}`);
    await mod.expect(/you are a moderator/);
    mod.send('/private');
    await mod.expect(/^-- \S+ made this room private: only its members may join; \/invite makes an invitation$/);
    mod.send('/invite 1h');
    const host = server.url.replace('http://', '');
    const lines = await mod.expect(/^-- invitation to #lines/);
    assert.match(lines, new RegExp(`^-- invitation to #lines until \\[.*\\]:\\n   open  http://${host}/#lines&invite=lines\\.[0-9a-z]+\\.[\\w-]+\\n   or    websocat 'ws://${host}/ws\\?room=lines&invite=lines\\.[0-9a-z]+\\.[\\w-]+'$`));
    mod.send('/list');
    await mod.expect(/^   #lines \(1 online, private\)$/m);
  });
});

describe('the member cap (--max-room-members)', async () => {
  const server = await startTestServer({ adminTokenFile, maxRoomMembers: 3 }, { audit: () => {} });

  test('an invitation that would pass the cap is refused, saying so; members still come back', async () => {
    const { member } = await privateRoom(server, 'capped', '127.0.27');
    const { code } = await invite(member.client);
    const third = await join(server, `/ws?room=capped&invite=${code}`, '127.0.27.3');
    assert.match(await upgradeStatus(server.port, `/ws?room=capped&invite=${code}`, '127.0.27.4'), /^HTTP\/1.1 403 Forbidden\n#capped has as many members as it may \(--max-room-members 3\)/);
    await third.client.close();
    assert.equal((await joinFrom(server, '127.0.27.5', 'capped', third.token)).name, third.name);
  });
});

describe('private rooms in jwt mode', async () => {
  const server = await startTestServer({ auth: 'jwt', jwtSecretFile }, { audit: () => {} });
  const token = (sub: string, claims: Record<string, unknown> = {}) => new SignJWT({ name: sub, ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(Buffer.from(HS_SECRET));
  const asUser = async (sub: string, claims?: Record<string, unknown>, extra: string[] = []) => ['plainchat', `plainchat.jwt.${await token(sub, claims)}`, ...extra];

  test('members by sub; a rooms claim naming the room admits; an invitation makes a sub a member; a first-frame sign-in is checked too', async () => {
    const mod = await join(server, '/ws?room=jwt-team', '127.0.28.1', await asUser('Mod', { role: 'moderator' }));
    const ada = await join(server, '/ws?room=jwt-team', '127.0.28.2', await asUser('Ada'));
    mod.client.send('/private');
    await ada.client.nextOfType('moderation');
    await ada.client.close();
    const header = async (sub: string, claims?: Record<string, unknown>) => `Sec-WebSocket-Protocol: ${(await asUser(sub, claims)).join(', ')}\r\n`;
    assert.match(await upgradeStatus(server.port, '/ws?room=jwt-team', '127.0.28.9', await header('Eve')), PRIVATE);
    assert.match(await upgradeStatus(server.port, '/ws?room=jwt-team', '127.0.28.9', await header('Ada')), /^HTTP\/1.1 101/, 'Ada by her sub');
    assert.match(await upgradeStatus(server.port, '/ws?room=jwt-team', '127.0.28.9', await header('Cy', { rooms: ['jwt-team'] })), /^HTTP\/1.1 101/, 'a rooms claim naming it');
    const { code } = await invite(mod.client);
    const bob = await join(server, `/ws?room=jwt-team&invite=${code}`, '127.0.28.3', await asUser('Bob'));
    await bob.client.close();
    assert.match(await upgradeStatus(server.port, '/ws?room=jwt-team', '127.0.28.9', await header('Bob')), /^HTTP\/1.1 101/, 'Bob is a member by his sub now');

    const late = await connect(server, '/ws?room=jwt-team', '127.0.28.4');
    await late.nextOfType('auth-required');
    late.send({ type: 'auth', data: await token('Eve') });
    assert.deepEqual(await late.closed, { code: 4403, reason: 'this room is private: ask one of its members for an invitation' });
    const invitedLate = await connect(server, `/ws?room=jwt-team&invite=${code}`, '127.0.28.5');
    await invitedLate.nextOfType('auth-required');
    invitedLate.send({ type: 'auth', data: await token('Dee') });
    await invitedLate.nextOfType('synced');
    assert.match(await upgradeStatus(server.port, '/ws?room=jwt-team', '127.0.28.9', await header('Dee')), /^HTTP\/1.1 101/, 'a member after a first-frame sign-in');
  });
});

describe('private rooms kept across a SIGKILL (SQLite)', () => {
  test('the flag, its members and its invitations hold after the process starts again', async () => {
    const dataDir = tempDataDir();
    const flags = ['--data-dir', dataDir, '--admin-token-file', adminTokenFile];
    const first = await spawnServer(flags);
    const at = (port: number): ChatServer => ({ url: `http://127.0.0.1:${port}`, port, close: async () => {} });
    const { member } = await privateRoom(at(first.port), 'kept', '127.0.29');
    const { code } = await invite(member.client);
    await until(() => /"what":"private"/.test(first.output()), 3000, () => `the audit line is on stdout: ${first.output()}`);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const second = await spawnServer(flags);
    assert.match(await upgradeStatus(second.port, '/ws?room=kept', '127.0.29.9'), PRIVATE);
    assert.equal((await joinFrom(at(second.port), '127.0.29.8', 'kept', member.token)).name, member.name);
    assert.match(await upgradeStatus(second.port, `/ws?room=kept&invite=${code}`, '127.0.29.7'), /^HTTP\/1.1 101/, 'signed with the kept secret');
  });
});

withRedis('private rooms across nodes (Redis)', async () => {
  const redis = await startRedis();
  const flags = ['--admin-token-file', adminTokenFile];
  const [one, two] = await Promise.all([startNode(redis.url, flags), startNode(redis.url, flags)]);

  test('made private on one node, those present on another become members; both refuse newcomers; an invitation made on one admits on the other', async () => {
    const mod = await joinFrom(one, '127.0.30.1', 'nodes');
    await oper(mod.client);
    const there = await joinFrom(two, '127.0.30.2', 'nodes');
    mod.client.send('/private');
    await there.client.nextOfType('moderation');
    await until(async () => /^HTTP\/1.1 403/.test(await upgradeStatus(two.port, '/ws?room=nodes', '127.0.30.9')), 3000, () => 'node two refuses');
    assert.match(await upgradeStatus(one.port, '/ws?room=nodes', '127.0.30.9'), PRIVATE);
    await there.client.close();
    await until(async () => /^HTTP\/1.1 101/.test(await upgradeStatus(one.port, `/ws?room=nodes&token=${there.token}`, '127.0.30.8')), 3000, () => 'the member recorded on node two is let in on node one');
    const { code } = await invite(mod.client);
    const guest = await join(two, `/ws?room=nodes&invite=${code}`, '127.0.30.3');
    assert.ok(guest.name);
    const rooms = (await (await fetch(`${two.url}/rooms`)).json()) as { rooms: Array<{ room: string }> };
    assert.ok(!rooms.rooms.some(({ room }) => room === 'nodes'));
  });
});
