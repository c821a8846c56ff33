// A person at a real terminal: Debian's tmux runs a line client (test/line-client.ts, as websocat
// would be used), keys are typed into it and a paste is pasted, and the screen is read back with
// `capture-pane`. It must read as a chat: no JSON, every pasted line there, in order.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { join, nextMessage, startTestServer, until, wsUrl } from './helpers.ts';

const missing = spawnSync('tmux', ['-V']).error === undefined ? undefined : 'tmux is not installed (apt-get install tmux); skipping the terminal test';
if (missing && process.env.CI) throw new Error('tmux is not installed; CI must install it (.ci/run)');

const tmux = (...args: string[]) => {
  const run = spawnSync('tmux', ['-L', `plainchat-${process.pid}`, ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
};

test('a session typed into a terminal reads as a chat: chat, /me, /join, /list, /msg, a 30-line paste, /quit', { skip: missing }, async (t) => {
  const server = await startTestServer({ graceMs: 0 });
  const friend = await join(server, '/ws?room=dev');
  const client = fileURLToPath(new URL('./line-client.ts', import.meta.url));
  tmux('new-session', '-d', '-s', 'chat', '-x', '150', '-y', '60', `${process.execPath} --import tsx ${client} '${wsUrl(server, '/ws?format=text')}'`);
  t.after(() => spawnSync('tmux', ['-L', `plainchat-${process.pid}`, 'kill-server']));
  // The screen stays readable after the client exits.
  tmux('set-option', '-t', 'chat', 'remain-on-exit', 'on');
  const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-2000', '-t', 'chat');
  const waitFor = (pattern: RegExp) => until(() => pattern.test(screen()), 10_000, () => `no ${pattern} on the screen:\n${screen()}`);
  const type = (line: string) => {
    tmux('send-keys', '-t', 'chat', '-l', line);
    tmux('send-keys', '-t', 'chat', 'Enter');
  };

  await waitFor(/^You are \S+ in #lobby\. 1 online\./m);
  type('hello from tmux');
  await waitFor(/^\[\d\d:\d\d\] <\S+> hello from tmux$/m);
  type('/me stretches');
  await waitFor(/^\[\d\d:\d\d\] \* \S+ stretches$/m);
  type('/join dev');
  await waitFor(/^-- you left #lobby$/m);
  await waitFor(/^You are (\S+) in #dev\. 2 online\./m);
  const me = /^You are (\S+) in #dev/m.exec(screen())![1]!;
  type('/list');
  await waitFor(/^   #dev \(2 online\)$/m);
  type(`/msg ${friend.name} psst`);
  await waitFor(new RegExp(`^\\[\\d\\d:\\d\\d\\] -> ${friend.name}: psst$`, 'm'));
  assert.equal((await friend.client.nextOfType('direct-message')).data.message, 'psst');

  // A paste, as a terminal gets one: thirty lines at once.
  const pasted = Array.from({ length: 30 }, (_, i) => `pasted line ${i + 1}`);
  tmux('set-buffer', '-b', 'paste', `${pasted.join('\n')}\n`);
  tmux('paste-buffer', '-b', 'paste', '-t', 'chat');
  await nextMessage(friend.client, 'pasted line 30', 20_000);
  const heard = friend.client.received.filter((e) => e.type === 'message' && e.data.sender === me).map((e) => e.data.message);
  assert.deepEqual(heard.filter((m: string) => m.startsWith('pasted')), pasted, 'all thirty arrive, in order');
  await waitFor(/<\S+> pasted line 30$/m);
  const echoed = [...screen().matchAll(/^\[\d\d:\d\d\] <\S+> (pasted line \d+)$/gm)].map((m) => m[1]);
  assert.deepEqual(echoed, pasted, 'and the terminal shows them so');

  type('/quit see you');
  await waitFor(/^\(closed: 1000 quit\)$/m);
  const shown = screen();
  assert.ok(!/^\s*\{"type"/m.test(shown), `no JSON on the screen:\n${shown}`);
  assert.ok(!/^!!/m.test(shown), `no errors on the screen:\n${shown}`);
  assert.match((await friend.client.nextOfType('peer-quit')).data.reason, /see you/);
});
