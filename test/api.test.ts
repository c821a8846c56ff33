// The HTTP API (lib/api.ts) on a real server: docs/API.md's curl examples run as they are written,
// every route, the key and its budget, idempotent retries, and what the API does reaching JSON and
// text-mode peers.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { API_ERROR_CODES } from '../lib/api.ts';
import { parseConfig } from '../lib/config.ts';
import type { ChatServer } from '../lib/server.ts';
import { connectText, join, nextMessage, spawnServer, startTestServer, tempDataDir } from './helpers.ts';
import { startNode, startRedis, withRedis } from './redis-server.ts';

const KEY = 'test-key-0123456789abcdef';
const TIME = String.raw`\[\d\d:\d\d\]`;
const apiDoc = readFileSync(new URL('../docs/API.md', import.meta.url), 'utf8');

function keyFile(key = KEY): string {
  const path = joinPath(tempDataDir(), 'api.key');
  writeFileSync(path, `${key}\n`);
  return path;
}

/** Calls the API with the key (unless `headers` sets Authorization), a JSON body if given. */
async function call(server: ChatServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as any };
}

/** The epoch and ts of an answer, which change from run to run, as their types. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, key === 'epoch' || key === 'ts' ? typeof inner : normalize(inner)]));
}

/** A JSON peer and a text-mode peer (greeted) of `room`. */
async function peersOf(server: ChatServer, room: string) {
  const json = await join(server, `/ws?room=${room}`);
  const text = await connectText(server, `room=${room}`);
  await text.expect(/^You are /);
  return { json, text };
}

