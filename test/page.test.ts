// The page as someone who keeps it open all day uses it, in Debian's Chromium: it tells them when
// something happened, whether they are connected, reads comfortably (links, groups, right-to-left
// text, compact presence) and writes comfortably (several lines, a visible limit, completion),
// by keyboard alone too.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { defaultConfig } from '../lib/config.ts';
import { type ChatServer, startServer } from '../lib/server.ts';
import { CHROMIUM, CHROMIUM_ARGS, isChromiumMissing, nameOn, openPage, say, setHidden } from './chromium.ts';
import { CROWD_BUDGETS, join, nextMessage, spawnServer, tempDataDir, type TestClient, until } from './helpers.ts';

// Sixty peers come from one address in one test: the per-address socket cap is raised for it.
// The rooms list is read fresh each time, so that its counts are exact.
const testConfig = () => ({ ...defaultConfig(), ...CROWD_BUDGETS, maxConnectionsPerIp: 1000, roomsCacheMs: 0, port: 0, host: '127.0.0.1', rateBurst: 100, dataDir: tempDataDir() });

describe('a page to keep open all day', { skip: isChromiumMissing ? `no Chromium at ${CHROMIUM}` : false }, () => {
  let browser: Browser;
  let server: ChatServer;
  const problems: string[] = [];
  let rooms = 0;
  /** A room of its own for each test, so that one test's lines never meet another's. */
  const freshRoom = () => `day-${process.pid}-${++rooms}`;

  before(async () => {
    server = await startServer(testConfig(), { log: () => {} });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(room: string, options: Parameters<Browser['newContext']>[0] = {}, url = `${server.url}/#${room}`): Promise<{ page: Page; context: BrowserContext; name: string }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    const page = await openPage(context, url, problems);
    return { page, context, name: await nameOn(page) };
  }
  /** A websocat-like peer in `room`. */
  const peer = async (room: string): Promise<TestClient> => (await join(server, `/ws?room=${room}`)).client;
  /** The delivered line whose text has `text` (its time, which follows it, is not part of the match). */
  const line = (page: Page, text: string) => page.locator('#messages .msg:not(.pending)').filter({ has: page.locator('.text', { hasText: text }) });

  test('a hidden tab counts new messages in its title, marks where they start, and clears on return', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const talker = await peer(room);
    talker.send({ type: 'message', data: 'seen while here' });
    await line(page, 'seen while here').waitFor();
    assert.equal(await page.title(), `#${room} · plainchat`);
    assert.equal(await page.locator('#messages .since').count(), 0, 'nothing is new to a reader who is there');

    await setHidden(page, true);
    for (const text of ['away 1', 'away 2', 'away 3']) talker.send({ type: 'message', data: text });
    await line(page, 'away 3').waitFor();
    await page.waitForFunction((room) => document.title === `(3) #${room} · plainchat`, room, { timeout: 5000 });
    // The marker sits right before the first message that came while away.
    const before = await page.locator('#messages .since + .msg .text').textContent();
    assert.equal(before, 'away 1');
    assert.equal(await page.locator('#messages .since').textContent(), 'New since you left');

    await setHidden(page, false);
    assert.equal(await page.title(), `#${room} · plainchat`, 'cleared on return');
    assert.equal(await page.locator('#messages .since').count(), 1, 'the marker stays until the next time away');
    // A reload is a return too: nothing is new.
    await page.reload();
    await line(page, 'away 3').waitFor();
    assert.equal(await page.locator('#messages .since').count(), 0);
    talker.close();
    await context.close();
  });

  test('messages that came while the page was closed are marked new when it opens again', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const talker = await peer(room);
    talker.send({ type: 'message', data: 'before closing' });
    await line(page, 'before closing').waitFor();
    await page.close();
    talker.send({ type: 'message', data: 'while closed' });
    await nextMessage(talker, 'while closed');
    const again = await openPage(context, `${server.url}/#${room}`, problems);
    await line(again, 'while closed').waitFor();
    assert.equal(await again.locator('#messages .since + .msg .text').textContent(), 'while closed');
    talker.close();
    await context.close();
  });

  test('a mention of you is highlighted, for you only, and notifies you (once asked) while the tab is hidden', async () => {
    const room = freshRoom();
    // Notifications are counted by a wrapper the page cannot tell from the real thing.
    const a = await open(room, { permissions: ['notifications'] });
    const b = await open(room);
    await a.page.evaluate(`{
      const shown = [];
      const Real = window.Notification;
      function Counted(title, options) {
        shown.push(title);
        return new Real(title, options);
      }
      Object.defineProperty(Counted, 'permission', { get: () => Real.permission });
      Counted.requestPermission = Real.requestPermission.bind(Real);
      window.Notification = Counted;
      window.shownNotifications = shown;
    }`);
    const shown = () => a.page.evaluate(() => (window as unknown as { shownNotifications: string[] }).shownNotifications);

    await setHidden(a.page, true);
    await say(b.page, `before asking @${a.name}`);
    await line(a.page, 'before asking').waitFor();
    assert.deepEqual(await shown(), [], 'nothing before the button is pressed');
    await setHidden(a.page, false);
    await a.page.getByRole('button', { name: 'Notify me of mentions and direct messages' }).click();
    assert.equal(await a.page.getAttribute('#notify', 'aria-pressed'), 'true');

    await setHidden(a.page, true);
    await say(b.page, `hey @${a.name}, look`);
    const mentioned = line(a.page, 'look');
    await mentioned.waitFor();
    assert.equal(await mentioned.evaluate((li) => li.classList.contains('mention')), true);
    assert.equal(await mentioned.locator('mark').textContent(), `@${a.name}`);
    assert.equal(await line(b.page, 'look').evaluate((li) => li.classList.contains('mention')), false, 'not for the one who wrote it');
    await a.page.waitForFunction(() => (window as unknown as { shownNotifications: string[] }).shownNotifications.length === 1);
    assert.deepEqual(await shown(), [`${b.name} mentioned you in #${room}`]);
    // A direct message notifies too; a line that names nobody does not, nor an address that has the name in it.
    await say(b.page, `no one named, write to me@${a.name}.org`);
    assert.equal(await line(a.page, 'no one named').evaluate((li) => li.classList.contains('mention')), false);
    await say(b.page, `/msg "${a.name}" psst`);
    await a.page.locator('#messages .msg.direct', { hasText: 'psst' }).waitFor();
    await a.page.waitForFunction(() => (window as unknown as { shownNotifications: string[] }).shownNotifications.length === 2);
    assert.deepEqual((await shown()).at(-1), `${b.name} wrote to you`);
    await Promise.all([a.context.close(), b.context.close()]);
  });

  test('the page never asks for notifications on its own', async () => {
    const room = freshRoom();
    const context = await browser.newContext();
    await context.addInitScript(() => {
      const asked: unknown[] = [];
      Object.assign(window, { asked });
      Notification.requestPermission = async () => {
        asked.push(1);
        return 'default';
      };
    });
    const page = await openPage(context, `${server.url}/#${room}`, problems);
    await page.waitForTimeout(300);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { asked: unknown[] }).asked), []);
    await context.close();
  });

  test('http(s) links are links that open safely; nothing else becomes markup', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const text = 'see https://example.com/a?b=1, (and http://wiki.test/Thing_(x)). javascript:alert(1) data:text/html,hi <b>bold</b>';
    await say(page, text);
    const shown = line(page, 'see ');
    await shown.waitFor();
    const links = await shown.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent, a.getAttribute('rel'), a.getAttribute('target')]));
    assert.deepEqual(links, [
      ['https://example.com/a?b=1', 'https://example.com/a?b=1', 'noopener noreferrer', '_blank'],
      ['http://wiki.test/Thing_(x)', 'http://wiki.test/Thing_(x)', 'noopener noreferrer', '_blank'],
    ]);
    assert.equal(await shown.locator('.text').textContent(), text, 'the text reads as it was written');
    assert.equal(await shown.locator('b').count(), 1, 'only the sender is bold: the <b> in the text is text');
    await context.close();
  });

  test('consecutive messages of one sender share one name line; another sender starts a new one', async () => {
    const room = freshRoom();
    const { page, context, name } = await open(room);
    const talker = await peer(room);
    for (const text of ['one', 'two', 'three']) await say(page, text);
    await line(page, 'three').waitFor();
    talker.send({ type: 'message', data: 'other' });
    await line(page, 'other').waitFor();
    await say(page, 'four');
    await line(page, 'four').waitFor();
    const rows = await page.locator('#messages .msg').evaluateAll((items) => items.map((li) => [li.querySelector('.text')!.textContent, li.classList.contains('cont'), getComputedStyle(li.querySelector('.who')!).clipPath !== 'none']));
    assert.deepEqual(rows, [['one', false, false], ['two', true, true], ['three', true, true], ['other', false, false], ['four', false, false]]);
    assert.equal(await line(page, 'two').locator('b').textContent(), name, 'a grouped line still names its sender to a screen reader');
    talker.close();
    await context.close();
  });

  test('a desktop screen shows at least 20 short messages', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const talker = await peer(room);
    for (let i = 1; i <= 40; i++) talker.send({ type: 'message', data: `short ${i}` });
    await line(page, 'short 40').waitFor();
    const visible = await page.evaluate(() => {
      const log = document.getElementById('messages')!.getBoundingClientRect();
      return [...document.querySelectorAll('#messages .msg')].filter((li) => {
        const box = li.getBoundingClientRect();
        return box.top >= log.top && box.bottom <= log.bottom;
      }).length;
    });
    assert.ok(visible >= 20, `${visible} messages fit on a 1280x800 screen`);
    talker.close();
    await context.close();
  });

  test('right-to-left text reads in its own direction, with its time outside it', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const hebrew = 'שלום לכולם, מה נשמע?';
    await say(page, hebrew);
    const shown = line(page, 'שלום');
    await shown.waitFor();
    const layout = await shown.evaluate((li) => {
      const text = li.querySelector('.text')!;
      const time = li.querySelector('time')!;
      const a = text.getBoundingClientRect();
      const b = time.getBoundingClientRect();
      const overlaps = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      return { dir: text.getAttribute('dir'), direction: getComputedStyle(text).direction, inside: text.contains(time), overlaps, text: text.textContent };
    });
    assert.deepEqual(layout, { dir: 'auto', direction: 'rtl', inside: false, overlaps: false, text: hebrew });
    await say(page, 'and English after');
    assert.equal(await line(page, 'English').locator('.text').evaluate((text) => getComputedStyle(text).direction), 'ltr');
    await context.close();
  });

  test('sixty people joining make one line, which opens to name them all', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const crowd = await Promise.all(Array.from({ length: 60 }, () => join(server, `/ws?room=${room}`)));
    const names = crowd.map(({ name }) => name);
    await page.locator('#count', { hasText: '(61)' }).waitFor();
    await page.locator('#messages .presence', { hasText: '60 people joined' }).waitFor();
    assert.equal(await page.locator('#messages .note').filter({ hasText: 'joined' }).count(), 1, 'one line for the crowd');
    await page.locator('#messages .presence summary').click();
    const listed = (await page.locator('#messages .presence p').textContent()) ?? '';
    for (const name of names) assert.ok(listed.includes(name), `${name} is listed`);
    for (const { client } of crowd.slice(0, 2)) client.close();
    await page.locator('#count', { hasText: '(59)' }).waitFor({ timeout: 20_000 });
    await page.locator('#messages .presence', { hasText: /60 people joined, .+ and .+ left/ }).waitFor();
    for (const { client } of crowd.slice(2)) client.close();
    await context.close();
  });

  test('Shift+Enter starts a new line; Enter sends the lines as one message', async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    await a.page.click('#input');
    await a.page.keyboard.type('first line');
    await a.page.keyboard.press('Shift+Enter');
    await a.page.keyboard.type('second line');
    assert.equal(await a.page.inputValue('#input'), 'first line\nsecond line');
    await a.page.keyboard.press('Enter');
    const shown = line(b.page, 'first line');
    await shown.waitFor();
    assert.equal(await shown.locator('.text').textContent(), 'first line\nsecond line');
    assert.equal(await shown.locator('.text').evaluate((text) => text.getBoundingClientRect().height > 30), true, 'shown on two lines');
    await Promise.all([a.context.close(), b.context.close()]);
  });

  test('pasted lines arrive as one message, new lines kept', async () => {
    const room = freshRoom();
    const a = await open(room, { permissions: ['clipboard-read', 'clipboard-write'] });
    const watcher = await peer(room);
    await a.page.evaluate(() => navigator.clipboard.writeText('pasted\nmultiline\n  indented'));
    await a.page.click('#input');
    await a.page.keyboard.press('Control+V');
    assert.equal(await a.page.inputValue('#input'), 'pasted\nmultiline\n  indented');
    await a.page.keyboard.press('Enter');
    assert.equal((await nextMessage(watcher, 'pasted\nmultiline\n  indented')).data.sender, await nameOn(a.page));
    watcher.close();
    await a.context.close();
  });

  test('near the limit a counter shows; over it nothing is sent or cut, and it says by how much', async () => {
    const short = await startServer({ ...testConfig(), maxMessageChars: 50 }, { log: () => {} });
    const context = await browser.newContext();
    try {
      const page = await openPage(context, short.url, problems);
      await page.fill('#input', 'x'.repeat(30));
      assert.equal(await page.textContent('#counter'), '', 'far from the limit: no counter');
      await page.fill('#input', 'x'.repeat(46));
      assert.equal(await page.textContent('#counter'), '46 / 50');
      const tooLong = 'y'.repeat(60);
      await page.fill('#input', tooLong);
      assert.equal(await page.textContent('#counter'), '60 / 50: 10 too many');
      await page.press('#input', 'Enter');
      assert.equal(await page.inputValue('#input'), tooLong, 'the text stays, whole');
      assert.equal(await page.locator('#messages .msg').count(), 0, 'nothing was sent');
      await page.fill('#input', 'y'.repeat(50));
      await page.press('#input', 'Enter');
      await line(page, 'yyyy').waitFor();
      assert.equal(await line(page, 'yyyy').locator('.text').textContent(), 'y'.repeat(50));
    } finally {
      await context.close();
      await short.close();
    }
  });

  test('Tab completes a name, again for the next; Up brings back the last message', async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    await a.page.locator('#peers li', { hasText: b.name }).waitFor();
    await a.page.click('#input');
    await a.page.keyboard.type(b.name.slice(0, 3));
    await a.page.keyboard.press('Tab');
    assert.equal(await a.page.inputValue('#input'), `${b.name}: `, 'at the start: "name: "');
    await a.page.keyboard.type(`thanks @${b.name.slice(0, 2)}`);
    await a.page.keyboard.press('Tab');
    assert.equal(await a.page.inputValue('#input'), `${b.name}: thanks @${b.name} `);
    assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'input', 'the focus stays in the composer');
    await a.page.keyboard.press('Enter');
    await line(b.page, 'thanks').waitFor();
    assert.equal(await line(b.page, 'thanks').evaluate((li) => li.classList.contains('mention')), true);
    // Nothing to complete: Tab moves on, as it always does.
    await a.page.keyboard.type('zzz');
    await a.page.keyboard.press('Tab');
    assert.notEqual(await a.page.evaluate(() => document.activeElement?.id), 'input');
    await a.page.fill('#input', '');
    await a.page.keyboard.press('ArrowUp');
    assert.equal(await a.page.inputValue('#input'), `${b.name}: thanks @${b.name}`);
    // Names with spaces: what follows the "@" is the prefix, spaces and all.
    await say(b.page, '/nick Ada Lovelace');
    await a.page.locator('#peers li', { hasText: 'Ada Lovelace' }).waitFor();
    await a.page.fill('#input', 'ask @Ada L');
    await a.page.focus('#input');
    await a.page.keyboard.press('End');
    await a.page.keyboard.press('Tab');
    assert.equal(await a.page.inputValue('#input'), 'ask @Ada Lovelace ');
    await Promise.all([a.context.close(), b.context.close()]);
  });

  test('a direct message from the people list by keyboard alone', async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    const target = a.page.getByRole('button', { name: b.name });
    await target.waitFor();
    await a.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await a.page.keyboard.press('Tab');
      reached = await target.evaluate((button) => button === document.activeElement);
    }
    assert.ok(reached, "Tab reaches the peer's name");
    await a.page.keyboard.press('Enter');
    assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'input');
    assert.equal(await a.page.inputValue('#input'), `/msg "${b.name}" `);
    await a.page.keyboard.type('by keyboard');
    await a.page.keyboard.press('Enter');
    await b.page.locator('#messages .msg.direct', { hasText: 'by keyboard' }).waitFor();
    await Promise.all([a.context.close(), b.context.close()]);
  });

  test('a renamed peer keeps their colour, and their earlier lines point to the new name', async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    await say(b.page, 'said as before');
    await line(a.page, 'said as before').waitFor();
    const colorOf = (page: Page, name: string) => page.locator('#peers li', { hasText: name }).locator('.dot').evaluate((dot) => getComputedStyle(dot).backgroundColor);
    const before = await colorOf(a.page, b.name);
    await say(b.page, '/nick Zed Quiet');
    await a.page.locator('#peers li', { hasText: 'Zed Quiet' }).waitFor();
    assert.equal(await colorOf(a.page, 'Zed Quiet'), before);
    assert.notEqual(before, 'rgb(156, 163, 175)', 'a colour, not the grey of a name without one');
    assert.equal(await line(a.page, 'said as before').locator('.who').textContent(), `${b.name} (now Zed Quiet): `);
    await say(b.page, 'said after');
    await line(a.page, 'said after').waitFor();
    assert.equal(await line(a.page, 'said after').locator('.dot').evaluate((dot) => getComputedStyle(dot).backgroundColor), before);
    await Promise.all([a.context.close(), b.context.close()]);
  });

  test('the typing line and the new-messages button sit below the log, never over a message; the button counts', async () => {
    const room = freshRoom();
    const { page, context } = await open(room, { viewport: { width: 900, height: 420 } });
    const talker = await peer(room);
    for (let i = 1; i <= 30; i++) talker.send({ type: 'message', data: `fill ${i}` });
    await line(page, 'fill 30').waitFor();
    await page.evaluate(() => (document.getElementById('messages')!.scrollTop = 0));
    talker.send({ type: 'typing', data: true });
    talker.send({ type: 'message', data: 'unseen 1' });
    talker.send({ type: 'typing', data: true });
    talker.send({ type: 'message', data: 'unseen 2' });
    talker.send({ type: 'typing', data: true });
    await page.locator('#jump', { hasText: '2 new messages' }).waitFor();
    await page.locator('#typing', { hasText: 'is typing' }).waitFor();
    const log = (await page.locator('#messages').boundingBox())!;
    for (const selector of ['#typing', '#jump']) {
      const box = (await page.locator(selector).boundingBox())!;
      assert.ok(box.y >= log.y + log.height - 1, `${selector} is below the log: ${JSON.stringify({ box, log })}`);
    }
    // From the composer, the button is one Shift+Tab away.
    await page.focus('#input');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'jump');
    await page.keyboard.press('Enter');
    assert.equal(await page.isHidden('#jump'), true);
    talker.close();
    await context.close();
  });

  test('the rooms list shows the rooms with their people, and marks one with unread messages', async () => {
    const room = freshRoom();
    const other = freshRoom();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const talker = await peer(other);
    talker.send({ type: 'message', data: 'in the other room' });
    await nextMessage(talker, 'in the other room');
    // The same browser is in both rooms: one tab each.
    const away = await openPage(context, `${server.url}/#${other}`, problems);
    await line(away, 'in the other room').waitFor();
    await setHidden(away, true);
    const page = await openPage(context, `${server.url}/#${room}`, problems);
    const entry = page.locator(`#rooms a[href="#${other}"]`);
    await entry.waitFor();
    assert.equal(await entry.locator('.count').textContent(), '2 online');
    assert.equal(await page.locator('#rooms a[aria-current="page"]').textContent(), `#${room}1 online`);
    assert.equal(await entry.locator('.unread').count(), 0, 'nothing unread yet');

    talker.send({ type: 'message', data: 'while you are elsewhere' });
    await line(away, 'while you are elsewhere').waitFor();
    await entry.locator('.unread', { hasText: 'new' }).waitFor();
    await setHidden(away, false);
    await entry.locator('.unread').waitFor({ state: 'detached' });
    // It is a link: following it enters the room.
    await entry.click();
    await page.locator('#room', { hasText: `#${other}` }).waitFor();
    await line(page, 'while you are elsewhere').waitFor();
    talker.close();
    await context.close();
  });

  test('going offline shows within a second; coming back reconnects and delivers what was typed', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const watcher = await peer(room);
    await context.setOffline(true);
    const started = Date.now();
    await page.locator('#status', { hasText: 'No network' }).waitFor({ timeout: 1000 });
    assert.ok(Date.now() - started < 1000);
    assert.equal(await page.isHidden('#reconnect'), true, 'no Reconnect button while there is no network to reconnect over');
    await say(page, 'typed offline');
    await page.locator('#messages .msg.pending', { hasText: 'typed offline' }).waitFor();
    await context.setOffline(false);
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 5000 });
    assert.equal((await nextMessage(watcher, 'typed offline', 5000)).data.sender, await nameOn(page));
    await page.locator('#messages .msg.pending').waitFor({ state: 'detached' });
    watcher.close();
    await context.close();
  });

  test('a message stuck at "sending…" finds a dead connection within about ten seconds', async () => {
    const frozen = await spawnServer(['--memory']);
    const context = await browser.newContext();
    const page = await openPage(context, `http://127.0.0.1:${frozen.port}/`, problems);
    frozen.child.kill('SIGSTOP');
    try {
      const sent = Date.now();
      await say(page, 'into the void');
      await page.locator('#messages .note.error', { hasText: 'The server stopped answering' }).waitFor({ timeout: 12_000 });
      assert.ok(Date.now() - sent < 11_000, `found after ${Date.now() - sent} ms`);
      assert.notEqual(await page.textContent('#status'), 'Connected');
      const reconnect = page.getByRole('button', { name: 'Reconnect now' });
      await reconnect.waitFor();
      // The server accepts connections but never answers them: each try gives up, and the next is
      // scheduled. (The countdown may show for less than Playwright's polling interval: the page's
      // own observer records every status.)
      await page.evaluate(`window.statuses = [];
        new MutationObserver(() => statuses.push(document.getElementById('status').textContent))
          .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true })`);
      await reconnect.click();
      await page.locator('#status', { hasText: 'Reconnecting' }).waitFor();
      assert.equal(await reconnect.isVisible(), true, 'still offered while not connected');
      await page.waitForFunction(() => (window as unknown as { statuses: string[] }).statuses.some((status) => /reconnecting in \d+ s/.test(status)), null, { timeout: 15_000 });
    } finally {
      frozen.child.kill('SIGCONT');
    }
    await page.locator('#messages .msg.pending').waitFor({ state: 'detached', timeout: 20_000 });
    await context.close();
  });

  test('"Reconnect now" connects at once instead of waiting out the backoff', async () => {
    const lasting = await startServer(testConfig(), { log: () => {} });
    const { port } = lasting;
    const context = await browser.newContext();
    const page = await openPage(context, lasting.url, problems);
    await lasting.close();
    // After a few failed tries the next one is 4 to 8 s away.
    await page.locator('#status', { hasText: /reconnecting in ([4-9]|10) s/ }).waitFor({ timeout: 30_000 });
    const back = await startServer({ ...testConfig(), port }, { log: () => {} });
    try {
      const clicked = Date.now();
      await page.getByRole('button', { name: 'Reconnect now' }).click();
      await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 2500 });
      assert.ok(Date.now() - clicked < 2500);
      assert.equal(await page.isHidden('#reconnect'), true);
    } finally {
      await context.close();
      await back.close();
    }
  });

  test('after the server starts over, the page says so in plain words, and nothing when nothing is shown', async () => {
    const first = await startServer({ ...testConfig(), memory: true }, { log: () => {} });
    const { port } = first;
    const context = await browser.newContext();
    const page = await openPage(context, first.url, problems);
    await say(page, 'before the restart');
    await line(page, 'before the restart').waitFor();
    await first.close();
    const second = await startServer({ ...testConfig(), memory: true, port }, { log: () => {} });
    try {
      await page.locator('#messages .note.error', { hasText: 'The server started its history over' }).waitFor({ timeout: 15_000 });
      const log = (await page.textContent('#messages')) ?? '';
      assert.doesNotMatch(log, /unknown-epoch|recovered|epoch/);
      // A fresh tab with the old position saved has nothing on screen to warn about.
      const fresh = await context.newPage();
      await fresh.goto(second.url);
      await fresh.locator('#status', { hasText: 'Connected' }).waitFor();
      await fresh.waitForTimeout(300);
      assert.equal(await fresh.locator('#messages .note.error').count(), 0);
    } finally {
      await context.close();
      await second.close();
    }
  });

  test("the room box checks what is typed (its pattern is one Chromium accepts)", async () => {
    const { page, context } = await open(freshRoom());
    await page.fill('#room-input', 'no spaces!');
    assert.equal(await page.locator('#room-input').evaluate((input: HTMLInputElement) => input.validity.patternMismatch), true);
    await page.fill('#room-input', 'Fine-Room-2');
    assert.equal(await page.locator('#room-input').evaluate((input: HTMLInputElement) => input.validity.valid), true);
    await context.close();
  });

  test('on a phone, tapping Send keeps the keyboard up; rooms and people are one tap away', async () => {
    const room = freshRoom();
    const { page, context } = await open(room, { viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true });
    await page.tap('#input');
    await page.keyboard.type('from a phone');
    await page.tap('#send');
    await line(page, 'from a phone').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'input', 'the composer keeps the focus');
    assert.equal(await page.isVisible('#peers'), false, 'the panel is folded away');
    await page.tap('#panel-toggle');
    await page.locator('#peers li', { hasText: '(you)' }).waitFor();
    await page.locator(`#rooms a[href="#${room}"]`).waitFor();
    // Every row of the people list can be brought whole into view (the panel scrolls; nothing is cut off).
    const cut = await page.locator('#peers li').evaluateAll((items) => items.filter((li) => {
      li.scrollIntoView({ block: 'nearest' });
      const box = li.getBoundingClientRect();
      const panel = document.getElementById('side')!.getBoundingClientRect();
      return box.top < panel.top || box.bottom > panel.bottom || box.right > panel.right;
    }).map((li) => li.textContent));
    assert.deepEqual(cut, []);
    await page.keyboard.press('Escape');
    assert.equal(await page.isVisible('#peers'), false, 'Escape folds it again');
    await context.close();
  });

  test('a message the server refuses is marked "Not sent" with the reason, leaves the outbox, and can be edited', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const refused = 'turned \u202Earound\u202C text';
    await say(page, refused);
    const failed = page.locator('#messages .msg.failed');
    await failed.waitFor();
    assert.match((await failed.locator('.state').textContent()) ?? '', /^Not sent: .+U\+202E/);
    assert.equal(await page.locator('#messages .msg.pending').count(), 0, 'not left at "sending…"');
    assert.equal(await page.evaluate((room) => sessionStorage.getItem(`plainchat.${room}.outbox`), room), '[]', 'not retried');
    await failed.getByRole('button', { name: 'Edit' }).click();
    assert.equal(await page.inputValue('#input'), refused);
    assert.equal(await failed.count(), 0);
    await page.reload();
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    await page.waitForTimeout(300);
    assert.equal(await page.locator('#messages .msg').count(), 0, 'nothing sent again after a reload');
    await context.close();
  });

  test('a long paste is folded to its first lines, and opens whole', async () => {
    const room = freshRoom();
    const { page, context } = await open(room);
    const text = Array.from({ length: 40 }, (_, i) => `log line ${i + 1}`).join('\n');
    const watcher = await peer(room);
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    await nextMessage(watcher, text);
    const shown = line(page, 'log line 1');
    await shown.waitFor();
    const isCut = () => shown.locator('.text').evaluate((body) => body.scrollHeight > body.clientHeight);
    assert.equal(await isCut(), true);
    await shown.getByRole('button', { name: 'Show all 40 lines' }).click();
    assert.equal(await isCut(), false);
    assert.equal(await shown.locator('.text').textContent(), text, 'the whole text was always there');
    watcher.close();
    await context.close();
  });

  test('on a phone, tapping a message shows its time and full date', async () => {
    const room = freshRoom();
    const { page, context } = await open(room, { viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true, locale: 'en-US' });
    await say(page, 'first');
    await say(page, 'second, grouped');
    const second = line(page, 'second, grouped');
    await second.waitFor();
    const time = second.locator('time');
    assert.equal(await time.isVisible(), false, 'a grouped line hides its time');
    await second.locator('.text').tap();
    assert.equal(await time.isVisible(), true);
    const full = await time.evaluate((element) => getComputedStyle(element, '::after').content);
    assert.ok(full.includes(String(new Date().getFullYear())), `the full date is shown: ${full}`);
    await context.close();
  });

  test('the IRC commands from the page: /me as an action, /topic in the header, /list, /join, and /quit staying away', async () => {
    const room = freshRoom();
    const { page, context, name } = await open(room);
    const other = await peer(room);
    await say(page, '/me waves');
    const action = await other.nextOfType('message');
    assert.deepEqual([action.data.message, action.data.action], ['waves', true]);
    const shown = line(page, 'waves');
    await shown.waitFor();
    assert.ok(await shown.evaluate((li) => li.classList.contains('action') && getComputedStyle(li.querySelector('.text')!).fontStyle === 'italic'));
    assert.equal(await shown.evaluate((li) => li.textContent?.startsWith(`${li.querySelector('.who b')!.textContent} waves`)), true, 'reads "name waves"');

    other.send('/topic deploy at five');
    await page.locator('#topic', { hasText: 'deploy at five' }).waitFor();
    await page.locator('#messages .note', { hasText: 'set the topic: deploy at five' }).waitFor();
    const later = await open(room);
    await later.page.locator('#topic', { hasText: 'deploy at five' }).waitFor();
    await later.context.close();

    await say(page, '/list');
    await page.locator('#messages .note', { hasText: `#${room} (` }).waitFor();

    await say(page, '/join elsewhere');
    await page.locator('#room', { hasText: '#elsewhere' }).waitFor();
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    assert.equal(await page.locator('#topic').textContent(), '', 'no topic here');
    await until(async () => (await other.nextOfType('peer-left', 15_000)).data.includes(name), 16_000, () => 'it left the room (after the grace period: the page reconnects in the new room)');

    await say(page, '/quit gone fishing');
    await page.locator('#status', { hasText: 'You left' }).waitFor();
    await page.waitForTimeout(1500);
    assert.equal(await page.locator('#status').textContent(), 'You left', 'it does not come back by itself');
    assert.equal(await page.locator('#reconnect').isVisible(), true, 'but offers to');
    await context.close();
  });

  test('no page broke a Content-Security-Policy rule or threw a script error, in any test', () => {
    assert.deepEqual(problems, []);
  });
});
