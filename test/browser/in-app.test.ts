/**
 * In-app messages in a real Chromium against a real Herald: messages made and started through the
 * REST API, synced by the Web SDK, triggered by track(), shown by the default rendering (checked
 * with axe-core), clicked, dismissed with Escape, refused by the display check once the profile no
 * longer matches, rendered by the app itself, and counted once in GET /v1/stats/in-app/{id} even
 * when the outbox sends them again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page, Response } from 'playwright-core';
import { identityToken } from '../../src/domain/identity-token.js';
import { eventually, startTestHerald, type TestHerald } from '../support/herald.js';
import { accessible } from './dashboard-support.js';
import { gotoSdkPage, launchChromium, pending, skipWithoutChromium, track } from './browser.js';

interface InAppStats { impressions: number; unique_impressions: number; clicks: number; unique_clicks: number; dismissals: number }

async function startedMessage(th: TestHerald, body: Record<string, unknown>): Promise<string> {
  const made = await th.call('POST', '/v1/in-app-messages', body);
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const started = await th.call('POST', `/v1/in-app-messages/${made.body.id}/start`);
  assert.ok(started.status >= 200 && started.status < 300, JSON.stringify(started.body));
  return made.body.id as string;
}

async function stats(th: TestHerald, id: string): Promise<InAppStats> {
  const r = await th.call('GET', `/v1/stats/in-app/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as InAppStats;
}

/**
 * Waits for the page's next sync whose answer holds every message of `ids` (register before the
 * page syncs). With `since` (epoch ms), only a sync requested from then on: a sync of the document
 * a navigation left may still answer after it, and its body is gone with that document.
 */
function syncedWith(page: Page, ids: string[], since?: number): Promise<Response> {
  return page.waitForResponse(async (r) => {
    if (!r.url().endsWith('/v1/sdk/in-app/sync') || !r.ok()) return false;
    if (since !== undefined && r.request().timing().startTime < since) return false;
    const body = await r.json().catch(() => undefined) as { messages: { id: string }[] } | undefined;
    return body !== undefined && ids.every((id) => body.messages.some((m) => m.id === id));
  }, { timeout: 30_000 });
}

const sdkPage = (th: TestHerald, extra = '') => `${th.url}/sdk/web/test.html?key=${encodeURIComponent(th.project.sdk_key)}${extra}`;

test('a message triggered by track() is shown as an accessible modal, clicked, and counted once though the outbox sends it again after a reload',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await (await browser.newContext()).newPage();

    const id = await startedMessage(th, {
      name: 'Winter sale', format: 'modal',
      content: {
        title: 'Winter sale', body: '20% off everything today',
        buttons: [
          // The offer is another page of the site: here the SDK's test page again, so the click's page re-sends the outbox.
          { id: 'shop', label: 'Shop now', action: 'url', url: sdkPage(th, '&from=offer') },
          { id: 'later', label: 'Not now', action: 'dismiss' },
        ],
      },
      trigger: { type: 'event', event: 'cart_viewed', where: [{ attribute: 'total', gte: 20 }] },
    });
    const synced = syncedWith(page, [id]);
    await gotoSdkPage(page, th.url, th.project.sdk_key);
    await synced;

    // Herald stores every in-app events call, but the page never sees an answer (as if the
    // connection dropped each time right after): the outbox keeps the entries and sends them again.
    const eventsUrl = `${th.url}/v1/sdk/in-app/events`;
    await page.route(eventsUrl, async (route) => {
      await route.fetch();
      await route.abort('connectionreset');
    });

    await track(page, 'cart_viewed', { total: 50 });
    const dialog = page.getByRole('dialog', { name: 'Winter sale' });
    await dialog.waitFor({ timeout: 15_000 });
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    assert.equal(await dialog.getAttribute('aria-describedby').then((d) => page.locator(`[id="${d}"]`).innerText()), '20% off everything today');
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('role')), 'dialog', 'focus moved into the dialog');
    // No reduced-motion preference here: the entrance animation is set (it may have ended already).
    assert.equal(await dialog.evaluate((d) => (globalThis as any).getComputedStyle(d).animationName), 'herald-in-app-in');
    await accessible(page, 'the in-app modal');

    await Promise.all([page.waitForURL(/from=offer/), dialog.getByRole('button', { name: 'Shop now' }).click()]);
    await page.evaluate(() => (globalThis as any).heraldReady);
    const counted = await eventually(async () => {
      const s = await stats(th, id);
      return s.impressions === 1 && s.clicks === 1 ? s : undefined;
    }, 30_000, '1 impression and 1 click in the stats');
    assert.equal(counted.dismissals, 0);
    assert.ok((await pending(page)) > 0, 'the page still holds them: it never saw an answer');

    await page.unroute(eventsUrl);
    await gotoSdkPage(page, th.url, th.project.sdk_key);
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 30_000, 'the outbox to drain');
    const after = await stats(th, id);
    assert.deepEqual(
      { impressions: after.impressions, unique_impressions: after.unique_impressions, clicks: after.clicks, unique_clicks: after.unique_clicks, dismissals: after.dismissals },
      { impressions: 1, unique_impressions: 1, clicks: 1, unique_clicks: 1, dismissals: 0 },
    );
  });

