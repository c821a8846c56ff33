// Sign-in (--auth): a shared password, or the application's JWTs (HS256, RS256, ES256), against
// the real server, with real clients; open mode is what every other test file runs.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { Config } from '../lib/config.ts';
import { connect, connectText, greeted, join, nextMessage, presenceView, spawnServer, startTestServer, type TestClient, until } from './helpers.ts';
import { rawRequest, upgradeRequest } from './raw-frames.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const dir = mkdtempSync(joinPath(tmpdir(), 'plainchat-auth-'));
/** Writes `text` to a file of its own and returns its path. */
function secretFile(name: string, text: string): string {
  const path = joinPath(dir, name);
  writeFileSync(path, text);
  return path;
}

const PASSWORD = 'correct horse battery';
const HS_SECRET = 'a-secret-of-at-least-thirty-two-characters';

/** Upgrades with these extra headers and returns the status line and body the server answered with. */
async function refusal(port: number, path: string, headers: string): Promise<{ status: string; body: string }> {
  const answer = await rawRequest(port, upgradeRequest(path, headers));
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: head.split('\r\n')[0]!, body };
}

/** Sends an `auth` and expects the greeting. */
async function signIn(client: TestClient, secret: string) {
  client.send({ type: 'auth', data: secret });
  return greeted(client);
}

