/**
 * The Web SDK's service worker in a real Chromium: it registers from subscribeToPush, shows a push
 * delivered through the DevTools protocol (ServiceWorker.deliverPushMessage, the path DevTools'
 * "Push" button takes), and a click on that notification records an open in Herald.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page, Worker } from 'playwright-core';
import { eventually, startTestHerald, type TestHerald } from '../support/herald.js';
import { launchChromium, openSdkPage, pending, skipWithoutChromium } from './browser.js';

interface Subscribed {
  th: TestHerald;
  context: BrowserContext;
  page: Page;
  worker: Worker;
  /** subscribeToPush's outcome: Chromium cannot reach a push service here, so it may reject. */
  subscribeResult: { ok: true } | { ok: false; error: string };
}

async function subscribedPage(t: { after(fn: () => Promise<unknown>): void }): Promise<Subscribed> {
  const th = await startTestHerald({ sandbox: false });
  t.after(() => th.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin: th.url });
  const page = await openSdkPage(context, th.url, th.project.sdk_key);
  const workerStarted = context.waitForEvent('serviceworker');
  const subscribeResult = await page.evaluate(() => (globalThis as any).Herald.subscribeToPush().then(
    () => ({ ok: true as const }),
    (err: Error) => ({ ok: false as const, error: String(err) }),
  ));
  const worker = context.serviceWorkers()[0] ?? (await workerStarted);
  return { th, context, page, worker, subscribeResult };
}

test('subscribeToPush registers the service worker for the whole origin', { skip: skipWithoutChromium, timeout: 60_000 }, async (t) => {
  const { th, page, worker, subscribeResult } = await subscribedPage(t);
  t.diagnostic(`subscribeToPush: ${JSON.stringify(subscribeResult)}`);
  // It got as far as the browser's own subscribe, past the VAPID key from GET /v1/sdk/config: a
  // test browser context (off the record) refuses push subscriptions, and a real profile would wait
  // for Google's push service, which test machines cannot reach.
  if (!subscribeResult.ok) assert.match(subscribeResult.error, /^AbortError: Registration failed/);
  assert.equal(worker.url(), `${th.url}/sdk/web/herald-sw.js`);
  const reg = await page.evaluate(async () => {
    const r = await (globalThis as any).navigator.serviceWorker.getRegistration('/');
    return r && { scope: r.scope as string, active: r.active?.scriptURL as string | undefined, state: r.active?.state as string };
  });
  assert.deepEqual(reg, { scope: `${th.url}/`, active: `${th.url}/sdk/web/herald-sw.js`, state: 'activated' });
});

test('a push delivered to the service worker shows a notification, and clicking it records an open',
  { skip: skipWithoutChromium, timeout: 60_000 }, async (t) => {
    const { th, context, page, worker } = await subscribedPage(t);
    const cdp = await context.newCDPSession(page);
    const registrationId = await new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
        const reg = e.registrations.find((r) => r.scopeURL === `${th.url}/` && !r.isDeleted);
        if (reg) resolve(reg.registrationId);
      });
      void cdp.send('ServiceWorker.enable');
    });

    const payload = {
      title: 'Your order shipped',
      body: 'It arrives tomorrow',
      deeplink: '/orders/42',
      message_id: '0192f1a0-0000-7000-8000-000000000001',
      delivery_id: '0192f1a0-0000-7000-8000-000000000002',
      data: { order: 42 },
    };
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: th.url, registrationId, data: JSON.stringify(payload) });

    const shown = await eventually(async () => {
      const list = await worker.evaluate(async () => {
        const ns = await (globalThis as any).registration.getNotifications();
        return ns.map((n: any) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
      });
      return list.length ? list : undefined;
    }, 15_000, 'the notification');
    assert.deepEqual(shown, [{
      title: payload.title,
      body: payload.body,
      tag: payload.message_id,
      data: { herald: { message_id: payload.message_id, delivery_id: payload.delivery_id, deeplink: '/orders/42', data: { order: 42 } } },
    }]);

    // No DevTools command clicks a notification: the click is dispatched in the worker, with the
    // notification the browser shows, to the worker's own notificationclick listener.
    await worker.evaluate(async () => {
      const g = globalThis as any;
      const [n] = await g.registration.getNotifications();
      g.dispatchEvent(new g.NotificationEvent('notificationclick', { notification: n }));
    });

    const opened = await eventually(async () => {
      const rows = await th.db.sql<{ name: string; attributes: Record<string, unknown> }[]>`
        select name, attributes from events where project_id = ${th.project.project_id} and name = '$push_opened'`;
      return rows.length ? rows : undefined;
    }, 15_000, 'the $push_opened event');
    assert.equal(opened.length, 1);
    assert.equal(JSON.stringify(opened[0]!.attributes).includes(payload.message_id), true);
    // The click closed the notification, and the received and opened reports left the outbox.
    assert.equal((await worker.evaluate(async () => (await (globalThis as any).registration.getNotifications()).length)), 0);
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 15_000, 'an empty outbox');
  });
