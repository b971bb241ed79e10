/**
 * The Web SDK's outbox bound and refusals, in a real Chromium: what it drops it counts, and reports
 * once, at the next send, as a herald_sdk_dropped event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { eventually, startTestHerald } from '../support/herald.js';
import { launchChromium, openSdkPage, pending, skipWithoutChromium, track } from './browser.js';

async function stored(sql: Sql, projectId: string) {
  return sql<{ client_id: string; name: string; attributes: Record<string, unknown> }[]>`
    select client_id, name, attributes from events where project_id = ${projectId} order by time, client_id`;
}

test('a full outbox drops its oldest entries while offline and reports how many once back online',
  { skip: skipWithoutChromium, timeout: 90_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const context = await browser.newContext();
    const page = await openSdkPage(context, th.url, th.project.sdk_key, { outboxLimit: '5' });
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 15_000, 'the installation to be sent');

    await context.setOffline(true);
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) ids.push(await track(page, 'page_event', { n }));
    assert.equal(await pending(page), 5, 'the bound holds');
    await context.setOffline(false);

    const rows = await eventually(async () => {
      const r = await stored(th.db.sql, th.project.project_id);
      return r.length >= 6 && (await pending(page)) === 0 ? r : undefined;
    }, 30_000, 'the events and the drop report');
    const events = rows.filter((r) => r.name === 'page_event');
    assert.deepEqual(events.map((r) => r.client_id).sort(), ids.slice(3).sort(), 'the 5 newest, once each');
    const reports = rows.filter((r) => r.name === 'herald_sdk_dropped');
    assert.deepEqual(reports.map((r) => r.attributes), [{ count: 3, overflow: 3, rejected: 0 }]);

    // Reported once: the next send carries no second report.
    await track(page, 'page_event', { n: 8 });
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 15_000, 'the next event');
    assert.equal((await stored(th.db.sql, th.project.project_id)).filter((r) => r.name === 'herald_sdk_dropped').length, 1);
  });

test('an event Herald refuses is dropped alone, its batch delivered, and the refusal reported at the next send',
  { skip: skipWithoutChromium, timeout: 90_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const context = await browser.newContext();
    const page = await openSdkPage(context, th.url, th.project.sdk_key);
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 15_000, 'the installation to be sent');

    // Offline, so the three go in one batch; the middle one's attributes exceed Herald's 8 KiB.
    await context.setOffline(true);
    const first = await track(page, 'page_event', { n: 1 });
    await track(page, 'page_event', { n: 2, blob: 'x'.repeat(10_000) });
    const third = await track(page, 'page_event', { n: 3 });
    await context.setOffline(false);
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 30_000, 'the batch to be settled');
    // (The refusal's report may already ride with the third event's send, when the batch was split.)
    assert.deepEqual((await stored(th.db.sql, th.project.project_id)).filter((r) => r.name === 'page_event').map((r) => r.client_id).sort(),
      [first, third].sort());

    const fourth = await track(page, 'page_event', { n: 4 });
    const rows = await eventually(async () => {
      const r = await stored(th.db.sql, th.project.project_id);
      return r.filter((x) => x.name === 'page_event').length >= 3 && r.some((x) => x.name === 'herald_sdk_dropped') ? r : undefined;
    }, 15_000, 'the next send');
    assert.deepEqual(rows.filter((r) => r.name === 'page_event').map((r) => r.client_id).sort(), [first, third, fourth].sort());
    assert.deepEqual(rows.filter((r) => r.name === 'herald_sdk_dropped').map((r) => r.attributes), [{ count: 1, overflow: 0, rejected: 1 }]);
  });
