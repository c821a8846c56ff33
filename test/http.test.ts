// HTTP behaviour: the page and its headers, refusals, and upgrades refused before any WebSocket opens.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { describe, test } from 'node:test';
import { startTestServer } from './helpers.ts';
import { rawRequest, upgradeRequest } from './raw-frames.ts';

const server = await startTestServer();

describe('the page', () => {
  test('GET / streams index.html with its security headers', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const body = await res.text();
    assert.match(body, /<title>plainchat<\/title>/);
    assert.doesNotMatch(body, /(src|href)="(https?:)?\/\//, 'the page loads nothing from another origin');

    const csp = res.headers.get('content-security-policy') ?? '';
    const script = /<script>([\s\S]*?)<\/script>/.exec(body)?.[1] ?? '';
    const hash = createHash('sha256').update(script).digest('base64');
    assert.match(csp, /default-src 'none'/);
    assert.ok(csp.includes(`script-src 'sha256-${hash}'`), `CSP ${csp} allows the page's script by hash, and nothing else`);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/);
  });

  test('HEAD / sends the same headers and no body', async () => {
    const res = await fetch(`${server.url}/`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.ok(res.headers.get('content-security-policy'));
    assert.equal(await res.text(), '');
  });

  test('a query string still gets the page', async () => {
    assert.equal((await fetch(`${server.url}/?room=x`)).status, 200);
  });

  test('other paths get 404, other methods 405 with Allow', async () => {
    for (const path of ['/index.html', '/favicon.ico', '/../server.ts', '//evil.test/']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404, path);
      await res.text();
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${server.url}/`, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      await res.text();
    }
  });

  test('plain GET /ws asks for an upgrade with 426', async () => {
    const res = await fetch(`${server.url}/ws`);
    assert.equal(res.status, 426);
    assert.match(await res.text(), /WebSocket/);
  });
});

describe('upgrades', () => {
  test('an upgrade on another path gets HTTP 404 and no WebSocket', async () => {
    for (const path of ['/', '/socket', '/ws/extra', '/wsx']) {
      const answer = await rawRequest(server.port, upgradeRequest(path));
      assert.match(answer, /^HTTP\/1\.1 404 Not Found\r\n/, path);
      assert.doesNotMatch(answer, /101 Switching Protocols/);
      assert.match(answer, /accepted on \/ws only/);
    }
  });

  test('an upgrade on /ws switches protocols', async () => {
    const socket = connectTcp(server.port, '127.0.0.1', () => socket.write(upgradeRequest('/ws')));
    const first = await new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(chunk.toString('latin1'))));
    socket.destroy();
    assert.match(first, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  });
});
