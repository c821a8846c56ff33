// Accessibility, checked by axe-core (injected into the real page in Chromium): no violation of
// impact serious or critical on a desktop and a phone, in light and dark, with the log holding every
// kind of line. The test also leaves screenshots of each under SCREENSHOT_DIR for a person to look at.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { defaultConfig } from '../lib/config.ts';
import { type ChatServer, startServer } from '../lib/server.ts';
import { CHROMIUM, CHROMIUM_ARGS, isChromiumMissing, openPage, say, screenshot } from './chromium.ts';
import { CROWD_BUDGETS, join, nextMessage, tempDataDir } from './helpers.ts';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

describe('accessibility (axe-core)', { skip: isChromiumMissing ? `no Chromium at ${CHROMIUM}` : false }, () => {
  let browser: Browser;
  let server: ChatServer;
  const problems: string[] = [];
  const room = 'a11y';

  before(async () => {
    server = await startServer({ ...defaultConfig(), ...CROWD_BUDGETS, port: 0, host: '127.0.0.1', dataDir: tempDataDir() }, { log: () => {} });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    // The log gets every kind of line: messages grouped and not, a link, right-to-left text, several
    // lines, a day line, joins (folded), a rename, a direct message, an error.
    const talker = (await join(server, `/ws?room=${room}`)).client;
    for (const text of ['Good morning! The notes are at https://example.com/notes', 'שלום לכולם', 'two lines\nof text']) talker.send({ type: 'message', data: text });
    await nextMessage(talker, 'two lines\nof text');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Every violation of impact serious or critical on the page as it is now. */
  async function seriousViolations(page: import('playwright-core').Page): Promise<Violation[]> {
    await page.evaluate(AXE);
    const violations = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)')) as Violation[];
    return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  }
  const describeAll = (violations: Violation[]) => violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `  ${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`).join('\n')}`).join('\n');

  for (const device of ['desktop', 'phone'] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      test(`${device}, ${scheme}: no serious or critical violation`, async () => {
        const viewport = device === 'desktop' ? { width: 1280, height: 800 } : { width: 375, height: 740 };
        const context = await browser.newContext({ viewport, colorScheme: scheme, hasTouch: device === 'phone', isMobile: device === 'phone' });
        const visitors = await Promise.all(Array.from({ length: 5 }, () => join(server, `/ws?room=${room}`)));
        try {
          const page = await openPage(context, `${server.url}/#${room}`, problems);
          await say(page, `Hello @${visitors[0]!.name}, the notes are here`);
          await page.locator('#messages .msg.own:not(.pending)').waitFor();
          const [first, second] = visitors;
          first!.client.send({ type: 'message', data: `and hello to you @${(await page.locator('#peers li', { hasText: '(you)' }).locator('span').nth(1).textContent()) ?? ''}` });
          first!.client.send({ type: 'direct-message', data: { to: (await page.locator('#peers li', { hasText: '(you)' }).locator('span').nth(1).textContent()) ?? '', message: 'a word in private' } });
          second!.client.send({ type: 'rename', data: `Reader ${scheme} ${device}` });
          second!.client.send({ type: 'typing', data: true });
          await page.locator('#messages .msg.direct').waitFor();
          await page.locator('#typing', { hasText: 'typing' }).waitFor();
          await Promise.all(visitors.slice(2).map(({ client }) => client.close()));
          await page.locator('#messages .presence', { hasText: 'left' }).waitFor();
          await say(page, '/msg nobody-here hi');
          await page.locator('#messages .note.error').waitFor();
          await page.fill('#input', 'z'.repeat(1900));

          const found = await seriousViolations(page);
          await screenshot(page, `${device}-${scheme}.png`);
          assert.deepEqual(found, [], describeAll(found));
          if (device === 'phone') {
            await page.tap('#panel-toggle');
            await page.locator('#peers').waitFor();
            const inPanel = await seriousViolations(page);
            await screenshot(page, `${device}-${scheme}-panel.png`);
            assert.deepEqual(inPanel, [], describeAll(inPanel));
          }
        } finally {
          for (const { client } of visitors) client.close();
          await context.close();
        }
      });
    }
  }

  test('no page broke a Content-Security-Policy rule or threw a script error', () => {
    assert.deepEqual(problems, []);
  });
});