describe('the HTTP API', async () => {
  const audited: string[] = [];
  const server = await startTestServer({ apiKeyFile: keyFile(), graceMs: 0, apiKeyFailuresPerMinutePerIp: 3 }, { log: () => {}, audit: (line) => audited.push(line) });

  test("docs/API.md's curl examples answer as documented", async () => {
    // Someone to list and kick, as the examples have it.
    const person = await join(server, '/ws?room=dev');
    person.client.send({ type: 'rename', data: 'red-cat' });
    await person.client.nextOfType('peer-renamed');
    const examples = [...apiDoc.matchAll(/```sh\n(curl [\s\S]*?)\n```\n\n```json\n(.*)\n```/g)];
    assert.ok(examples.length >= 7, `found ${examples.length} examples`);
    const run = promisify(execFile);
    for (const [, command, documented] of examples) {
      const { stdout } = await run('bash', ['-c', command!], { env: { ...process.env, PLAINCHAT: server.url, PLAINCHAT_KEY: KEY } });
      assert.deepEqual(normalize(JSON.parse(stdout)), normalize(JSON.parse(documented!)), command);
    }
    assert.deepEqual(await person.client.closed, { code: 4003, reason: 'kicked: spam' });
  });

  test('docs/API.md lists every error code the API answers with', () => {
    for (const code of Object.keys(API_ERROR_CODES)) assert.ok(apiDoc.includes(`| \`${code}\` |`), code);
  });

  test('a bot message reaches a JSON peer and a text-mode peer like any other, and comes back in history', async () => {
    const { json, text } = await peersOf(server, 'bots');
    const posted = await call(server, 'POST', '/api/rooms/bots/messages', { sender: 'ci-bot', message: '  build 7 passed  ' });
    assert.equal(posted.status, 201);
    const event = await nextMessage(json.client, 'build 7 passed');
    assert.deepEqual({ ...event.data }, { sender: 'ci-bot', message: 'build 7 passed', ts: posted.body.ts, epoch: posted.body.epoch, seq: posted.body.seq });
    await text.expect(new RegExp(`^${TIME} <ci-bot> build 7 passed$`));
    const page = await call(server, 'GET', '/api/rooms/bots/messages');
    assert.deepEqual(page.body.messages.map((m: { message: string }) => m.message), ['build 7 passed']);
    assert.equal(page.body.more, false);
  });

  test('an Idempotency-Key retry answers the same seq and publishes nothing; another sender has keys of its own', async () => {
    const peer = await join(server, '/ws?room=retry');
    const headers = { 'Idempotency-Key': 'job-1' };
    const first = await call(server, 'POST', '/api/rooms/retry/messages', { sender: 'ci-bot', message: 'once' }, headers);
    const again = await call(server, 'POST', '/api/rooms/retry/messages', { sender: 'ci-bot', message: 'once' }, headers);
    assert.equal(again.body.seq, first.body.seq);
    const other = await call(server, 'POST', '/api/rooms/retry/messages', { sender: 'deploy-bot', message: 'mine' }, headers);
    assert.equal(other.body.seq, first.body.seq + 1);
    await nextMessage(peer.client, 'mine');
    assert.equal(peer.client.received.filter((e) => e.type === 'message' && e.data.message === 'once').length, 1);
    assert.equal((await call(server, 'POST', '/api/rooms/retry/messages', { sender: 'ci-bot', message: 'x' }, { 'Idempotency-Key': 'has space' })).body.error.code, 'bad-id');
  });

  test('input is checked as the socket checks it; a bot may not post under a name someone has', async () => {
    const person = await join(server, '/ws?room=checks');
    const post = (body: unknown, headers?: Record<string, string>) => call(server, 'POST', '/api/rooms/checks/messages', body, headers);
    const cases: Array<[unknown, number, string]> = [
      [{ sender: 'ci-bot', message: '' }, 400, 'bad-message'],
      [{ sender: 'ci-bot', message: 'x'.repeat(2001) }, 400, 'bad-message'],
      [{ sender: 'ci-bot', message: 'bell \u0007' }, 400, 'bad-message'],
      [{ sender: 'ci/bot', message: 'hi' }, 400, 'bad-name'],
      [{ message: 'hi' }, 400, 'bad-name'],
      [{ sender: person.name.toUpperCase(), message: 'hi' }, 409, 'name-taken'],
      ['{"sender":', 400, 'bad-json'],
      [[1, 2], 400, 'bad-request'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await post(body);
      assert.deepEqual([answer.status, answer.body.error.code], [status, code], JSON.stringify(body));
      assert.equal(typeof answer.body.error.message, 'string');
    }
    const plain = await post('hello', { 'Content-Type': 'text/plain' });
    assert.deepEqual([plain.status, plain.body.error.code], [415, 'bad-request']);
    const huge = await post({ sender: 'ci-bot', message: 'x'.repeat(70 * 1024) });
    assert.deepEqual([huge.status, huge.body.error.code], [413, 'too-large']);
    assert.equal((await call(server, 'POST', '/api/rooms/Bad_Room/messages', { sender: 'ci-bot', message: 'hi' })).body.error.code, 'bad-room');
    assert.equal(person.client.received.filter((e) => e.type === 'message').length, 0, 'nothing was posted');
  });

  test('history pages are bounded by --history-page-max and checked; peers lists who is online', async () => {
    for (let i = 1; i <= 3; i++) await call(server, 'POST', '/api/rooms/pages/messages', { sender: 'ci-bot', message: `m${i}` });
    const page = await call(server, 'GET', '/api/rooms/pages/messages?before=3&limit=1');
    assert.deepEqual([page.body.messages.map((m: { message: string }) => m.message), page.body.more], [['m2'], true]);
    assert.equal((await call(server, 'GET', '/api/rooms/pages/messages?limit=100000')).body.messages.length, 3);
    assert.deepEqual((await call(server, 'GET', '/api/rooms/pages/messages?limit=0')).body.error.code, 'bad-history');
    assert.deepEqual((await call(server, 'GET', '/api/rooms/pages/peers')).body, { peers: [] });
    const { name } = await join(server, '/ws?room=pages');
    assert.deepEqual((await call(server, 'GET', '/api/rooms/pages/peers')).body, { peers: [name] });
  });

  test('a delete reaches JSON and text peers, and history, resumes and pages give the tombstone', async () => {
    const { json, text } = await peersOf(server, 'moderated');
    json.client.send('my password is hunter2');
    const said = await nextMessage(json.client, 'my password is hunter2');
    const deleted = await call(server, 'DELETE', `/api/rooms/moderated/messages/${said.data.seq}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body.message, { sender: json.name, message: '', ts: said.data.ts, seq: said.data.seq, epoch: said.data.epoch, deleted: true, deletedBy: 'api' });
    assert.deepEqual((await json.client.nextOfType('message-deleted')).data, { seq: said.data.seq, sender: json.name, by: 'api' });
    await text.expect(`-- a message by ${json.name} was deleted by api`);
    const late = await join(server, '/ws?room=moderated');
    assert.deepEqual(late.history.map((m) => [m.message, m.deleted]), [['', true]], 'a newcomer gets the tombstone');
    const resumed = await join(server, `/ws?room=moderated&epoch=${said.data.epoch}&lastSeq=0`);
    assert.equal(resumed.history[0].deletedBy, 'api', 'so does a resume');
    late.client.send({ type: 'history', data: { before: said.data.seq + 1 } });
    assert.equal((await late.client.nextOfType('message')).data.deleted, true, 'and a history page');
    const reader = await connectText(server, 'room=moderated');
    await reader.expect(new RegExp(`^${TIME} <${json.name}> \\(deleted\\)$`));
    assert.ok(!JSON.stringify(await call(server, 'GET', '/api/rooms/moderated/messages')).includes('hunter2'));
    const unknown = await call(server, 'DELETE', '/api/rooms/moderated/messages/99');
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'unknown-message']);
    assert.equal((await call(server, 'DELETE', '/api/rooms/moderated/messages/abc')).body.error.code, 'bad-request');
  });

  test('a kick closes every connection of the name with 4003, tells the room, and the name leaves', async () => {
    const { json: watcher, text } = await peersOf(server, 'kicks');
    const target = await join(server, '/ws?room=kicks');
    const second = await join(server, `/ws?room=kicks&token=${target.token}`);
    const kicked = await call(server, 'POST', '/api/rooms/kicks/kick', { name: target.name, reason: 'spam' });
    assert.deepEqual(kicked.body, { name: target.name, connections: 2 });
    for (const client of [target.client, second.client]) assert.deepEqual(await client.closed, { code: 4003, reason: 'kicked: spam' });
    assert.deepEqual((await watcher.client.nextOfType('peer-kicked')).data, { name: target.name, by: 'api', reason: 'spam' });
    assert.deepEqual((await watcher.client.nextOfType('peer-left')).data, [target.name]);
    await text.expect(`-- ${target.name} was kicked by api: spam`);
    const entry = JSON.parse(audited.at(-1)!);
    assert.deepEqual({ ...entry, when: undefined }, { when: undefined, who: 'api', what: 'kick', whom: target.name, room: 'kicks', reason: 'spam' }, 'written to the audit log as a moderator\'s kick is');
    await text.expect(`-- ${target.name} left`);
    const nobody = await call(server, 'POST', '/api/rooms/kicks/kick', { name: target.name });
    assert.deepEqual([nobody.status, nobody.body.error.code], [404, 'unknown-recipient']);
    assert.equal((await call(server, 'POST', '/api/rooms/kicks/kick', { reason: 'x' })).body.error.code, 'bad-request');
  });

  test('routes: 404 for none, 405 with Allow for a wrong method', async () => {
    const none = await call(server, 'GET', '/api/rooms/dev/nothing');
    assert.deepEqual([none.status, none.body.error.code], [404, 'not-found']);
    assert.equal((await call(server, 'GET', '/api/')).status, 404);
    const wrong = await call(server, 'PUT', '/api/rooms/dev/messages');
    assert.deepEqual([wrong.status, wrong.body.error.code, wrong.headers.get('allow')], [405, 'method-not-allowed', 'GET, POST']);
    assert.equal((await call(server, 'GET', '/api/rooms/dev/messages/1')).headers.get('allow'), 'DELETE');
  });

  test('a missing or wrong key gets 401 with WWW-Authenticate; past the budget of wrong keys, 429 with Retry-After, even with the key', async () => {
    const missing = await call(server, 'GET', '/api/rooms/dev/peers', undefined, { Authorization: '' });
    assert.deepEqual([missing.status, missing.body.error.code, missing.headers.get('www-authenticate')], [401, 'unauthorized', 'Bearer']);
    // Another address than the other tests', so that their calls are not refused.
    const from = { 'X-Forwarded-For': '203.0.113.9' };
    const proxied = await startTestServer({ apiKeyFile: keyFile(), trustProxy: true, apiKeyFailuresPerMinutePerIp: 2 });
    for (let i = 0; i < 2; i++) assert.equal((await call(proxied, 'GET', '/api/rooms/dev/peers', undefined, { ...from, Authorization: `Bearer ${KEY}x` })).status, 401);
    const refused = await call(proxied, 'GET', '/api/rooms/dev/peers', undefined, from);
    assert.deepEqual([refused.status, refused.body.error.code], [429, 'rate-limited']);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal((await call(proxied, 'GET', '/api/rooms/dev/peers')).status, 200, 'another address is not refused');
  });
});

describe('turning the API on', () => {
  test('without --api-key-file, /api/ answers 404 saying how to turn it on', async () => {
    const server = await startTestServer();
    const answer = await call(server, 'GET', '/api/rooms/dev/peers');
    assert.deepEqual([answer.status, answer.body.error.code], [404, 'api-off']);
    assert.match(answer.body.error.message, /--api-key-file/);
  });

  test('a key file that is missing, empty or short is refused at start-up, saying why', async () => {
    const dir = tempDataDir();
    const short = joinPath(dir, 'short.key');
    writeFileSync(short, 'abc\n');
    const empty = joinPath(dir, 'empty.key');
    writeFileSync(empty, '\n');
    assert.throws(() => parseConfig(['--api-key-file', joinPath(dir, 'none.key')], {}), /^Error: --api-key-file: cannot read the API key file .*none\.key \(ENOENT\)/);
    assert.throws(() => parseConfig(['--api-key-file', empty], {}), /holds no key; write one of at least 16/);
    assert.throws(() => parseConfig([], { API_KEY_FILE: short }), /environment variable API_KEY_FILE: .* a key of 3 characters/);
    const spaced = joinPath(dir, 'spaced.key');
    writeFileSync(spaced, 'correct horse battery staple\n');
    assert.throws(() => parseConfig(['--api-key-file', spaced], {}), /holds spaces or characters other than printable ASCII/);
    assert.equal(parseConfig(['--api-key-file', keyFile()], {}).help, false);
    const { child, output } = await spawnServer(['--api-key-file', short]).catch((err: Error) => ({ child: undefined, output: () => err.message }));
    child?.kill();
    assert.match(output(), /--api-key-file: the API key file .* holds a key of 3 characters/);
  });
});

withRedis('the HTTP API over Redis', async () => {
  const redis = await startRedis();
  const flags = ['--api-key-file', keyFile(), '--grace-ms', '0'];
  const [one, two] = await Promise.all([startNode(redis.url, flags), startNode(redis.url, flags)]);

  test('a post, a delete and a kick made on one node reach peers on the other, and its history serves the tombstone', async () => {
    const { json: there, text } = await peersOf(two, 'shared');
    const posted = await call(one, 'POST', '/api/rooms/shared/messages', { sender: 'ci-bot', message: 'over redis' });
    assert.equal(posted.status, 201);
    assert.equal((await nextMessage(there.client, 'over redis')).data.seq, posted.body.seq);
    const deleted = await call(one, 'DELETE', `/api/rooms/shared/messages/${posted.body.seq}`);
    assert.deepEqual(deleted.body.message, { sender: 'ci-bot', message: '', ts: posted.body.ts, seq: posted.body.seq, epoch: posted.body.epoch, deleted: true, deletedBy: 'api' });
    assert.deepEqual((await there.client.nextOfType('message-deleted')).data, { seq: posted.body.seq, sender: 'ci-bot', by: 'api' });
    await text.expect('-- a message by ci-bot was deleted by api');
    assert.deepEqual((await call(two, 'GET', '/api/rooms/shared/messages')).body.messages, [deleted.body.message], 'the other node serves the tombstone');
    const late = await join(one, '/ws?room=shared');
    assert.deepEqual(late.history, [{ ...deleted.body.message, history: true }]);
    assert.equal((await call(one, 'POST', '/api/rooms/shared/messages', { sender: there.name, message: 'impersonating' })).body.error.code, 'name-taken', 'a name online on the other node');

    const kicked = await call(one, 'POST', '/api/rooms/shared/kick', { name: there.name, reason: 'spam' });
    assert.deepEqual(kicked.body, { name: there.name, connections: 0 }, 'none of its connections were on this node');
    assert.deepEqual(await there.client.closed, { code: 4003, reason: 'kicked: spam' });
    assert.deepEqual((await late.client.nextOfType('peer-left', 10_000)).data, [there.name]);
  });
});
