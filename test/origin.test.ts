import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHostCheck, createOriginCheck, parseHosts, parseOrigins, parsePublicUrl } from '../lib/origin.ts';

const HOST = 'localhost:3000';
/** The default Host check, on a machine with these addresses and this host name. */
const isMachineHost = createHostCheck({}, ['10.0.0.5', '2001:db8::5', 'Box']);

test("no Origin (a command-line client) and the page's own origin are allowed", () => {
  const isAllowed = createOriginCheck({ allowedOrigins: [] }, isMachineHost);
  assert.equal(isAllowed(undefined, HOST), true);
  assert.equal(isAllowed('http://localhost:3000', HOST), true);
  assert.equal(isAllowed('https://localhost:3000', HOST), true);
  assert.equal(isAllowed('HTTP://LOCALHOST:3000', HOST), true);
});

test('look-alikes and other sites are refused', () => {
  const isAllowed = createOriginCheck({ allowedOrigins: [] }, isMachineHost);
  for (const origin of [
    'http://localhost:3000.evil.test',
    'http://evil.test/localhost:3000',
    'http://evil.test',
    'null',
    '',
    'http://localhost',
    'http://localhost:30000',
    'http://sub.localhost:3000',
    'http://localhost:3000/',
    'ws://localhost:3000',
    'http://evil.test#http://localhost:3000',
  ]) {
    assert.equal(isAllowed(origin, HOST), false, origin);
  }
  assert.equal(isAllowed('http://localhost:3000', undefined), false, 'no Host: no own origin');
});

test('the allowlist matches whole origins only', () => {
  const isAllowed = createOriginCheck({ allowedOrigins: parseOrigins('https://chat.example.com, http://10.0.0.5:3000') }, isMachineHost);
  assert.equal(isAllowed('https://chat.example.com', HOST), true);
  assert.equal(isAllowed('http://10.0.0.5:3000', HOST), true);
  assert.equal(isAllowed('https://chat.example.com.evil.test', HOST), false);
  assert.equal(isAllowed('http://chat.example.com', HOST), false);
});

test('by default the Host may name localhost, *.localhost, a loopback address or this machine, on any port', () => {
  for (const host of [
    'localhost:3000',
    'LOCALHOST',
    'localhost.:3000',
    'app.localhost:3000',
    '127.0.0.1:3000',
    '127.8.9.10',
    '[::1]:3000',
    '[0:0:0:0:0:0:0:1]:3000',
    '10.0.0.5:8080',
    '[2001:DB8::5]:3000',
    'box:3000',
  ]) {
    assert.equal(isMachineHost(host), true, host);
  }
});

test("a rebinding Host (another site's name), look-alikes, garbage and no Host at all are refused", () => {
  for (const host of [
    'evil.test:3000',
    'evil.test',
    'localhost.evil.test',
    '127.0.0.1.evil.test',
    'localhostx:3000',
    'box.evil.test',
    '10.0.0.6',
    '[2001:db8::6]:3000',
    'user@localhost:3000',
    'evil.test/localhost',
    'evil.test#localhost',
    'local%68ost',
    'localhost:abc',
    '[::1',
    '',
  ]) {
    assert.equal(isMachineHost(host), false, host);
  }
  assert.equal(isMachineHost(undefined), false);
});

test('--allowed-hosts replaces the default; *.name allows subdomains, * anything', () => {
  const isAllowed = createHostCheck({ allowedHosts: parseHosts('chat.example.com, *.rooms.example.com') }, ['10.0.0.5']);
  assert.equal(isAllowed('chat.example.com'), true);
  assert.equal(isAllowed('Chat.Example.COM:443'), true);
  assert.equal(isAllowed('dev.rooms.example.com'), true);
  for (const host of ['rooms.example.com', 'evilrooms.example.com', 'sub.chat.example.com', 'localhost:3000', '127.0.0.1:3000', '10.0.0.5']) {
    assert.equal(isAllowed(host), false, host);
  }
  const isAny = createHostCheck({ allowedHosts: parseHosts('*') });
  assert.equal(isAny('evil.test:3000'), true);
  assert.equal(isAny(undefined), true, 'the check is off');
});

test("--public-url's host is allowed beside the default or the list", () => {
  const publicUrl = parsePublicUrl('https://chat.example.com');
  assert.equal(createHostCheck({ publicUrl })('chat.example.com'), true);
  assert.equal(createHostCheck({ publicUrl })('localhost:3000'), true);
  assert.equal(createHostCheck({ publicUrl })('evil.test'), false);
  assert.equal(createHostCheck({ allowedHosts: ['10.0.0.5'], publicUrl })('chat.example.com'), true);
});

test("the own origin counts only for an allowed Host; --public-url's origin counts whatever the Host", () => {
  const isAllowed = createOriginCheck({ allowedOrigins: [], publicUrl: 'https://chat.example.com' }, isMachineHost);
  assert.equal(isAllowed('http://evil.test:3000', 'evil.test:3000'), false, 'the rebinding page');
  assert.equal(isAllowed('http://localhost:3000', undefined), false);
  assert.equal(isAllowed('http://[::1]:3000', '[::1]:3000'), true);
  assert.equal(isAllowed('https://chat.example.com', 'localhost:3000'), true, 'behind a proxy that sends its own Host');
  assert.equal(isAllowed('http://chat.example.com', 'localhost:3000'), false);
  const isAnyHost = createOriginCheck({ allowedOrigins: [] }, createHostCheck({ allowedHosts: ['*'] }));
  assert.equal(isAnyHost('http://evil.test:3000', 'evil.test:3000'), true, 'with * the proxy checks Host');
});

test('--allowed-hosts is parsed into canonical hosts, and a wrong entry says how to write it', () => {
  assert.deepEqual(parseHosts(' Chat.Example.com, [::1], ::1, 127.0.0.1, *.Example.com, * '), ['chat.example.com', '[::1]', '[::1]', '127.0.0.1', '*.example.com', '*']);
  assert.throws(() => parseHosts(' , '), /expected comma-separated host names or IP addresses, like chat.example.com, or \* for any host/);
  assert.throws(() => parseHosts('https://chat.example.com/'), /"https:\/\/chat.example.com\/" is a URL; write only its host name \(chat.example.com\), or give the URL to --public-url/);
  assert.throws(() => parseHosts('chat.example.com:8080'), /"chat.example.com:8080" has a port; write the host alone \(chat.example.com\)/);
  assert.throws(() => parseHosts('[::1]:3000'), /"\[::1\]:3000" has a port; write the host alone \(\[::1\]\)/);
  for (const entry of ['chat example.com', 'a/b', 'user@host', 'a*b.example.com', '*.']) {
    assert.throws(() => parseHosts(entry), new RegExp(`"${entry.replace(/[.*]/g, '\\$&')}" is not a host name or IP address; write it like chat.example.com`), entry);
  }
});

test('--public-url is an http or https URL, kept as its origin', () => {
  assert.equal(parsePublicUrl('https://chat.example.com/'), 'https://chat.example.com');
  assert.equal(parsePublicUrl(' HTTPS://Chat.Example.com:8443/chat/ '), 'https://chat.example.com:8443');
  assert.throws(() => parsePublicUrl('chat.example.com'), /"chat.example.com" is not a URL; write it like https:\/\/chat.example.com/);
  assert.throws(() => parsePublicUrl('ws://chat.example.com'), /is not an http:\/\/ or https:\/\/ URL/);
  assert.throws(() => parsePublicUrl('https://me:secret@chat.example.com'), /holds a user name or password/);
});