describe('--auth password', async () => {
  const passwordFile = secretFile('password', `${PASSWORD}\n`);
  const server = await startTestServer({ auth: 'password', passwordFile, authFailuresPerMinutePerIp: 3, roomsPerMinutePerIp: 8 } as Partial<Config>);

  test('the server asks first; a wrong password is refused, the right one lets the client in, and its session then comes back without it', async () => {
    const client = await connect(server, '/ws?room=team');
    assert.deepEqual(await client.next(), { type: 'auth-required', data: { mode: 'password' } });
    client.send('hello before signing in');
    assert.equal((await client.next()).data.code, 'auth-required', 'nothing is said before the sign-in');
    client.send({ type: 'auth', data: 'wrong guess' });
    assert.deepEqual((await client.next()).data, { code: 'auth-failed', message: 'wrong password' });
    const first = await signIn(client, PASSWORD);
    assert.deepEqual(first.history, [], 'what was typed before the sign-in was never said');
    await client.close();
    assert.equal((await fetch(`${server.url}/rooms`)).status, 401, 'nor is the room list shown to someone who has not signed in');
    assert.equal((await fetch(`${server.url}/rooms`, { headers: { Authorization: `Bearer ${first.token}` } })).status, 200);

    // The page sends its session token where proxies do not log it; websocat may put it in the URL.
    const again = await join(server, '/ws?room=team', undefined, ['plainchat', `plainchat.token.${first.token}`]);
    assert.equal(again.name, first.name, 'the session lasts as any other');
    assert.equal(again.client.ws.protocol, 'plainchat', 'the server answers with plainchat, never with a credential');
    const byUrl = await join(server, `/ws?room=team&token=${encodeURIComponent(first.token)}`);
    assert.equal(byUrl.name, first.name);
    // A session token the server did not sign (made up, or altered) is no sign-in.
    const forged = await connect(server, '/ws?room=team', undefined, ['plainchat', `plainchat.token.${first.token.slice(0, -2)}xx`]);
    assert.equal((await forged.next()).type, 'auth-required');
    for (const client of [again.client, byUrl.client, forged]) await client.close();
  });

  test('what is sent right after the auth, before the greeting, is said once the client is in', async () => {
    const client = await connect(server, '/ws?room=eager');
    await client.next();
    client.send({ type: 'auth', data: PASSWORD });
    client.send({ type: 'message', data: 'at once', id: 'm1' });
    await greeted(client);
    assert.equal((await client.nextOfType('message')).data.message, 'at once');
    assert.deepEqual((await client.nextOfType('ack')).data.id, 'm1');
    await client.close();
  });

  test('wrong guesses are budgeted per address: over the budget even the right password waits, while another address is not held up', async () => {
    const client = await connect(server, '/ws?room=guess', '127.0.0.7');
    await client.next();
    for (let i = 0; i < 3; i++) {
      client.send({ type: 'auth', data: `guess ${i}` });
      assert.equal((await client.next()).data.code, 'auth-failed');
    }
    client.send({ type: 'auth', data: PASSWORD });
    const refused = (await client.next()).data;
    assert.equal(refused.code, 'auth-failed');
    assert.ok(refused.retryAfterMs > 0, 'with when to try again');
    const other = await connect(server, '/ws?room=guess', '127.0.0.8');
    await other.next();
    await signIn(other, PASSWORD);
    await client.close();
    await other.close();
  });

  test('reconnecting without signing in spends no new-room budget, and a burst right after the auth is held, not cut off', async () => {
    for (let i = 0; i < 12; i++) {
      const idle = await connect(server, '/ws?room=brand-new', '127.0.0.9');
      await idle.next();
      await idle.close();
    }
    const client = await connect(server, '/ws?room=brand-new', '127.0.0.9');
    await client.next();
    client.send({ type: 'auth', data: PASSWORD });
    for (let i = 0; i < 30; i++) client.send({ type: 'message', data: `burst ${i}` });
    await greeted(client);
    for (let i = 0; i < 30; i++) await nextMessage(client, `burst ${i}`);
    client.send({ type: 'auth', data: 42 });
    await client.close();
  });

  test('an auth frame that is not one says what is wrong with it', async () => {
    const client = await connect(server, '/ws?room=bad-auth');
    await client.next();
    client.send({ type: 'auth', data: 42 });
    assert.equal((await client.next()).data.code, 'bad-envelope');
    await client.close();
  });

  test('a terminal signs in with /auth and gets its banner', async () => {
    const text = await connectText(server, 'room=term');
    await text.expect(/^-- this chat needs a sign-in: type \/auth <password>$/);
    text.ws.send('hi');
    await text.expect(/^!! auth-required: sign in first: type \/auth <password or token>$/);
    text.ws.send(`/auth ${PASSWORD}`);
    await text.expect(/^You are \S+ in #term\./);
    text.ws.close();
  });

  test('a connection that does not sign in in time is closed with 4401', async () => {
    const quick = await startTestServer({ auth: 'password', passwordFile, authTimeoutMs: 1000 } as Partial<Config>);
    const client = await connect(quick, '/ws');
    assert.deepEqual(await client.closed, { code: 4401, reason: 'no sign-in in time; connect again and sign in' });
  });
});

test('--auth password without a usable password file stops the start, saying what to do', async () => {
  await assert.rejects(spawnServer(['--auth', 'password']), /--auth password needs --password-file <file>/);
  await assert.rejects(spawnServer(['--auth', 'password', '--password-file', joinPath(dir, 'missing')]), /--password-file .*missing: cannot read it \(ENOENT\)/);
  await assert.rejects(spawnServer(['--auth', 'password', '--password-file', secretFile('short', 'abc\n')]), /the secret must be at least 8 characters/);
  await assert.rejects(spawnServer(['--auth', 'jwt']), /--auth jwt needs one of --jwt-secret-file <file> \(HS256\) or --jwt-public-key-file <file>/);
});

type Claims = { sub?: string; name?: string; rooms?: string[]; role?: string };
const HS_KEY = new TextEncoder().encode(HS_SECRET);
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

function hsToken(claims: Claims, exp: number = inAnHour(), key: Uint8Array = HS_KEY): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
}
const viaHeader = (token: string) => ['plainchat', `plainchat.jwt.${token}`];

