// Signing in from the page, in Debian's Chromium: the password prompt, and a JWT handed over in
// the URL fragment, against the real server.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { Config } from '../lib/config.ts';
import { CHROMIUM, CHROMIUM_ARGS, isChromiumMissing, nameOn, say } from './chromium.ts';
import { connect, greeted, joinFrom, nextMessage, operWith, startTestServer } from './helpers.ts';

const dir = mkdtempSync(joinPath(tmpdir(), 'plainchat-page-auth-'));
const PASSWORD = 'team password 42';
const SECRET = 'the-application-secret-of-32-chars!!';
const ADMIN_TOKEN = 'the-admin-token-of-the-page-test';

describe('signing in from the page', { skip: isChromiumMissing ? `no Chromium at ${CHROMIUM}` : false }, () => {
  let browser: Browser;
  const problems: string[] = [];
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    assert.deepEqual(problems, [], 'no script errors');
  });

  async function open(url: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(url);
    return page;
  }

  test('the page asks for the password once: a wrong one is said, the right one lets it chat, and a reload does not ask again', async () => {
    const passwordFile = joinPath(dir, 'password');
    writeFileSync(passwordFile, PASSWORD);
    const server = await startTestServer({ auth: 'password', passwordFile } as Partial<Config>);
    const page = await open(`${server.url}/#team`);
    await page.getByLabel('This chat needs its password').waitFor();
    assert.equal(await page.locator('#form').isHidden(), true, 'no composer before the sign-in');
    await page.getByLabel('This chat needs its password').fill('not it');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error', { hasText: 'wrong password' }).waitFor();
    await page.getByLabel('This chat needs its password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    await page.locator('#peers li', { hasText: '(you)' }).waitFor({ state: 'attached' });
    const name = await nameOn(page);

    const peer = await connect(server, '/ws?room=team');
    await peer.next();
    peer.send({ type: 'auth', data: PASSWORD });
    await greeted(peer);
    await say(page, 'signed in and talking');
    assert.equal((await nextMessage(peer, 'signed in and talking')).data.sender, name);

    await page.reload();
    await page.locator('#peers li', { hasText: '(you)' }).waitFor({ state: 'attached' });
    assert.equal(await page.locator('#signin').isHidden(), true, 'the session lasts: no second prompt');
    assert.equal(await nameOn(page), name);
    await peer.close();
  });

  test('a JWT handed over in the fragment signs in under its name and leaves the address bar; an expired one is said', async () => {
    const jwtSecretFile = joinPath(dir, 'jwt');
    writeFileSync(jwtSecretFile, SECRET);
    const server = await startTestServer({ auth: 'jwt', jwtSecretFile } as Partial<Config>);
    const key = new TextEncoder().encode(SECRET);
    const token = await new SignJWT({ sub: 'u-1', name: 'Ada' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    const page = await open(`${server.url}/#dev&token=${token}`);
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    await page.locator('#peers li', { hasText: '(you)' }).waitFor({ state: 'attached' });
    assert.equal(await nameOn(page), 'Ada');
    assert.equal(new URL(page.url()).hash, '#dev', 'the token is out of the address bar');

    const expired = await new SignJWT({ sub: 'u-2' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key);
    const late = await open(`${server.url}/#dev&token=${expired}`);
    await late.locator('#messages', { hasText: 'Your sign-in has expired' }).waitFor();
    await late.locator('#status', { hasText: 'Signed out' }).waitFor();
  });

  test('an invitation link lets the page into a private room and leaves the address bar; the page shows its own invitations and the room\'s line', async () => {
    const adminTokenFile = joinPath(dir, 'admin-token');
    writeFileSync(adminTokenFile, ADMIN_TOKEN);
    const server = await startTestServer({ adminTokenFile } as Partial<Config>, { audit: () => {} });
    const mod = await joinFrom(server, '127.0.40.1', 'secret');
    await operWith(mod.client, ADMIN_TOKEN);
    mod.client.send('/private');
    await mod.client.nextOfType('moderation');
    mod.client.send('/invite 1h');
    const { url } = (await mod.client.nextOfType('invitation')).data;
    const page = await open(url);
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    await page.locator('#peers li', { hasText: '(you)' }).waitFor({ state: 'attached' });
    assert.equal(new URL(page.url()).hash, '#secret', 'the invitation is out of the address bar');
    await say(page, '/invite');
    const field = page.getByLabel('Invitation link to #secret');
    await field.waitFor();
    assert.match(await field.inputValue(), new RegExp(`^${server.url}/#secret&invite=secret\\.`));
    await page.reload();
    await page.locator('#peers li', { hasText: '(you)' }).waitFor({ state: 'attached' });
    mod.client.send('/public');
    await page.locator('#messages', { hasText: 'made this room public: anyone may join' }).waitFor();
  });
});
