/**
 * The inbox in a real Chromium: a push delivered to a user's phone (through the sandbox's APNs
 * simulator) shows in the Web SDK's default inbox element on that user's browser, and opening it
 * there marks it read in Herald.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { identityToken } from '../../src/domain/identity-token.js';
import { eventually, startTestHerald } from '../support/herald.js';
import { launchChromium, openSdkPage, skipWithoutChromium } from './browser.js';

test('the default inbox element shows a delivered push and marks it read when opened', { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
  const th = await startTestHerald();
  t.after(() => th.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await openSdkPage(await browser.newContext(), th.url, th.project.sdk_key);

  // The user's phone, registered by the app's server; the browser is the same user.
  const phone = await th.call('POST', '/v1/sdk/installations', { install_id: 'ann-phone', platform: 'ios', push_token: randomBytes(32).toString('hex'), custom_id: 'ann' });
  assert.equal(phone.status, 200, JSON.stringify(phone.body));
  await page.evaluate((token) => (globalThis as any).Herald.identify('ann', { identityToken: token }), identityToken(th.project.identity_secret, 'ann'));

  const sent = await th.call('POST', '/v1/transactional/send', {
    group_id: 'inbox', recipients: { custom_ids: ['ann'] }, push: { title: 'Your order shipped', body: 'It arrives Friday', inbox: true },
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const messageId = sent.body.message_id as string;
  await eventually(async () => {
    const [d] = await th.db.sql<{ status: string }[]>`select status from deliveries where message_id = ${messageId}`;
    return d?.status === 'sent' ? true : undefined;
  }, 30_000, 'the push delivered to the phone');

  await page.evaluate(() => (globalThis as any).Herald.inbox.render((globalThis as any).document.body));
  const region = page.getByRole('region', { name: 'Inbox' });
  const item = region.getByRole('button', { name: /Your order shipped/ });
  await item.waitFor({ timeout: 15_000 });
  assert.match(await item.innerText(), /Unread: Your order shipped It arrives Friday/);
  assert.equal(await region.locator('.herald-inbox-unread').innerText(), '1 unread');

  await item.click();
  await eventually(async () => ((await region.locator('.herald-inbox-unread').innerText()) === '0 unread' ? true : undefined), 15_000, 'the count at 0');
  const [row] = await th.db.sql<{ read_at: Date | null; opened_at: Date | null }[]>`
    select read_at, opened_at from inbox_items where owner_kind = 'profile' and owner = 'ann' and message_id = ${messageId}`;
  assert.ok(row?.read_at && row.opened_at, 'read and opened in Herald');
  assert.equal(await page.evaluate(() => (globalThis as any).Herald.inbox.unreadCount()), 0);
  assert.doesNotMatch(await item.innerText(), /Unread:/);
});
