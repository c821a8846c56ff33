// DNS rebinding: a page on another site whose name now resolves to this server is refused by its
// Host header (421) before any page, list or WebSocket; the names the server goes by keep working.

import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { startTestServer } from './helpers.ts';
import { rawRequest, upgradeRequest } from './raw-frames.ts';

const hasIPv6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));

/** A GET of `path` naming `host`, answered in full; with no host, an HTTP/1.0 request without Host (HTTP/1.1 requires one, and Node answers 400 itself). */
function get(port: number, path: string, host: string | undefined): Promise<string> {
  return rawRequest(port, host === undefined ? `GET ${path} HTTP/1.0\r\n\r\n` : `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

/** Opens a WebSocket as a page at `origin` would (naming `host`, if given, instead of the URL's) and resolves with the first event's type. */
async function firstEventAs(url: string, origin: string, host?: string): Promise<string> {
  const ws = new WebSocket(url, { origin, headers: host === undefined ? {} : { host } });
  try {
    return await new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve((JSON.parse(data.toString()) as { type: string }).type));
      ws.once('error', reject);
    });
  } finally {
    ws.terminate();
  }
}

/** The rebinding page's upgrade: its own name in Host, and its own origin, which the browser thinks is this server's. */
function rebindingUpgrade(port: number): string {
  return upgradeRequest('/ws', `Origin: http://evil.test:${port}\r\n`, `evil.test:${port}`);
}

describe('with the default hosts', async () => {
  // On `::` the server takes IPv4 too, so that 127.0.0.1 and ::1 both reach it.
  const server = await startTestServer({ host: hasIPv6Loopback ? '::' : '127.0.0.1' });
  const { port } = server;

  test("a rebinding page's upgrade gets 421 naming the host, and no WebSocket", async () => {
    const answer = await rawRequest(port, rebindingUpgrade(port));
    assert.match(answer, /^HTTP\/1\.1 421 Misdirected Request\r\n/);
    assert.doesNotMatch(answer, /101 Switching|name-generated/);
    assert.ok(answer.includes(`Host "evil.test:${port}": this server does not answer to that host name`), answer);
    assert.match(answer, /add it with --allowed-hosts \(or --public-url\)/);
  });

  test('the page, the room list and the metrics refuse Host evil.test and a missing Host; /healthz answers', async () => {
    for (const path of ['/', '/rooms', '/metrics', '/ws']) {
      const answer = await get(port, path, 'evil.test');
      assert.match(answer, /^HTTP\/1\.1 421 Misdirected Request\r\n/, path);
      assert.match(answer, /Host "evil.test": this server does not answer/, path);
      assert.doesNotMatch(answer, /plainchat|"peers"/, path);
    }
    assert.match(await get(port, '/', undefined), /^HTTP\/1\.1 421 [^]*the request has no Host header/);
    assert.match(await rawRequest(port, upgradeRequest('/ws').replace(/Host: [^\r]*\r\n/, '')), /^HTTP\/1\.1 421 [^]*no Host header/);
    assert.match(await get(port, '/healthz', 'evil.test'), /^HTTP\/1\.1 200 OK\r\n[^]*"status":"ok"/);
  });

  test('localhost, 127.0.0.1 and [::1] keep the page and the chat from their own origins, where evil.test gets neither', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      assert.match(await get(port, '/', host), /^HTTP\/1\.1 200 OK\r\n[^]*<title>plainchat<\/title>/, host);
      assert.equal(await firstEventAs(`ws://127.0.0.1:${port}/ws`, `http://${host}`, host), 'name-generated', host);
    }
    assert.equal(await firstEventAs(`ws://localhost:${port}/ws`, `http://localhost:${port}`), 'name-generated');
    await assert.rejects(firstEventAs(`ws://127.0.0.1:${port}/ws`, `http://evil.test:${port}`, `evil.test:${port}`), /Unexpected server response: 421/);
  });

  test('[::1] keeps the page and the chat over IPv6', { skip: !hasIPv6Loopback && 'this machine has no IPv6 loopback' }, async () => {
    const res = await fetch(`http://[::1]:${port}/`);
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(await firstEventAs(`ws://[::1]:${port}/ws`, `http://[::1]:${port}`), 'name-generated');
    await assert.rejects(firstEventAs(`ws://[::1]:${port}/ws`, `http://evil.test:${port}`, `evil.test:${port}`), /Unexpected server response: 421/);
  });
});

describe('with --allowed-hosts chat.example.com', async () => {
  const server = await startTestServer({ allowedHosts: ['chat.example.com'] });
  const { port } = server;

  test('its Host and its https origin are let in; the list replaces the default, and the rebinding page is still refused', async () => {
    assert.equal(await firstEventAs(`ws://127.0.0.1:${port}/ws`, 'https://chat.example.com', 'chat.example.com'), 'name-generated');
    assert.match(await get(port, '/', 'chat.example.com'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(await get(port, '/', `127.0.0.1:${port}`), /^HTTP\/1\.1 421 [^]*Host "127\.0\.0\.1:\d+"/);
    assert.match(await rawRequest(port, rebindingUpgrade(port)), /^HTTP\/1\.1 421 /);
  });
});

describe('with --public-url https://chat.example.com', async () => {
  const server = await startTestServer({ publicUrl: 'https://chat.example.com' });
  const { port } = server;

  test('its origin is let in under its own Host, or the Host a proxy sends on', async () => {
    assert.equal(await firstEventAs(`ws://127.0.0.1:${port}/ws`, 'https://chat.example.com', 'chat.example.com'), 'name-generated');
    assert.equal(await firstEventAs(`ws://127.0.0.1:${port}/ws`, 'https://chat.example.com'), 'name-generated');
    assert.match(await rawRequest(port, rebindingUpgrade(port)), /^HTTP\/1\.1 421 /);
  });
});
