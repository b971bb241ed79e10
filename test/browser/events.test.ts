/**
 * The Web SDK's events reach Herald exactly once, through a real Chromium: tracked from two tabs at
 * once, and across a 30-second outage of Herald with a reload in the middle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { Sql } from 'postgres';
import { loadConfig } from '../../src/config.js';
import { startHerald } from '../../src/server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { sdkAssetRoutes } from '../../src/api/routes/sdk-assets.js';
import { ErrorBody } from '../../src/api/schemas.js';
import { eventually, startTestHerald } from '../support/herald.js';
import { testMasterKey } from '../support/keyring.js';
import { gotoSdkPage, launchChromium, openSdkPage, pending, skipWithoutChromium, track } from './browser.js';

async function storedEvents(sql: Sql, projectId: string) {
  return sql<{ client_id: string; name: string; attributes: Record<string, unknown> }[]>`
    select client_id, name, attributes from events where project_id = ${projectId} and name = 'page_event'`;
}

test('events tracked in two tabs at once arrive exactly once, with their ids and attributes',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const context = await browser.newContext();

    const tabs = [await openSdkPage(context, th.url, th.project.sdk_key), await openSdkPage(context, th.url, th.project.sdk_key)];
    // Both tabs write to one outbox and send under one lock, while each keeps tracking.
    const perTab = 40;
    const ids = (await Promise.all(tabs.map((tab, i) =>
      Promise.all(Array.from({ length: perTab }, (_, n) => track(tab, 'page_event', { tab: i, n })))))).flat();
    assert.equal(new Set(ids).size, 2 * perTab);

    const rows = await eventually(async () => {
      const r = await storedEvents(th.db.sql, th.project.project_id);
      return r.length >= ids.length ? r : undefined;
    }, 30_000, 'the tracked events in PostgreSQL');
    // Nothing after the last one: whatever the tabs still hold is drained, and nothing more arrived.
    await eventually(async () => ((await pending(tabs[0]!)) === 0 ? true : undefined), 30_000, 'an empty outbox');
    const after = await storedEvents(th.db.sql, th.project.project_id);
    assert.equal(after.length, ids.length, 'each event stored once');
    assert.deepEqual(new Set(rows.map((r) => r.client_id)), new Set(ids));
    const attrs = new Set(after.map((r) => `${r.attributes.tab}/${r.attributes.n}`));
    assert.equal(attrs.size, ids.length, 'each (tab, n) pair once');
  });

test('with Herald stopped for 30 s while the page keeps tracking and reloads once, every event arrives exactly once',
  { skip: skipWithoutChromium, timeout: 240_000 }, async (t) => {
    // The restarted Herald needs the same master key (events touch no sealed rows, but a Herald
    // without its key refuses to start).
    const masterKey = testMasterKey().text;
    const th = await startTestHerald({ sandbox: false, env: { HERALD_MASTER_KEY: masterKey } });
    let herald = th.herald;
    t.after(async () => {
      await herald.close();
      await th.db.close();
    });
    const heraldPort = new URL(th.url).port;

    // The site: another origin serving the SDK, so the page can be reloaded while Herald is down.
    const site = Fastify();
    // The Error shape the routes' error responses refer to, as buildApp adds it.
    site.addSchema(ErrorBody);
    await site.register(sdkAssetRoutes());
    const siteUrl = await site.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => site.close());

    const browser = await launchChromium();
    t.after(() => browser.close());
    const context = await browser.newContext();
    // A short cap keeps the wait after Herald returns short; the backoff itself is the SDK's.
    const params = { endpoint: th.url, retryCapMs: '3000' };
    const page = await openSdkPage(context, siteUrl, th.project.sdk_key, params);

    const ids: string[] = [];
    ids.push(await track(page, 'page_event', { phase: 'before' }));
    await eventually(async () => ((await storedEvents(th.db.sql, th.project.project_id)).length === 1 ? true : undefined),
      30_000, 'the first event');

    await herald.close();
    const outageMs = 30_000;
    const stoppedAt = Date.now();
    let reloaded = false;
    while (Date.now() - stoppedAt < outageMs) {
      ids.push(await track(page, 'page_event', { phase: 'outage', n: ids.length }));
      if (!reloaded && Date.now() - stoppedAt > outageMs / 2) {
        reloaded = true;
        await gotoSdkPage(page, siteUrl, th.project.sdk_key, params);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(reloaded);
    // Nothing got through while Herald was away, and the reload lost nothing.
    assert.equal(await pending(page), ids.length - 1);
    assert.equal((await storedEvents(th.db.sql, th.project.project_id)).length, 1);

    herald = await startHerald(loadConfig({}, {
      DATABASE_URL: th.db.url, HERALD_PORT: heraldPort, HERALD_SANDBOX: 'false', HERALD_DATA_DIR: '/nonexistent-herald-test-dir',
      HERALD_MASTER_KEY: masterKey,
    }), silentLogger());
    ids.push(await track(page, 'page_event', { phase: 'after' }));

    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 60_000, 'the outbox to drain');
    const rows = await storedEvents(th.db.sql, th.project.project_id);
    assert.equal(rows.length, ids.length, 'each event stored once');
    assert.deepEqual(new Set(rows.map((r) => r.client_id)), new Set(ids));
  });