test('Escape closes a fullscreen message, counts a dismissal and gives focus back; Tab stays inside; reduced motion has no animation',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await (await browser.newContext({ reducedMotion: 'reduce' })).newPage();

    const id = await startedMessage(th, {
      name: 'Help', format: 'fullscreen',
      content: { title: 'Need a hand?', body: 'Our team answers in minutes.', buttons: [{ id: 'chat', label: 'Chat with us', action: 'url', url: 'https://help.example/chat' }] },
      trigger: { type: 'event', event: 'help_opened' },
    });
    const synced = syncedWith(page, [id]);
    await gotoSdkPage(page, th.url, th.project.sdk_key);
    await synced;

    // The page's own control, focused when the message comes.
    await page.evaluate(() => {
      const doc = (globalThis as any).document;
      const b = doc.createElement('button');
      b.id = 'opener';
      b.textContent = 'Help';
      doc.body.append(b);
      b.focus();
    });
    await track(page, 'help_opened');
    const dialog = page.getByRole('dialog', { name: 'Need a hand?' });
    await dialog.waitFor({ timeout: 15_000 });
    assert.equal(await dialog.evaluate((d) => (globalThis as any).getComputedStyle(d).animationName), 'none', 'prefers-reduced-motion: reduce');
    const focused = () => page.evaluate(() => {
      const at = (globalThis as any).document.activeElement;
      return (at?.getAttribute('aria-label') ?? at?.textContent ?? null) as string | null;
    });
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Close');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Chat with us');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Close', 'Tab wraps inside the dialog');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Chat with us', 'Shift+Tab wraps too');

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id as string | undefined), 'opener', 'focus is back where it was');
    const s = await eventually(async () => {
      const r = await stats(th, id);
      return r.dismissals === 1 ? r : undefined;
    }, 30_000, 'the dismissal in the stats');
    assert.equal(s.impressions, 1);
    assert.equal(s.clicks, 0);
  });

test('a message whose audience no longer matches when it would show is not shown: the display check refuses it',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await (await browser.newContext()).newPage();

    const gold = await th.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: 'ann' }, attributes: { tier: 'gold' } }]);
    assert.equal(gold.status, 200, JSON.stringify(gold.body));
    const goldOnly = await startedMessage(th, {
      name: 'Gold perks', format: 'modal', content: { title: 'Your gold perks', body: 'Free shipping on this order' },
      trigger: { type: 'event', event: 'checkout' }, audience: { attribute: 'tier', eq: 'gold' }, priority: 90,
    });
    const everyone = await startedMessage(th, {
      name: 'Thanks', format: 'banner', content: { title: 'Thanks for your order', position: 'bottom' },
      trigger: { type: 'event', event: 'checkout' }, priority: 10,
    });

    await gotoSdkPage(page, th.url, th.project.sdk_key);
    // identify syncs again once the outbox is sent: wait for that sync, so no request of this
    // document is still open when the page is loaded again.
    const identified = syncedWith(page, [goldOnly, everyone]);
    await page.evaluate((token) => (globalThis as any).Herald.identify('ann', { identityToken: token }), identityToken(th.project.identity_secret, 'ann'));
    await page.evaluate(() => (globalThis as any).Herald.flush());
    await identified;
    // The next page load is ann's from the start: its one sync holds the gold message.
    const synced = syncedWith(page, [goldOnly, everyone], Date.now());
    await gotoSdkPage(page, th.url, th.project.sdk_key);
    await synced;

    const silver = await th.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: 'ann' }, attributes: { tier: 'silver' } }]);
    assert.equal(silver.status, 200, JSON.stringify(silver.body));
    const checked = page.waitForResponse(async (r) => r.url().endsWith('/v1/sdk/in-app/check') && (JSON.parse(r.request().postData() ?? '{}') as { message_id?: string }).message_id === goldOnly);
    await track(page, 'checkout');
    const answer = (await (await checked).json()) as { show: boolean; reason?: string };
    assert.deepEqual(answer, { show: false, reason: 'not_targeted' });

    // Messages show one at a time, the higher priority first: once the banner is up, the gold
    // message was decided, and it is not there.
    const banner = page.getByRole('region', { name: 'Thanks for your order' });
    await banner.waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('dialog').count(), 0);
    assert.equal(await page.getByText('Your gold perks').count(), 0);
    await banner.getByRole('button', { name: 'Close' }).click();
    await eventually(async () => ((await stats(th, everyone)).dismissals === 1 ? true : undefined), 30_000, 'the banner dismissed');
    assert.equal((await stats(th, goldOnly)).impressions, 0);
    assert.equal((await stats(th, everyone)).impressions, 1);
  });

