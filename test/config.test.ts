import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultConfig, OPTIONS, parseConfig } from '../lib/config.ts';
import { spawnServer } from './helpers.ts';

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));

function configOf(argv: string[], env: Record<string, string> = {}) {
  const parsed = parseConfig(argv, env);
  assert.ok(!parsed.help);
  return parsed.config;
}

test('defaults: port 3000, every interface, 2000 characters, 64 KiB frames', () => {
  assert.deepEqual(configOf([]), defaultConfig());
  assert.equal(defaultConfig().port, 3000);
  assert.equal(defaultConfig().host, undefined);
  assert.equal(defaultConfig().maxMessageChars, 2000);
  assert.equal(defaultConfig().maxFrameBytes, 65536);
});

test('flags win over the environment, in both --flag value and --flag=value forms', () => {
  assert.equal(configOf([], { PORT: '4000' }).port, 4000);
  assert.equal(configOf(['--port', '5000'], { PORT: '4000' }).port, 5000);
  assert.equal(configOf(['--port=0', '--host=127.0.0.1']).host, '127.0.0.1');
  assert.equal(configOf(['--max-message-chars', '10']).maxMessageChars, 10);
  assert.equal(configOf([], { MAX_FRAME_BYTES: '1024' }).maxFrameBytes, 1024);
  assert.deepEqual(configOf([], { ALLOWED_ORIGINS: 'https://a.test, http://b.test:8080/' }).allowedOrigins, ['https://a.test', 'http://b.test:8080']);
});

test('invalid settings are refused with what to fix', () => {
  assert.throws(() => parseConfig(['--port', 'abc'], {}), /--port: expected a whole number from 0 to 65535, got "abc"/);
  assert.throws(() => parseConfig([], { PORT: '70000' }), /environment variable PORT: expected a whole number from 0 to 65535/);
  assert.throws(() => parseConfig(['--port'], {}), /--port needs a value/);
  assert.throws(() => parseConfig(['--colour', 'red'], {}), /unknown option "--colour"; run with --help/);
  // `npm start --port 4000` without `--`: npm keeps --port (npm_config_port=true) and hands over 4000.
  assert.throws(() => parseConfig(['4000'], { npm_lifecycle_event: 'start', npm_config_port: 'true' }), {
    message: 'unknown option "4000": npm kept --port for itself, as it does with every option before "--"; run: npm start -- --port 4000',
  });
  assert.throws(() => parseConfig(['4000'], {}), /unknown option "4000"; run with --help/);
  assert.throws(() => parseConfig(['--host', ' '], {}), /expected a host name/);
  assert.throws(() => parseConfig(['--max-frame-bytes', '1'], {}), /from 128/);
  assert.throws(() => parseConfig(['--allowed-origins', 'example.com'], {}), /"example.com" is not an origin/);
  assert.throws(() => parseConfig(['--allowed-origins', 'https://a.test/path'], {}), /write only scheme:\/\/host\[:port\], like https:\/\/a.test/);
});

test('--allowed-hosts and --public-url are read from flags and the environment, and refused with what to fix', () => {
  assert.equal(defaultConfig().allowedHosts, undefined, "the default: this machine's own names");
  assert.deepEqual(configOf([], { ALLOWED_HOSTS: 'Chat.Example.com, [::1]' }).allowedHosts, ['chat.example.com', '[::1]']);
  assert.equal(configOf(['--public-url', 'https://chat.example.com/']).publicUrl, 'https://chat.example.com');
  assert.throws(() => parseConfig(['--allowed-hosts', 'chat.example.com:443'], {}), /--allowed-hosts: "chat.example.com:443" has a port; write the host alone/);
  assert.throws(() => parseConfig([], { PUBLIC_URL: 'chat.example.com' }), /environment variable PUBLIC_URL: "chat.example.com" is not a URL; write it like https:\/\/chat.example.com/);
});

test('a switch takes no value as a flag, and 1, true, 0 or false from the environment', () => {
  const memory = (argv: string[], env: Record<string, string> = {}) => {
    const parsed = parseConfig(argv, env);
    return !parsed.help && parsed.config.memory;
  };
  assert.equal(memory([]), false, 'the store on disk by default');
  assert.equal(memory(['--memory']), true);
  assert.equal(memory(['--memory', '--port', '1']), true, 'the next flag is not taken as its value');
  assert.equal(memory(['--memory=false']), false);
  assert.equal(memory([], { MEMORY: 'true' }), true);
  assert.equal(memory([], { MEMORY: '0' }), false);
  assert.throws(() => parseConfig([], { MEMORY: 'yes' }), /environment variable MEMORY: expected 1, true, 0 or false, got "yes"/);
  assert.throws(() => parseConfig(['--store-synchronous', 'extra'], {}), /--store-synchronous: expected normal or full, got "extra"/);
});

async function run(args: string[], env: Record<string, string> = {}, nodeFlags = ['--import', 'tsx']) {
  const child = spawn(process.execPath, [...nodeFlags, SERVER, ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number, out };
}

test('server.ts --help lists every option with its environment variable', async () => {
  const { code, out } = await run(['--help']);
  assert.equal(code, 0);
  assert.ok(OPTIONS.length >= 14);
  for (const { flag, env, isSwitch } of OPTIONS) assert.match(out, new RegExp(`${flag}${isSwitch ? '' : ' <value>'}\\s+${env}\\s`));
});

test('node server.ts, without tsx, runs where Node strips types and elsewhere says in one line what it needs', async () => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const stripsTypes = major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
  const { code, out } = await run(['--help'], {}, []);
  if (stripsTypes) {
    assert.equal(code, 0, out);
    assert.match(out, /^Usage: /);
  } else {
    assert.equal(code, 1);
    assert.equal(out, `plainchat: node server.ts needs Node 22.18 or newer (this is ${process.versions.node}); run npm start instead, which works on Node 20 and later\n`);
  }
});

test('server.ts exits non-zero on invalid configuration and says what to fix', async () => {
  const { code, out } = await run([], { PORT: 'not-a-port' });
  assert.equal(code, 2);
  assert.match(out, /plainchat: environment variable PORT: expected a whole number from 0 to 65535, got "not-a-port"/);
});

test('server.ts prints the URL to open, serves, and exits 0 on SIGTERM', async () => {
  const { child, port, output } = await spawnServer();
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, output());
});
