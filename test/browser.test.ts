// The page in a real browser: Debian's Chromium driven by playwright-core against the real server.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type Page, chromium } from 'playwright-core';
import { defaultConfig } from '../lib/config.ts';
import { COLORS } from '../lib/names.ts';
import { type ChatServer, startServer } from '../lib/server.ts';
import { spawnServer, tempDataDir } from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI) throw new Error(`${CHROMIUM} is missing; .ci/run installs Debian's chromium for this test`);
if (missing) console.log(`# browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

// The flags keep Chromium from reaching out to the network, which this machine does not have.
/** Saves a picture of the page when SCREENSHOT_DIR is set, for a person to look at. */
async function screenshot(page: Page, file: string): Promise<void> {
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, file) });
}

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// One test types 30 lines in a burst, faster than a person: the rate limit is raised by its setting.
// History on join is small, so that a resume (which replays everything missed) can be told from it.
const testConfig = (port: number) => ({ ...defaultConfig(), port, host: '127.0.0.1', rateBurst: 100, historyOnJoin: 3, dataDir: tempDataDir() });

describe('the page in Chromium', { skip: missing ? `no Chromium at ${CHROMIUM}` : false }, () => {
  let browser: Browser;
  let server: ChatServer;
  const problems: string[] = [];

  before(async () => {
    server = await startServer(testConfig(0), { log: () => {} });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Opens the chat in a fresh browser context and waits until it is connected; returns the page and its name. */
  async function openChat(viewport = { width: 1000, height: 700 }): Promise<{ page: Page; name: string }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(server.url);
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    const mine = page.locator('#peers li', { hasText: '(you)' });
    await mine.waitFor();
    const name = (await mine.locator('span').nth(1).textContent()) ?? '';
    assert.match(name, /^[a-z]+-[a-z]+/);
    return { page, name };
  }

  const peerNames = (page: Page) => page.locator('#peers li span:nth-child(2)').allTextContents();

  test('two pages chat, see each other online, and a leaving page disappears from the other', async () => {
    const a = await openChat();
    const b = await openChat();
    await a.page.locator('#peers li', { hasText: b.name }).waitFor();
    assert.deepEqual((await peerNames(b.page)).sort(), [a.name, b.name].sort());
    await a.page.locator('#messages .note', { hasText: `${b.name} joined` }).waitFor();

    await a.page.fill('#input', 'hello from a');
    await a.page.press('#input', 'Enter');
    const received = b.page.locator('#messages .msg', { hasText: 'hello from a' });
    await received.waitFor();
    assert.equal(await received.locator('b').textContent(), a.name, 'the sender is in bold');
    assert.match((await received.textContent()) ?? '', new RegExp(`^${a.name}: hello from a`));
    await a.page.locator('#messages .msg.pending').waitFor({ state: 'detached' });
    assert.equal(await a.page.locator('#messages .msg.own', { hasText: 'hello from a' }).count(), 1, 'own message set apart, shown once');
    assert.equal(await received.evaluate((el) => el.classList.contains('own')), false);
    assert.equal(await a.page.inputValue('#input'), '', 'the input is cleared after sending');

    // Empty input sends nothing: the next message is the only one added.
    const before = await b.page.locator('#messages .msg:not(.pending)').count();
    await b.page.fill('#input', '   ');
    await b.page.press('#input', 'Enter');
    await b.page.fill('#input', 'after empty');
    await b.page.click('#send');
    await a.page.locator('#messages .msg', { hasText: 'after empty' }).waitFor();
    await b.page.locator('#messages .msg.pending').waitFor({ state: 'detached' });
    assert.equal(await b.page.locator('#messages .msg:not(.pending)').count(), before + 1);

    await b.page.context().close();
    await a.page.locator('#messages .note', { hasText: `${b.name} left` }).waitFor();
    assert.deepEqual(await peerNames(a.page), [a.name]);
    await a.page.context().close();
  });

  test('markup in a message is shown as text and never runs', async () => {
    const a = await openChat();
    const b = await openChat();
    const payload = '<img src=x onerror=window.pwned=1>';
    await a.page.fill('#input', payload);
    await a.page.press('#input', 'Enter');
    for (const { page } of [a, b]) {
      const shown = page.locator('#messages .msg:not(.pending)', { hasText: payload });
      await shown.waitFor();
      assert.equal(await shown.locator('img').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    }
    await Promise.all([a, b].map(({ page }) => page.context().close()));
  });

  test("each dot is the name's CSS color, and the page breaks no Content-Security-Policy rule", async () => {
    const a = await openChat();
    const supported = await a.page.evaluate((colors) => colors.filter((c) => CSS.supports('color', c)), [...COLORS]);
    assert.deepEqual(supported, [...COLORS], 'every name color is a CSS color');
    const dot = a.page.locator('#peers li', { hasText: '(you)' }).locator('.dot');
    const painted = await dot.evaluate((el) => getComputedStyle(el).backgroundColor);
    const expected = await a.page.evaluate((color) => {
      const probe = document.createElement('span');
      probe.style.color = color;
      document.body.append(probe);
      return getComputedStyle(probe).color;
    }, a.name.split('-')[0]!);
    assert.equal(painted, expected);
    assert.deepEqual(problems, [], 'no CSP violation or script error on any page so far');
    await a.page.context().close();
  });

  test('on a phone-sized screen everything fits without sideways scrolling', async () => {
    const { page } = await openChat({ width: 375, height: 667 });
    await page.fill('#input', 'y'.repeat(300));
    await page.press('#input', 'Enter');
    await page.locator('#messages .msg:not(.pending)', { hasText: 'yyyy' }).waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    for (const selector of ['#input', '#send', '#peers', '#status']) {
      const box = await page.locator(selector).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375 && box.y + box.height <= 667, `${selector} is on screen: ${JSON.stringify(box)}`);
    }
    await screenshot(page, 'phone.png');
    await page.context().close();
  });

  test('a reader who scrolled up is not pulled down, and is offered a jump to the newest', async () => {
    const { page } = await openChat({ width: 800, height: 400 });
    for (let i = 0; i < 30; i++) {
      await page.fill('#input', `line ${i}`);
      await page.press('#input', 'Enter');
    }
    await page.locator('#messages .msg:not(.pending)', { hasText: 'line 29' }).waitFor();
    await page.locator('#messages .msg.pending').last().waitFor({ state: 'detached' });
    assert.ok(await page.evaluate(() => {
      const list = document.getElementById('messages')!;
      return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
    }), 'follows the newest message');
    await page.evaluate(() => (document.getElementById('messages')!.scrollTop = 0));
    const other = await openChat();
    await other.page.fill('#input', 'while you read');
    await other.page.press('#input', 'Enter');
    await page.locator('#messages .msg', { hasText: 'while you read' }).waitFor();
    assert.equal(await page.evaluate(() => document.getElementById('messages')!.scrollTop), 0);
    await page.click('#jump');
    assert.ok(await page.evaluate(() => {
      const list = document.getElementById('messages')!;
      return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
    }));
    await Promise.all([page, other.page].map((p) => p.context().close()));
  });

  test('a new page shows history; a dropped connection resumes with no gap; a reload keeps the name', async () => {
    const a = await openChat();
    await a.page.fill('#input', 'said before b came');
    await a.page.press('#input', 'Enter');
    await a.page.locator('#messages .msg:not(.pending)', { hasText: 'said before b came' }).waitFor();

    const b = await openChat();
    await b.page.locator('#messages .msg', { hasText: 'said before b came' }).waitFor();

    // B's connection drops; A says five things before B is back (more than the 3 of history on
    // join); B's resume brings all five, once each, with no error line.
    await b.page.evaluate('socket.close()'); // the page's script-level `socket`
    await a.page.evaluate('for (let i = 0; i < 5; i++) socket.send(JSON.stringify({ type: "message", data: `while b was away ${i}` }))');
    for (let i = 0; i < 5; i++) {
      const missed = b.page.locator('#messages .msg', { hasText: `while b was away ${i}` });
      await missed.waitFor({ timeout: 10_000 });
      assert.equal(await missed.count(), 1);
    }
    assert.equal(await b.page.locator('#messages .note.error', { hasText: 'could not be recovered' }).count(), 0);
    await b.page.locator('#status', { hasText: 'Connected' }).waitFor();
    assert.equal(await b.page.locator('#peers li', { hasText: '(you)' }).locator('span').nth(1).textContent(), b.name);

    // A reload within the grace period keeps the name, and A never sees B leave.
    await b.page.reload();
    await b.page.locator('#status', { hasText: 'Connected' }).waitFor();
    await b.page.locator('#peers li', { hasText: '(you)' }).waitFor();
    assert.equal(await b.page.locator('#peers li', { hasText: '(you)' }).locator('span').nth(1).textContent(), b.name);
    assert.equal(await a.page.locator('#messages .note', { hasText: `${b.name} left` }).count(), 0);
    await Promise.all([a, b].map(({ page }) => page.context().close()));
  });

  test('when the server goes away the page says so, queues what is typed, and delivers it once when the server is back', async () => {
    const { page } = await openChat();
    await screenshot(page, 'desktop.png');
    const { port } = server;
    await server.close();
    await page.locator('#status', { hasText: /Offline, reconnecting in \d+ s|Reconnecting/ }).waitFor();
    await page.locator('#messages .note.error', { hasText: 'server shutting down' }).waitFor();

    await page.fill('#input', 'typed while offline');
    await page.press('#input', 'Enter');
    const pending = page.locator('#messages .msg.pending', { hasText: 'typed while offline' });
    await pending.waitFor();
    assert.match((await pending.textContent()) ?? '', /sending/);

    server = await startServer(testConfig(port), { log: () => {} });
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 15_000 });
    await pending.waitFor({ state: 'detached' });
    const delivered = page.locator('#messages .msg:not(.pending)', { hasText: 'typed while offline' });
    assert.equal(await delivered.count(), 1, 'shown once, as delivered');
    await page.locator('#messages .note.error', { hasText: 'could not be recovered (unknown-epoch)' }).waitFor();

    const other = await openChat();
    assert.equal(await other.page.locator('#messages .msg', { hasText: 'typed while offline' }).count(), 1, 'the new server has it once');
    await Promise.all([page, other.page].map((p) => p.context().close()));
  });

  test('messages refused by the rate limit are retried until delivered, even across a reload', async () => {
    const strict = await startServer({ ...testConfig(0), rateBurst: 2, ratePerSecond: 1, historyOnJoin: 20 }, { log: () => {} });
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(strict.url.replace('localhost', '127.0.0.1'));
      await page.locator('#status', { hasText: 'Connected' }).waitFor();
      for (let i = 0; i < 6; i++) {
        await page.fill('#input', `burst ${i}`);
        await page.press('#input', 'Enter');
      }
      await page.locator('#messages .note.error', { hasText: 'too many events' }).first().waitFor();
      const pendingBefore = await page.locator('#messages .msg.pending').count();
      assert.ok(pendingBefore > 0, 'some messages were still waiting when the tab was reloaded');
      await page.reload();
      await page.locator('#status', { hasText: 'Connected' }).waitFor();
      await page.locator('#messages .msg.pending').first().waitFor({ state: 'detached', timeout: 10_000 });
      const watcher = await context.newPage();
      await watcher.goto(strict.url.replace('localhost', '127.0.0.1'));
      // The history arrives after the page loads: wait for all of it before counting.
      for (let i = 0; i < 6; i++) await watcher.locator('#messages .msg', { hasText: `burst ${i}` }).first().waitFor();
      for (let i = 0; i < 6; i++) {
        assert.equal(await watcher.locator('#messages .msg', { hasText: `burst ${i}` }).count(), 1, `burst ${i} was delivered once`);
      }
    } finally {
      await context.close();
      await strict.close();
    }
  });

  test('the room comes from the URL, shows in the title and header, and can be switched', async () => {
    const a = await openChat();
    const b = await openChat();
    await b.page.fill('#room-input', 'dev');
    await b.page.press('#room-input', 'Enter');
    await b.page.locator('#room', { hasText: '#dev' }).waitFor();
    await b.page.locator('#status', { hasText: 'Connected' }).waitFor();
    await b.page.locator('#peers li', { hasText: '(you)' }).waitFor();
    assert.equal(await b.page.title(), '#dev · plainchat');
    assert.match(b.page.url(), /#dev$/);
    assert.equal(await b.page.locator('#peers li').count(), 1, 'alone in dev');

    await b.page.fill('#input', 'hello dev');
    await b.page.press('#input', 'Enter');
    await b.page.locator('#messages .msg:not(.pending)', { hasText: 'hello dev' }).waitFor();
    await a.page.fill('#input', 'hello lobby');
    await a.page.press('#input', 'Enter');
    await a.page.locator('#messages .msg:not(.pending)', { hasText: 'hello lobby' }).waitFor();

    const c = await browser.newContext();
    const visitor = await c.newPage();
    await visitor.goto(`${server.url}/#dev`);
    await visitor.locator('#messages .msg', { hasText: 'hello dev' }).waitFor();
    assert.equal(await visitor.locator('#messages .msg', { hasText: 'hello lobby' }).count(), 0);
    assert.equal(await b.page.locator('#messages .msg', { hasText: 'hello lobby' }).count(), 0);
    assert.equal(await a.page.locator('#messages .msg', { hasText: 'hello dev' }).count(), 0);

    await visitor.goto(`${server.url}/#Bad_Room`);
    await visitor.reload();
    await visitor.locator('#messages .note.error', { hasText: 'is not a room name' }).waitFor();
    assert.equal(await visitor.locator('#room').textContent(), '#lobby');
    await Promise.all([a.page.context().close(), b.page.context().close(), c.close()]);
  });

  test('the page takes commands: /nick renames for everyone, /msg shows a direct message to the two only, typing shows', async () => {
    const a = await openChat();
    const b = await openChat();
    await b.page.fill('#input', '/nick Bee Keeper');
    await b.page.press('#input', 'Enter');
    await a.page.locator('#peers li', { hasText: 'Bee Keeper' }).waitFor();
    await a.page.locator('#messages .note', { hasText: `${b.name} is now Bee Keeper` }).waitFor();
    await b.page.locator('#peers li', { hasText: '(you)' }).filter({ hasText: 'Bee Keeper' }).waitFor();
    await a.page.locator('#peers li', { hasText: 'Bee Keeper' }).click();
    assert.equal(await a.page.inputValue('#input'), '/msg "Bee Keeper" ', 'clicking a peer starts a direct message');
    await a.page.type('#input', 'psst');
    await a.page.press('#input', 'Enter');
    await b.page.locator('#messages .msg.direct', { hasText: `${a.name} (direct): psst` }).waitFor();
    await a.page.locator('#messages .msg.direct', { hasText: 'to Bee Keeper: psst' }).waitFor();
    assert.equal(await a.page.locator('#messages .msg', { hasText: '/msg' }).count(), 0, 'the command itself is not said to the room');

    await a.page.fill('#input', '/who');
    await a.page.press('#input', 'Enter');
    await a.page.locator('#messages .note', { hasText: /^In #lobby: .*Bee Keeper/ }).waitFor();
    await a.page.fill('#input', '/help');
    await a.page.press('#input', 'Enter');
    await a.page.locator('#messages .note', { hasText: '/nick <name>' }).waitFor();

    await b.page.type('#input', 'writing');
    await a.page.locator('#typing', { hasText: 'Bee Keeper is typing…' }).waitFor();
    await b.page.press('#input', 'Enter');
    await a.page.waitForFunction(() => document.getElementById('typing')!.textContent === '');
    await Promise.all([a, b].map(({ page }) => page.context().close()));
  });

  test('a server that stops answering is detected by the page, which reconnects when it answers again', async () => {
    const frozen = await spawnServer();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${frozen.port}/?heartbeat=500`);
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    frozen.child.kill('SIGSTOP');
    try {
      await page.locator('#messages .note.error', { hasText: 'The server stopped answering' }).waitFor({ timeout: 5000 });
      assert.notEqual(await page.locator('#status').textContent(), 'Connected');
    } finally {
      frozen.child.kill('SIGCONT');
    }
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 15_000 });
    await page.locator('#peers li', { hasText: '(you)' }).waitFor();
    await context.close();
  });
});
