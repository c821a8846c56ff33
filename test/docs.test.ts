// README.md and docs/PROTOCOL.md say what the code does: these tests fail when they drift apart.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OPTIONS } from '../lib/config.ts';
import { CLOSE, ERROR_CODES, REFUSE } from '../lib/errors.ts';
import { ANIMALS, COLORS } from '../lib/names.ts';
import { CLIENT_TYPES } from '../lib/protocol.ts';
import { normalizeSession, playTextSession, sessionServer } from './text-session.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const protocol = read('docs/PROTOCOL.md');

/** The first cells of a Markdown table's rows whose first cell is in backticks. */
function firstCells(markdown: string, heading: string): string[] {
  const section = markdown.split(/^#+ /m).find((s) => s.startsWith(heading)) ?? '';
  return [...section.matchAll(/^\| `?([^`|]+?)`? \|/gm)].map((m) => m[1]!).filter((cell) => !/^(flag|code|type|path)$/.test(cell) && !/^-+$/.test(cell));
}

test("README's configuration table lists every option with its environment variable", () => {
  assert.deepEqual(firstCells(readme, 'Configuration'), OPTIONS.map((o) => o.flag));
  for (const o of OPTIONS) assert.match(readme, new RegExp(`\\| \`${o.flag}\` \\| \`${o.env}\` \\|`));
});

test('the protocol lists every error code, close code and refusal the server uses, in one table', () => {
  const rows = firstCells(protocol, 'Errors, close codes and refusals');
  assert.deepEqual(rows.slice(0, Object.keys(ERROR_CODES).length), Object.keys(ERROR_CODES));
  for (const { code, reason } of Object.values(CLOSE)) {
    assert.ok(rows.includes(String(code)), `close ${code}`);
    if (reason) assert.ok(protocol.includes(`| ${code} | close, \`${reason}\` |`), `${code} ${reason}`);
  }
  for (const { status } of Object.values(REFUSE)) assert.ok(rows.includes(String(status)), `refusal ${status}`);
});

test('the protocol names every color and the number of animals', () => {
  for (const color of COLORS) assert.ok(protocol.includes(`\`${color}\``), color);
  assert.match(protocol, new RegExp(`one of ${COLORS.length} CSS color names`));
  assert.match(protocol, new RegExp(`one of ${ANIMALS.length} animals`));
  assert.match(protocol, new RegExp(`all ${COLORS.length * ANIMALS.length} pairs`));
});

test("README's two commands are the ones CI runs", () => {
  assert.match(readme, /^npm install && npm start$/m);
  assert.match(readme, /^npm install && npm test$/m);
  assert.match(read('.ci/run'), /^npm install && npm test$/m);
});

test('every frame in the websocat session is valid JSON of an event the protocol lists', () => {
  const session = protocol.slice(protocol.indexOf('## A websocat session'));
  const frames = session.split('\n').filter((line) => line.startsWith('{"type"'));
  assert.ok(session.includes(`clients may send: ${CLIENT_TYPES.join(', ')}`), 'the unknown-type answer is the one the server gives now');
  assert.ok(frames.length >= 10);
  const events = protocol.slice(protocol.indexOf('### Server to client'), protocol.indexOf('### Client to server'));
  for (const frame of frames) {
    const { type } = JSON.parse(frame) as { type: string };
    assert.ok(events.includes(`| \`${type}\` |`), `${type} is in the server-to-client table`);
  }
});

test('every event in the tables has an example, and every example is valid JSON', () => {
  const between = (from: string, to: string) => protocol.slice(protocol.indexOf(from), protocol.indexOf(to));
  const examples = between('### Examples', '## Errors, close codes and refusals');
  const lines = examples.split('\n').filter((line) => line.startsWith('{'));
  for (const line of lines) JSON.parse(line);
  const typesIn = (table: string) => [...table.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]!);
  const tables = [between('### Server to client', '### Client to server'), between('### Client to server', '**Commands.**')];
  assert.ok(tables.flatMap(typesIn).length >= 18, `found ${tables.flatMap(typesIn)}`);
  for (const type of tables.flatMap(typesIn)) assert.ok(lines.some((line) => line.startsWith(`{"type":"${type}"`)), `an example of ${type}`);
});

test('the text-mode websocat session is what the server sends, line for line', async () => {
  const server = await sessionServer();
  try {
    const played = normalizeSession(await playTextSession(server));
    const documented = /## A websocat session in text mode[\s\S]*?```console\n([\s\S]*?)\n```/.exec(protocol)?.[1];
    assert.equal(documented, played, `docs/PROTOCOL.md should show this session:\n${played}`);
  } finally {
    await server.close();
  }
});
