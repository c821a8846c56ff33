// Shared by the browser tests: Debian's Chromium driven by playwright-core, and how a test opens
// the page and waits for it to be in the chat.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const isChromiumMissing = !existsSync(CHROMIUM);
if (isChromiumMissing && process.env.CI) throw new Error(`${CHROMIUM} is missing; .ci/run installs Debian's chromium for the browser tests`);
if (isChromiumMissing) console.log(`# browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

// The flags keep Chromium from reaching out to the network, which this machine does not have.
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Opens `url` in a new page of `context` and waits until it is connected and knows its name (the
 * people list may be folded away, on a phone). CSP reports and script errors go to `problems`.
 */
export async function openPage(context: BrowserContext, url: string, problems: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to|not a valid regular expression/.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(url);
  await page.locator('#status', { hasText: 'Connected' }).waitFor();
  await page.locator('#peers li', { hasText: '(you)' }).waitFor({ state: 'attached' });
  return page;
}

/** The page's own name, from its people list. */
export const nameOn = async (page: Page): Promise<string> => (await page.locator('#peers li', { hasText: '(you)' }).locator('span').nth(1).textContent()) ?? '';

/** Types `text` into the composer and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

/** Makes the page believe its tab is hidden (or visible again), as switching tabs does. */
export async function setHidden(page: Page, isHidden: boolean): Promise<void> {
  // A string, not a function: what tsx adds to a function's source (__name) does not exist in the page.
  await page.evaluate(`{
    const state = ${isHidden ? "'hidden'" : "'visible'"};
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }`);
}

/** Where the tests leave pictures of the page for a person to look at (README names it). */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'screenshots');

/** Saves a picture of the page under SCREENSHOT_DIR. */
export async function screenshot(page: Page, file: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, file) });
}