describe('--auth jwt (HS256)', async () => {
  const server = await startTestServer({ auth: 'jwt', jwtSecretFile: secretFile('hs', HS_SECRET) } as Partial<Config>);

  test('a token in the subprotocol header signs in before the upgrade; its name claim is the name, and one sub on two connections is one person', async () => {
    const token = await hsToken({ sub: 'user-1', name: 'Ada' });
    const watcher = await join(server, '/ws?room=jwt', undefined, viaHeader(await hsToken({ sub: 'watcher' })));
    const one = await join(server, '/ws?room=jwt', undefined, viaHeader(token));
    const two = await join(server, '/ws?room=jwt', undefined, viaHeader(token));
    assert.equal(one.name, 'Ada');
    assert.equal(two.name, 'Ada', 'the same person on a second device');
    assert.equal(one.token, two.token, 'one session');
    await until(() => presenceView(watcher.client.received).has('Ada'), 3000, () => 'Ada never joined');
    assert.deepEqual([...presenceView(watcher.client.received)].sort(), ['Ada', watcher.name].sort(), 'Ada is online once');
    two.client.send({ type: 'rename', data: 'Grace' });
    assert.equal((await two.client.nextOfType('error')).data.code, 'bad-name', 'the name is the application\'s to give');
    // A generated name is the sub's own too: it is the same on the next connection.
    const nameless = await hsToken({ sub: 'user-2' });
    const first = await join(server, '/ws?room=jwt', undefined, viaHeader(nameless));
    await first.client.close();
    const later = await join(server, '/ws?room=jwt', undefined, viaHeader(nameless));
    assert.equal(later.name, first.name);
    for (const client of [watcher.client, one.client, two.client, later.client]) await client.close();
  });

  test('a name claim someone else holds (the same name, another case, a look-alike) is not taken from them: the newcomer gets a name of its own, and is in presence', async () => {
    const alice = await join(server, '/ws?room=claims', undefined, viaHeader(await hsToken({ sub: 'alice', name: 'Alice' })));
    for (const [sub, name] of [['mal-1', 'Alice'], ['mal-2', 'ALICE'], ['mal-3', '\u0430\u04cf\u0456\u0441\u0435'], ['mal-4', 'Alice ']]) {
      const mal = await join(server, '/ws?room=claims', undefined, viaHeader(await hsToken({ sub: sub!, name: name! })));
      assert.notEqual(mal.name.toLowerCase(), 'alice', `${sub} did not take Alice's name`);
      assert.ok(mal.peers.includes(mal.name) && mal.peers.includes('Alice'), `${sub} is in presence under its own name`);
      await until(() => presenceView(alice.client.received).has(mal.name), 3000, () => `Alice never saw ${mal.name} join`);
      await mal.client.close();
    }
    assert.equal(alice.client.received.filter((e) => e.type === 'peer-left' && e.data.includes('Alice')).length, 0, 'Alice never left');
    await alice.client.close();
  });

  test('a token that is not good is refused before the upgrade: wrong key, alg none, expired, no sub, or a room its rooms claim does not name', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['wrong key', await hsToken({ sub: 'x' }, inAnHour(), new TextEncoder().encode('another-secret-of-thirty-two-characters!')), /signature verification failed/],
      ['alg none', `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', exp: inAnHour() })).toString('base64url')}.`, /not valid/],
      ['expired', await hsToken({ sub: 'x' }, Math.floor(Date.now() / 1000) - 60), /expired; fetch a new one/],
      ['no sub', await hsToken({}), /"sub"/],
      ['bad name', await hsToken({ sub: 'x', name: 'Ad\u200Ba' }), /"name": a name may not contain invisible characters/],
    ];
    for (const [what, token, message] of cases) {
      const { status, body } = await refusal(server.port, '/ws?room=jwt', `Sec-WebSocket-Protocol: plainchat, plainchat.jwt.${token}\r\n`);
      assert.equal(status, 'HTTP/1.1 401 Unauthorized', what);
      assert.match(body, message, what);
    }
    const limited = await hsToken({ sub: 'y', rooms: ['dev'] });
    const { status } = await refusal(server.port, '/ws?room=ops', `Sec-WebSocket-Protocol: plainchat, plainchat.jwt.${limited}\r\n`);
    assert.equal(status, 'HTTP/1.1 403 Forbidden', 'a room the rooms claim does not name');
    const inside = await join(server, '/ws?room=dev', undefined, viaHeader(limited));
    inside.client.send({ type: 'join', data: 'ops' });
    assert.deepEqual((await inside.client.nextOfType('error')).data, { code: 'room-refused', message: 'your sign-in does not let you into #ops' });
    await inside.client.close();
  });

  test('a token in the first frame signs in too; an expired one there, or one that expires while connected, closes with 4440', async () => {
    const client = await connect(server, '/ws?room=first');
    assert.deepEqual(await client.next(), { type: 'auth-required', data: { mode: 'jwt' } });
    client.send({ type: 'auth', data: 'not-a-token' });
    assert.equal((await client.next()).data.code, 'auth-failed');
    const joined = await signIn(client, await hsToken({ sub: 'first', name: 'Frida' }));
    assert.equal(joined.name, 'Frida');
    await client.close();

    const late = await connect(server, '/ws?room=first');
    await late.next();
    late.send({ type: 'auth', data: await hsToken({ sub: 'late' }, Math.floor(Date.now() / 1000) - 1) });
    assert.deepEqual(await late.closed, { code: 4440, reason: 'token expired: fetch a new token and connect again' });

    const soon = await join(server, '/ws?room=first', undefined, viaHeader(await hsToken({ sub: 'soon' }, Math.floor(Date.now() / 1000) + 2)));
    assert.equal((await soon.client.closed).code, 4440, 'closed once its token expired');
  });
});