test('at a session\'s start, the session-start banner (priority 80) shows before the asap html message (50); the html is a sandboxed iframe whose script never runs, and its dismiss button counts a dismissal',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await (await browser.newContext()).newPage();

    const id = await startedMessage(th, {
      name: 'Rich', format: 'html',
      content: {
        title: 'News', html: '<p id="inside">Spring collection</p><script>parent.document.title = "taken"; document.body.append("ran")</script>',
        buttons: [{ id: 'ok', label: 'Got it', action: 'dismiss' }],
      },
      trigger: { type: 'asap' },
    });
    const welcome = await startedMessage(th, {
      name: 'Welcome', format: 'banner', content: { title: 'Welcome back' }, trigger: { type: 'session_start' }, priority: 80,
    });
    const synced = syncedWith(page, [id, welcome]);
    await gotoSdkPage(page, th.url, th.project.sdk_key);
    await synced;

    // One at a time: the banner first, the html message once it is closed.
    const banner = page.getByRole('region', { name: 'Welcome back' });
    await banner.waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('dialog').count(), 0);
    await banner.getByRole('button', { name: 'Close' }).click();
    const dialog = page.getByRole('dialog', { name: 'News' });
    await dialog.waitFor({ timeout: 15_000 });
    const frame = dialog.locator('iframe');
    assert.equal(await frame.getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox');
    const inside = page.frameLocator('.herald-in-app iframe');
    assert.equal(await inside.locator('#inside').innerText(), 'Spring collection');
    assert.doesNotMatch(await inside.locator('body').innerText(), /ran/);
    assert.equal(await page.title(), 'Herald Web SDK test page');
    await accessible(page, 'the html message');

    await dialog.getByRole('button', { name: 'Got it' }).click();
    await dialog.waitFor({ state: 'detached' });
    const s = await eventually(async () => {
      const r = await stats(th, id);
      return r.dismissals === 1 ? r : undefined;
    }, 30_000, 'the dismissal in the stats');
    assert.equal(s.impressions, 1);
    assert.equal(s.clicks, 0);
    assert.equal((await stats(th, welcome)).impressions, 1);
  });

test('onInAppMessage replaces the rendering, an event filter that fails fires nothing, suppress holds messages until released',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await (await browser.newContext()).newPage();

    const big = await startedMessage(th, {
      name: 'Big cart', format: 'modal', content: { title: 'Big cart' }, priority: 90,
      trigger: { type: 'event', event: 'cart_viewed', where: [{ attribute: 'total', gte: 20 }] },
    });
    const any = await startedMessage(th, {
      name: 'Any cart', format: 'modal', content: { title: 'Any cart' }, priority: 10,
      trigger: { type: 'event', event: 'cart_viewed' },
    });
    const synced = syncedWith(page, [big, any]);
    await gotoSdkPage(page, th.url, th.project.sdk_key);
    await synced;

    // The app's own rendering: it notes what it got, clicks the first, dismisses the others.
    await page.evaluate(() => {
      const g = globalThis as any;
      g.got = [];
      g.released = false;
      g.Herald.onInAppMessage((m: { id: string }, controls: { click(id?: string): Promise<void>; dismiss(): Promise<void> }) => {
        g.got.push({ id: m.id, released: g.released });
        void (g.got.length === 1 ? controls.click() : controls.dismiss());
      });
    });
    const got = () => page.evaluate(() => (globalThis as any).got as { id: string; released: boolean }[]);

    // total 5 fails the big message's filter: had it passed, the big one (priority 90) would come first.
    await track(page, 'cart_viewed', { total: 5 });
    await eventually(async () => ((await got()).length === 1 ? true : undefined), 15_000, 'the listener called');
    assert.deepEqual((await got()).map((g) => g.id), [any]);
    assert.equal(await page.locator('.herald-in-app').count(), 0, 'no default rendering');

    await page.evaluate(() => (globalThis as any).Herald.inApp.suppress(true));
    await track(page, 'cart_viewed', { total: 50 });
    await page.evaluate(() => (globalThis as any).Herald.flush());
    assert.equal((await got()).length, 1, 'held while suppressed');
    await page.evaluate(() => {
      (globalThis as any).released = true;
      (globalThis as any).Herald.inApp.suppress(false);
    });
    await eventually(async () => ((await got()).length === 3 ? true : undefined), 15_000, 'the held messages');
    assert.deepEqual(await got(), [{ id: any, released: false }, { id: big, released: true }, { id: any, released: true }], 'the higher priority first');

    const counts = await eventually(async () => {
      const [a, b] = [await stats(th, any), await stats(th, big)];
      return a.impressions === 2 && a.clicks === 1 && a.dismissals === 1 && b.impressions === 1 && b.dismissals === 1 ? b : undefined;
    }, 30_000, 'the listener\'s reports in the stats');
    assert.equal(counts.clicks, 0);
  });
