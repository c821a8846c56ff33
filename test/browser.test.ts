// The page in a real browser: Debian's Chromium driven by playwright-core against the real server.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { defaultConfig } from '../lib/config.ts';
import { COLORS } from '../lib/names.ts';
import { type ChatServer, startServer } from '../lib/server.ts';
import { CROWD_BUDGETS, join as joinRoom, nextMessage, spawnServer, tempDataDir, until } from './helpers.ts';
import { CHROMIUM, CHROMIUM_ARGS, isChromiumMissing, nameOn, openPage, say, screenshot } from './chromium.ts';
import { redisMissing, startNode, startRedis } from './redis-server.ts';

// What the page says when a resume did not recover the stream (one line per reason).
const NOT_RECOVERED = /caught up|started its history over|fewer messages than this page saw/;

// One test types 30 lines in a burst, faster than a person: the rate limit is raised by its setting.
// History on join is small, so that a resume (which replays everything missed) can be told from it.
const testConfig = (port: number) => ({ ...defaultConfig(), ...CROWD_BUDGETS, port, host: '127.0.0.1', rateBurst: 100, historyOnJoin: 3, dataDir: tempDataDir() });

describe('the page in Chromium', { skip: isChromiumMissing ? `no Chromium at ${CHROMIUM}` : false }, () => {
  let browser: Browser;
  let server: ChatServer;
  // Made here, not in before(): a temporary directory made in a hook is removed when the hook ends.
  // One test restarts the server on it.
  const dataDir = tempDataDir();
  const problems: string[] = [];

  before(async () => {
    server = await startServer({ ...testConfig(0), dataDir }, { log: () => {} });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const openIn = (context: BrowserContext, url = server.url) => openPage(context, url, problems);

  /** Opens the chat in a fresh browser context and waits until it is connected; returns the page and its name. */
  async function openChat(viewport = { width: 1000, height: 700 }): Promise<{ page: Page; name: string }> {
    const page = await openIn(await browser.newContext({ viewport }));
    const name = await nameOn(page);
    assert.match(name, /^[a-z]+-[a-z]+/);
    return { page, name };
  }

  /** The text of every delivered chat line in the log, top to bottom. */
  const shownTexts = (page: Page) => page.locator('#messages .msg:not(.pending)').evaluateAll((items) => items.map((li) => li.querySelector('.text')?.textContent));
  /** The day lines (`day <YYYY-MM-DD>`) and chat lines (their text) of the log, top to bottom. */
  const dayAndMessageLines = (page: Page) =>
    page.locator('#messages li.day, #messages li.msg:not(.pending)').evaluateAll((items) =>
      items.map((li) => (li.classList.contains('day') ? `day ${li.querySelector('time')?.dateTime}` : li.querySelector('.text')?.textContent)),
    );
  const unique = () => Math.random().toString(36).slice(2, 8);
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
    const isOnScreen = async (selector: string) => {
      const box = await page.locator(selector).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375 && box.y + box.height <= 667, `${selector} is on screen: ${JSON.stringify(box)}`);
    };
    for (const selector of ['#input', '#send', '#status', '#panel-toggle']) await isOnScreen(selector);
    // Rooms and people are one tap away.
    await page.click('#panel-toggle');
    for (const selector of ['#peers', '#rooms', '#room-input']) await isOnScreen(selector);
    await screenshot(page, 'phone-panel.png');
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

  test('when Redis comes back without its data the page says so, and the chat goes on in the new numbering', { skip: redisMissing() }, async () => {
    const redis = await startRedis();
    const node = await startNode(redis.url, ['--node-ttl-ms', '900']);
    const page = await openIn(await browser.newContext(), node.url);
    const before = `before ${unique()}`;
    await say(page, before);
    await page.locator('#messages .msg:not(.pending)', { hasText: before }).waitFor();
    await redis.stop();
    await redis.startEmpty();
    await page.locator('#messages .note', { hasText: 'lost its message history' }).waitFor({ timeout: 15_000 });
    await until(async () => (await fetch(`${node.url}/healthz`)).ok, 10_000, () => 'the node is not healthy again');
    const after = `after ${unique()}`;
    await say(page, after);
    await page.locator('#messages .msg:not(.pending)', { hasText: after }).waitFor({ timeout: 15_000 });
    assert.deepEqual((await shownTexts(page)).slice(-2), [before, after]);
    await page.context().close();
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
    assert.equal(await b.page.locator('#messages .note.error', { hasText: NOT_RECOVERED }).count(), 0);
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

  test('a reload keeps the conversation on screen: every message once, in order', async () => {
    const room = `reload-${unique()}`;
    const context = await browser.newContext();
    const page = await openIn(context, `${server.url}/#${room}`);
    const said = Array.from({ length: 8 }, (_, i) => `said ${i + 1} of 8`);
    for (const text of said) await say(page, text);
    await page.locator('#messages .msg:not(.pending)', { hasText: 'said 8 of 8' }).waitFor();
    await page.waitForFunction(() => !document.querySelector('#messages .msg.pending'));
    assert.deepEqual(await shownTexts(page), said);

    await page.reload();
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    await page.locator('#messages li', { hasText: `This is the start of #${room}.` }).waitFor();
    assert.deepEqual(await shownTexts(page), said, 'all 8 (more than the 3 of history on join), once each, in order');
    await context.close();
  });

  test('two tabs of one browser are one person: one name, listed once, joined once, one sender', async () => {
    const url = `${server.url}/#tabs-${unique()}`;
    const other = await openIn(await browser.newContext(), url);
    const context = await browser.newContext();
    const first = await openIn(context, url);
    const name = await nameOn(first);
    const second = await openIn(context, url);
    assert.equal(await nameOn(second), name, 'the second tab has the first tab\'s name');

    await say(first, 'from the first tab');
    await say(second, 'from the second tab');
    for (const text of ['from the first tab', 'from the second tab']) {
      const line = other.locator('#messages .msg', { hasText: text });
      await line.waitFor();
      assert.equal(await line.locator('b').textContent(), name, `${text}: the same sender`);
    }
    await first.locator('#messages .msg.own', { hasText: 'from the second tab' }).waitFor();
    await second.locator('#messages .msg.own', { hasText: 'from the first tab' }).waitFor();
    assert.equal((await peerNames(other)).filter((peer) => peer === name).length, 1, 'listed once');
    assert.equal(await other.locator('#messages .note', { hasText: 'joined' }).count(), 1, 'joined once');
    await Promise.all([other.context().close(), context.close()]);
  });

  test('a token an older page kept in sessionStorage moves to localStorage and keeps the name', async () => {
    const context = await browser.newContext();
    const page = await openIn(context);
    const name = await nameOn(page);
    await page.evaluate(() => {
      sessionStorage.setItem('plainchat.lobby.token', localStorage.getItem('plainchat.lobby.token')!);
      localStorage.removeItem('plainchat.lobby.token');
    });
    await page.reload();
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    assert.equal(await nameOn(page), name);
    assert.deepEqual(await page.evaluate(() => [sessionStorage.getItem('plainchat.lobby.token'), typeof localStorage.getItem('plainchat.lobby.token')]), [null, 'string']);
    await context.close();
  });

  test('closing and reopening the browser keeps the name, long after the grace period', async () => {
    const lasting = await startServer({ ...testConfig(0), graceMs: 200 }, { log: () => {} });
    const profile = tempDataDir();
    const url = `${lasting.url}/#reopen`;
    const launch = () => chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const watcher = await joinRoom(lasting, '/ws?room=reopen');
      let context = await launch();
      const chosen = `Ada-${unique()}`;
      const page = await openIn(context, url);
      await say(page, `/nick ${chosen}`);
      await page.locator('#peers li', { hasText: '(you)' }).filter({ hasText: chosen }).waitFor();
      await context.close();
      // Others see the name leave once the grace period is over.
      let left: string[] = [];
      while (!left.includes(chosen)) left = (await watcher.client.nextOfType('peer-left', 5000)).data;

      context = await launch();
      assert.equal(await nameOn(await openIn(context, url)), chosen);
      await context.close();
    } finally {
      await lasting.close();
    }
  });

  test('a direct message to someone away says it is kept, and reaches them, marked, when they are back', async () => {
    const brief = await startServer({ ...testConfig(0), graceMs: 200 }, { log: () => {} });
    const url = `${brief.url}/#away`;
    try {
      const a = await openIn(await browser.newContext(), url);
      const context = await browser.newContext();
      const b = await openIn(context, url);
      const name = await nameOn(b);
      await a.locator('#peers li', { hasText: name }).waitFor();
      await b.close(); // the tab, not the browser: its token stays
      await a.locator('#messages .note', { hasText: `${name} left` }).waitFor();
      await say(a, `/msg "${name}" see you later`);
      await a.locator('#messages .msg.direct', { hasText: `to ${name}: see you later` }).filter({ hasText: 'kept for them' }).waitFor();

      const back = await openIn(context, url);
      assert.equal(await nameOn(back), name);
      await back.locator('#messages .msg.direct', { hasText: 'see you later' }).filter({ hasText: 'while you were away' }).waitFor();
      await Promise.all([a.context().close(), context.close()]);
    } finally {
      await brief.close();
    }
  });

  test("scrolling to the top loads older pages until the room's first message, keeping the reader's place", async () => {
    const busy = await startServer({ ...testConfig(0), rateBurst: 1000, ratePerSecond: 1000 }, { log: () => {} });
    const context = await browser.newContext({ timezoneId: 'UTC' });
    try {
      const talker = await joinRoom(busy, '/ws?room=back');
      const said = Array.from({ length: 130 }, (_, i) => `scroll ${String(i + 1).padStart(3, '0')}`);
      for (const text of said) talker.client.send({ type: 'message', data: text });
      const { ts } = (await nextMessage(talker.client, said.at(-1)!, 10_000)).data;

      const page = await openIn(context, `${busy.url}/#back`);
      // On load: the 3 of history on join, and a screenful before them; the reader stays at the bottom.
      await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length === 53);
      assert.ok(await page.evaluate(() => {
        const list = document.getElementById('messages')!;
        return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
      }), 'still at the newest');
      // Scrolling to the top asks for the next page; the line the reader saw stays where it was.
      // (Clicking the button here would race with that: bringing it into view scrolls to the top.)
      const topOf = (text: string, scrollUp = false) =>
        page.evaluate(({ text, scrollUp }) => {
          if (scrollUp) document.getElementById('messages')!.scrollTop = 0;
          return [...document.querySelectorAll('#messages .msg .text')].find((line) => line.textContent === text)!.getBoundingClientRect().top;
        }, { text, scrollUp });
      const seenAt = await topOf('scroll 078', true);
      await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length === 103);
      const nowAt = await topOf('scroll 078');
      assert.ok(Math.abs(nowAt - seenAt) < 2, `the line stays in place: ${seenAt} then ${nowAt}`);
      await page.evaluate(() => (document.getElementById('messages')!.scrollTop = 0));
      await page.locator('#messages li', { hasText: 'This is the start of #back.' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Load older messages' }).count(), 0);
      assert.deepEqual(await shownTexts(page), said, 'all 130, once each, in order');
      const lines = await dayAndMessageLines(page);
      assert.equal(lines.filter((line) => line?.startsWith('day ')).length, 1, 'one day, one separator');
      assert.deepEqual(lines.slice(0, 2), [`day ${new Date(ts).toISOString().slice(0, 10)}`, 'scroll 001'], 'before the first message');
    } finally {
      await context.close();
      await busy.close();
    }
  });

  test('the button loads the next page, as far as the start of the room, when the log is too short to scroll', async () => {
    const paged = await startServer({ ...testConfig(0), historyPageMax: 2 }, { log: () => {} });
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    try {
      const talker = await joinRoom(paged, '/ws?room=short');
      const said = Array.from({ length: 7 }, (_, i) => `short ${i + 1}`);
      for (const text of said) talker.client.send({ type: 'message', data: text });
      await nextMessage(talker.client, said.at(-1)!);

      const page = await openIn(context, `${paged.url}/#short`);
      // The 3 of history on join, and the 2 the server's page allows.
      await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length === 5);
      assert.ok(await page.evaluate(() => {
        const list = document.getElementById('messages')!;
        return list.scrollHeight <= list.clientHeight;
      }), 'nothing to scroll');
      const button = page.getByRole('button', { name: 'Load older messages' });
      await button.click();
      await page.locator('#messages li', { hasText: 'This is the start of #short.' }).waitFor();
      assert.equal(await button.count(), 0);
      assert.deepEqual(await shownTexts(page), said);
    } finally {
      await context.close();
      await paged.close();
    }
  });

  test("a line marks each day, and each message's time gives its full date", async () => {
    const DAY_MS = 86_400_000;
    let clock = Date.now() - DAY_MS;
    const dated = await startServer(testConfig(0), { log: () => {}, now: () => clock });
    const context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-US' });
    try {
      const talker = await joinRoom(dated, '/ws?room=days');
      talker.client.send({ type: 'message', data: 'said yesterday' });
      const yesterday: number = (await nextMessage(talker.client, 'said yesterday')).data.ts;
      clock += DAY_MS;
      // Three today: the 3 of history on join are today's, and yesterday's comes in the page above them.
      for (const text of ['said today 1', 'said today 2', 'said today 3']) talker.client.send({ type: 'message', data: text });
      const today: number = (await nextMessage(talker.client, 'said today 1')).data.ts;

      const page = await openIn(context, `${dated.url}/#days`);
      await page.locator('#messages li', { hasText: 'This is the start of #days.' }).waitFor();
      const dayOf = (ts: number) => new Date(ts).toISOString().slice(0, 10);
      assert.deepEqual(await dayAndMessageLines(page), [`day ${dayOf(yesterday)}`, 'said yesterday', `day ${dayOf(today)}`, 'said today 1', 'said today 2', 'said today 3']);
      for (const [text, ts] of [['said yesterday', yesterday], ['said today 1', today]] as const) {
        const date = new Date(ts);
        const parts = [date.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' }), date.toLocaleDateString('en-US', { month: 'long', timeZone: 'UTC' }), String(date.getUTCFullYear())];
        const title = (await page.locator('#messages .msg', { hasText: text }).locator('time').getAttribute('title')) ?? '';
        const separator = (await page.locator(`#messages li.day:has(time[datetime="${dayOf(ts)}"])`).textContent()) ?? '';
        for (const part of parts) {
          assert.ok(title.includes(part), `${text}: the time's title ${JSON.stringify(title)} has ${part}`);
          assert.ok(separator.includes(part), `${text}: the day line ${JSON.stringify(separator)} has ${part}`);
        }
        assert.match(title, /\d{1,2}:\d{2}/, 'and the time');
      }
    } finally {
      await context.close();
      await dated.close();
    }
  });

  test('when the server goes away the page says so, queues what is typed, and delivers it once when the server is back', async () => {
    const { page, name } = await openChat();
    const { port } = server;
    await server.close();
    await page.locator('#status', { hasText: /Offline, reconnecting in \d+ s|Reconnecting/ }).waitFor();
    await page.locator('#messages .note.error', { hasText: 'server shutting down' }).waitFor();

    await page.fill('#input', 'typed while offline');
    await page.press('#input', 'Enter');
    const pending = page.locator('#messages .msg.pending', { hasText: 'typed while offline' });
    await pending.waitFor();
    assert.match((await pending.textContent()) ?? '', /sending/);

    // The server comes back on the same data directory: the page resumes where it was, under its name.
    server = await startServer({ ...testConfig(port), dataDir }, { log: () => {} });
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 15_000 });
    await pending.waitFor({ state: 'detached' });
    const delivered = page.locator('#messages .msg:not(.pending)', { hasText: 'typed while offline' });
    assert.equal(await delivered.count(), 1, 'shown once, as delivered');
    assert.equal(await page.locator('#peers li', { hasText: '(you)' }).locator('span').nth(1).textContent(), name, 'the same name after the restart');
    assert.equal(await page.locator('#messages .note.error', { hasText: NOT_RECOVERED }).count(), 0, 'the restarted server recovered the stream');

    const other = await openChat();
    assert.equal(await other.page.locator('#messages .msg', { hasText: 'typed while offline' }).count(), 1, 'the new server has it once');
    await Promise.all([page, other.page].map((p) => p.context().close()));
  });

  test('messages refused by the rate limit are retried until delivered, even across a reload', async () => {
    // No paste queue, so that sends are refused as they are beyond a full one.
    const strict = await startServer({ ...testConfig(0), rateBurst: 2, ratePerSecond: 1, historyOnJoin: 20, pasteQueueEvents: 0 }, { log: () => {} });
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
      // The history request that fills the log after the reload is asked again if it was refused too.
      await page.locator('#messages li', { hasText: 'This is the start of #lobby.' }).waitFor({ timeout: 10_000 });
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

  test('a message deleted through the HTTP API becomes "message deleted" in an open tab, in its place, and in history; a kicked tab stays away', async () => {
    const key = 'browser-test-key-0123456789';
    const apiKeyFile = join(tempDataDir(), 'api.key');
    writeFileSync(apiKeyFile, `${key}\n`);
    const api = await startServer({ ...testConfig(0), apiKeyFile }, { log: () => {} });
    const call = async (method: string, path: string, body?: unknown) =>
      (await fetch(`${api.url}/api/rooms/moderated${path}`, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<any>;
    try {
      const page = await openIn(await browser.newContext(), `${api.url}/#moderated`);
      for (const text of ['first line', 'my password is hunter2', 'last line']) {
        await say(page, text);
        await page.locator('#messages .msg:not(.pending)', { hasText: text }).waitFor();
      }
      const { messages } = await call('GET', '/messages');
      const seq = messages.find((m: { message: string }) => m.message.includes('hunter2')).seq;
      assert.equal((await call('DELETE', `/messages/${seq}`)).message.deleted, true);
      await page.locator('#messages .msg.deleted', { hasText: 'message deleted' }).waitFor();
      assert.deepEqual(await shownTexts(page), ['first line', 'message deleted', 'last line']);
      const fresh = await openIn(await browser.newContext(), `${api.url}/#moderated`);
      await fresh.locator('#messages .msg.deleted', { hasText: 'message deleted' }).waitFor();
      assert.deepEqual(await shownTexts(fresh), ['first line', 'message deleted', 'last line']);
      assert.equal(await fresh.locator('#messages', { hasText: 'hunter2' }).count(), 0);

      assert.equal((await call('POST', '/kick', { name: await nameOn(page), reason: 'spam' })).connections, 1);
      await page.locator('#messages .note', { hasText: 'You were removed from the room' }).waitFor();
      await fresh.locator('#messages .note', { hasText: 'removed from #moderated by api: spam' }).waitFor();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await page.locator('#status').textContent(), 'Removed', 'it does not reconnect by itself');
      await Promise.all([page, fresh].map((tab) => tab.context().close()));
    } finally {
      await api.close();
    }
  });

  test('a moderator in one tab deletes a message with /delete and the tombstone appears in another tab; a banned tab is told why and stays away', async () => {
    const token = 'browser-admin-token-0123456789';
    const adminTokenFile = join(tempDataDir(), 'admin.token');
    writeFileSync(adminTokenFile, `${token}\n`);
    const chat = await startServer({ ...testConfig(0), adminTokenFile }, { log: () => {}, audit: () => {} });
    try {
      const moderator = await openIn(await browser.newContext(), `${chat.url}/#mods`);
      const author = await openIn(await browser.newContext(), `${chat.url}/#mods`);
      await say(moderator, `/oper ${token}`);
      await moderator.locator('#messages .note', { hasText: 'You are a moderator on this connection' }).waitFor();
      for (const text of ['hello all', 'buy cheap pills here', 'bye']) {
        await say(author, text);
        await author.locator('#messages .msg:not(.pending)', { hasText: text }).waitFor();
      }
      const key = await moderator.locator('#messages .msg', { hasText: 'buy cheap pills here' }).getAttribute('data-key');
      await say(moderator, `/delete ${key!.split(':')[1]}`);
      await author.locator('#messages .msg.deleted', { hasText: 'message deleted' }).waitFor();
      assert.deepEqual(await shownTexts(author), ['hello all', 'message deleted', 'bye']);
      assert.equal(await author.locator('#messages', { hasText: 'cheap pills' }).count(), 0);

      const banned = await nameOn(author);
      await say(moderator, `/ban ${banned} 1h spam`);
      await author.locator('#messages .note.error', { hasText: 'A moderator banned you from this chat: spam.' }).waitFor();
      // Both tabs come from one address: the moderator is not held by the ban.
      await moderator.locator('#messages .note', { hasText: `${banned} was banned by` }).waitFor();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await author.locator('#status').textContent(), 'Banned', 'it does not reconnect by itself');
      await Promise.all([moderator, author].map((tab) => tab.context().close()));
    } finally {
      await chat.close();
    }
  });

  test('no page broke a Content-Security-Policy rule or threw a script error, in any test', () => {
    assert.deepEqual(problems, []);
  });
});