describe('--auth jwt with a public key (RS256, ES256)', async () => {
  for (const [alg, keys] of [
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ] as const) {
    test(`${alg}: a token signed with the private key is taken; an HS256 token made with the public key as its secret is not`, async () => {
      const pem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const server = await startTestServer({ auth: 'jwt', jwtPublicKeyFile: secretFile(`${alg}.pem`, pem) } as Partial<Config>);
      const token = await new SignJWT({ sub: `${alg}-user`, name: alg }).setProtectedHeader({ alg }).setExpirationTime('1h').sign(keys.privateKey);
      const joined = await join(server, '/ws?room=keys', undefined, viaHeader(token));
      assert.equal(joined.name, alg);
      await joined.client.close();
      const confused = await hsToken({ sub: 'mallory' }, inAnHour(), new TextEncoder().encode(pem));
      const { status } = await refusal(server.port, '/ws?room=keys', `Sec-WebSocket-Protocol: plainchat, plainchat.jwt.${confused}\r\n`);
      assert.equal(status, 'HTTP/1.1 401 Unauthorized');
    });
  }
});

withRedis('sign-in over two processes sharing Redis', async () => {
  const redis = await startRedis();
  const passwordFile = secretFile('shared-password', PASSWORD);
  const jwtSecretFile = secretFile('shared-hs', HS_SECRET);

  test('a session the password gave on one process signs in on the other; one sub is one person on both', async () => {
    const [one, two] = await Promise.all([startNode(redis.url, ['--auth', 'password', '--password-file', passwordFile]), startNode(redis.url, ['--auth', 'password', '--password-file', passwordFile])]);
    const client = await connect(one, '/ws?room=shared');
    await client.next();
    const first = await signIn(client, PASSWORD);
    const there = await join(two, '/ws?room=shared', undefined, ['plainchat', `plainchat.token.${first.token}`]);
    assert.equal(there.name, first.name, 'no second password, the same person');
    await client.close();
    await there.client.close();

    const [a, b] = await Promise.all([startNode(redis.url, ['--auth', 'jwt', '--jwt-secret-file', jwtSecretFile]), startNode(redis.url, ['--auth', 'jwt', '--jwt-secret-file', jwtSecretFile])]);
    const nameless = await hsToken({ sub: 'roaming' });
    const onA = await join(a, '/ws?room=roam', undefined, viaHeader(nameless));
    const onB = await join(b, '/ws?room=roam', undefined, viaHeader(nameless));
    assert.equal(onB.name, onA.name, 'the generated name is the sub\'s on every process');
    assert.deepEqual(onB.peers, [onA.name], 'and it is online once');
    await onA.client.close();
    await onB.client.close();
  });
});

test('behind a sign-in, GET /rooms is for those signed in, and lists only the rooms a rooms claim names', async () => {
  const server = await startTestServer({ auth: 'jwt', jwtSecretFile: secretFile('rooms-hs', HS_SECRET) } as Partial<Config>);
  const everywhere = await join(server, '/ws?room=ops', undefined, viaHeader(await hsToken({ sub: 'admin' })));
  const limited = await hsToken({ sub: 'dev', rooms: ['dev'] });
  const inDev = await join(server, '/ws?room=dev', undefined, viaHeader(limited));
  const anonymous = await fetch(`${server.url}/rooms`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
  const forged = await fetch(`${server.url}/rooms`, { headers: { Authorization: 'Bearer not.a.token' } });
  assert.equal(forged.status, 401);
  const rooms = async (token: string) => ((await (await fetch(`${server.url}/rooms`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { rooms: Array<{ room: string }> }).rooms.map(({ room }) => room);
  assert.deepEqual(await rooms(await hsToken({ sub: 'admin' })), ['dev', 'ops']);
  assert.deepEqual(await rooms(limited), ['dev'], 'ops is not even named to someone who may not enter it');
  inDev.client.send({ type: 'list' });
  assert.deepEqual((await inDev.client.nextOfType('room-list')).data.rooms.map(({ room }: { room: string }) => room), ['dev']);
  await everywhere.client.close();
  await inDev.client.close();
});
