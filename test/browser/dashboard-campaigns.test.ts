/**
 * The dashboard's campaign, capping, webhook and export screens in headless Chromium against a
 * Herald with its sandbox: a webhook endpoint created (its secret shown once, then rotated), a
 * capping rule created and edited, quiet hours set and removed, a segment saved, a campaign over it
 * written in the editor and started, its report showing the ledger's counts as they come (the
 * messages linking to their trace), the endpoint's delivery log showing what the campaign's events
 * did, a second campaign edited and taken through start, pause, resume and stop, and an export of the campaign's recipients followed to its end and downloaded. axe-core
 * checks every new screen, and Tab reaches each screen's controls by their labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startTestHerald } from '../support/herald.js';
import type { Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from './browser.js';
import { accessible, createOwner, dashboardPage, screenshots } from './dashboard-support.js';

/** A webhook receiver on loopback: answers 204, keeps each event's type. */
async function receiver(): Promise<{ url: string; types: string[]; close(): Promise<void> }> {
  const types: string[] = [];
  const read = async (req: IncomingMessage) => { let s = ''; for await (const c of req) s += c; return s; };
  const srv = createServer((req, res) => {
    void read(req).then((body) => {
      try { types.push((JSON.parse(body) as { type: string }).type); } catch { types.push('unreadable'); }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, types,
    close: () => new Promise((resolve) => { srv.closeAllConnections(); srv.close(() => resolve()); }),
  };
}

/** The names of the controls Tab reaches in <main>, in order, from the skip link (at most `max` presses). */
async function tabStops(page: Page, max = 80): Promise<string[]> {
  await page.getByRole('link', { name: 'Skip to content' }).focus();
  await page.keyboard.press('Enter');
  const names: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const name = await page.evaluate(() => {
      const el = (globalThis as any).document.activeElement;
      if (!el || !el.closest('main') || el.tagName === 'MAIN') return null;
      return String(el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent ?? '').trim();
    });
    if (name === null) break;
    names.push(name);
  }
  return names;
}

test('the dashboard: a webhook endpoint, a capping rule, a segment\'s campaign started and reported, its export downloaded; accessible on every screen',
  { skip: skipWithoutChromium, timeout: 240_000 }, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-dashboard-campaigns-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const hooks = await receiver();
    t.after(() => hooks.close());
    const th = await startTestHerald({ env: { HERALD_DATA_DIR: dataDir, HERALD_ALLOW_PRIVATE_NETWORKS: 'true' } });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    const projectId = th.project.project_id;
    const gold = ['ada', 'bea', 'cy'];
    await th.db.sql`insert into profiles (project_id, custom_id, email, attributes)
      select ${projectId}, u.id, u.id || '@example.com', u.attributes from unnest(${[...gold, 'dan', 'eve']}::text[],
        ${[...gold.map((g) => JSON.stringify({ tier: 'gold', first_name: g.toUpperCase() })), '{"tier": "silver"}', '{}']}::text[]::jsonb[]) as u(id, attributes)`;

    const page = await dashboardPage(browser);
    await createOwner(page, th.url);
    const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true }).click();
    /** The value a facts list (<dl>) shows beside `term`. */
    const fact = (term: string) => page.getByText(term, { exact: true }).locator('xpath=following-sibling::dd[1]').first().textContent();

    // Webhooks: an endpoint for two event types; its secret shown once, then rotated.
    await nav('Webhooks');
    await page.getByLabel('Endpoint URL').fill(hooks.url);
    await page.getByLabel('message.sent', { exact: true }).check();
    await page.getByLabel('message.delivered', { exact: true }).check();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const secret = await page.getByLabel('The signing secret').textContent();
    assert.match(secret ?? '', /^whsec_/);
    const [endpoint] = await th.db.sql<{ event_types: string[] }[]>`select event_types from webhook_endpoints where project_id = ${projectId}`;
    assert.deepEqual(endpoint?.event_types, ['message.delivered', 'message.sent']);
    assert.ok(!(await page.getByRole('row', { name: new RegExp(hooks.url) }).textContent())?.includes(secret!), 'the list never shows the secret');
    await page.getByRole('button', { name: `Rotate secret of ${hooks.url}` }).click();
    await page.getByText(/keeps signing until/).waitFor();
    const rotated = await page.getByLabel('The signing secret').textContent();
    assert.match(rotated ?? '', /^whsec_/);
    assert.notEqual(rotated, secret);
    await accessible(page, 'webhooks');
    await shot(page, 'webhooks');

    // Capping: a rule created, then edited; quiet hours set, then removed (the campaign below sends at any hour).
    await nav('Capping and quiet hours');
    await page.getByRole('button', { name: 'New capping rule' }).click();
    await page.getByLabel('Rule name').fill('Three a week');
    await page.getByLabel('Counts', { exact: true }).selectOption('marketing');
    await page.getByLabel('At most (messages)').fill('3');
    await page.getByLabel('Per window of').fill('7');
    await page.getByLabel('Over the cap').selectOption('defer');
    await page.getByLabel('Defer at most (minutes)').fill('120');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.getByText('Rule Three a week created.').waitFor();
    await page.getByRole('cell', { name: '3 per 7 days' }).waitFor();
    await page.getByRole('button', { name: 'Edit Three a week' }).click();
    await page.getByLabel('Rule name').fill('Five a week');
    await page.getByLabel('At most (messages)').fill('5');
    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.getByRole('cell', { name: '5 per 7 days' }).waitFor();
    const rules = await th.db.sql<{ name: string; max_sends: number; action: string; max_delay_minutes: number }[]>`
      select name, max_sends, action, max_delay_minutes from capping_rules where project_id = ${projectId}`;
    assert.deepEqual(rules.map((r) => ({ ...r })), [{ name: 'Five a week', max_sends: 5, action: 'defer', max_delay_minutes: 120 }]);
    await page.getByLabel('Quiet from').fill('22:00');
    await page.getByLabel('Quiet until').fill('07:30');
    await page.getByRole('button', { name: 'Save quiet hours' }).click();
    await page.getByText('From 22:00 to 07:30').waitFor();
    const cappingStops = await tabStops(page);
    for (const name of ['New capping rule', 'Edit Five a week', 'Delete Five a week', 'Quiet from', 'Quiet until', 'Save quiet hours']) {
      assert.ok(cappingStops.includes(name), `Tab reaches ${name}: ${cappingStops.join(' | ')}`);
    }
    await accessible(page, 'capping');
    await shot(page, 'capping');
    await page.getByRole('button', { name: 'Remove quiet hours' }).click();
    await page.getByText('None: marketing may go out at any hour.').waitFor();

    // A segment, then a campaign over it: written in the editor, started.
    await nav('Segments');
    await page.getByRole('button', { name: 'JSON view' }).click();
    await page.getByLabel('Targeting query (JSON)').fill('{"attribute": "tier", "eq": "gold"}');
    await page.getByLabel('Segment name').fill('Gold members');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('cell', { name: 'Gold members' }).waitFor();
    await nav('Campaigns');
    await page.getByText('No campaign in this project.').waitFor();
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { name: 'New campaign' }).waitFor();
    await page.getByLabel('Name').fill('Winter sale');
    await page.getByLabel('Targeting').selectOption('segment');
    await page.getByLabel('Segment', { exact: true }).selectOption({ label: 'Gold members' });
    await page.getByLabel('push', { exact: true }).uncheck();
    await page.getByLabel('email', { exact: true }).check();
    await page.getByLabel('Email subject').fill('Hi {{ first_name | default: "there" }}');
    await page.getByLabel('Email text').fill('The winter sale starts today.');
    await page.getByLabel('Labels').fill('sale, winter');
    const editorStops = await tabStops(page);
    for (const name of ['Name', 'Targeting', 'Segment', 'push', 'email', 'sms', 'Variants', 'Email subject', 'Email text', 'Schedule', 'Labels', 'Save draft', 'Save and start']) {
      assert.ok(editorStops.includes(name), `Tab reaches ${name}: ${editorStops.join(' | ')}`);
    }
    await accessible(page, 'campaign-editor');
    await shot(page, 'campaign-editor');
    await page.getByRole('button', { name: 'Save and start' }).click();
    await page.getByRole('heading', { name: 'Winter sale' }).waitFor();

    // The report: the counts refresh by themselves until every recipient is delivered.
    await eventually(async () => (await fact('delivered')) === '3', 60_000, 'the report shows 3 delivered');
    assert.equal(await fact('targeted'), '3');
    assert.equal(await fact('failed'), '0');
    const [ledger] = await th.db.sql<{ n: number }[]>`select count(*)::int as n from campaign_recipients r join campaigns c on c.id = r.campaign_id
      where c.project_id = ${projectId} and r.outcome = 'delivered'`;
    assert.equal(ledger?.n, 3, 'the ledger agrees');
    await eventually(async () => (await fact('State'))?.trim() === 'finished', 60_000, 'the campaign finished');
    assert.equal(await page.getByRole('button', { name: 'Pause' }).count(), 0, 'a finished campaign cannot be paused');
    // Its engagement: the analytics panel over the campaign's stats, read again with the report.
    const campaignId = new URL(page.url()).hash.split('/')[2]!;
    const engagement = (label: string) => page.locator(`xpath=//dl[@aria-label="Figures"]//dt[normalize-space()="${label}"]/following-sibling::dd[1]`).textContent();
    const stats = await eventually(async () => {
      const r = await th.call('GET', `/v1/stats/campaigns/${campaignId}?granularity=day`);
      return r.body.totals?.sent === 3 ? r.body : undefined;
    }, 20_000, 'the campaign\'s stats count 3 sent');
    await eventually(async () => (await engagement('Sent')) === '3', 20_000, 'the report shows the 3 sent');
    assert.equal(await engagement('Failed'), String(stats.totals.failed));
    assert.equal(await engagement('Open rate'), '0.0 %', 'a text-only email has no pixel');
    assert.deepEqual(await page.getByRole('region', { name: 'Figures by channel' }).locator('tbody th').allTextContents(), ['email']);
    const trace = page.getByRole('link', { name: /^Trace of message / }).first();
    await trace.waitFor();
    const reportStops = await tabStops(page);
    assert.ok(await page.getByRole('button', { name: 'Retry failed (0)' }).isDisabled(), 'nothing to retry');
    for (const name of ['Refresh', 'Export recipients (CSV)']) assert.ok(reportStops.includes(name), `Tab reaches ${name}: ${reportStops.join(' | ')}`);
    assert.equal(reportStops.filter((n) => n.startsWith('Trace of message ')).length, 3, 'Tab reaches each message\'s trace');
    await accessible(page, 'campaign-report');
    await shot(page, 'campaign-report');
    await trace.click();
    await page.getByRole('heading', { name: 'Message' }).waitFor();
    // Each recipient's subject differs (first_name), so each has a message of its own.
    await eventually(async () => /^1: 1 (sent|delivered)$/.test((await fact('Deliveries')) ?? ''), 10_000, 'the trace shows its delivery');
    await nav('Campaigns');
    await page.getByRole('link', { name: 'Winter sale' }).waitFor();
    await page.getByLabel('State').selectOption('draft');
    await page.getByText('No campaign draft in this project.').waitFor();
    await page.getByLabel('State').selectOption('');
    await page.getByRole('link', { name: 'Winter sale' }).waitFor();
    await accessible(page, 'campaigns');
    await shot(page, 'campaigns');

    // A draft scheduled for tomorrow: edited, started, paused, resumed and stopped from its report.
    const localIn = (ms: number) => page.evaluate((m) => {
      const d = new Date(Date.now() + m);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    }, ms);
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByLabel('Name').fill('Spring teaser');
    await page.getByLabel('Push title').fill('Spring is coming');
    await page.getByLabel('Push body').fill('{{ first_name | default: "Hello" }}, see what is new.');
    await page.getByLabel('Schedule').selectOption('at');
    await page.getByLabel('Send at').fill(await localIn(86_400_000));
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Spring teaser' }).waitFor();
    assert.equal((await fact('State'))?.trim(), 'draft');
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit campaign' }).waitFor();
    assert.equal(await page.getByLabel('Push title').inputValue(), 'Spring is coming', 'the editor shows what is stored');
    await page.getByLabel('Name').fill('Spring preview');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('heading', { name: 'Spring preview' }).waitFor();
    const lifecycle: [string, string][] = [['Start', 'scheduled'], ['Pause', 'paused'], ['Resume', 'running'], ['Stop', 'stopped']];
    for (const [button, state] of lifecycle) {
      await page.getByRole('button', { name: button, exact: true }).click();
      await eventually(async () => (await fact('State'))?.trim() === state, 10_000, `${button}: ${state}`);
    }
    const [stopped] = await th.db.sql<{ name: string; state: string }[]>`select name, state from campaigns where project_id = ${projectId} and name like 'Spring%'`;
    assert.deepEqual({ ...stopped }, { name: 'Spring preview', state: 'stopped' });
    assert.equal(await page.getByRole('button', { name: 'Resume' }).count(), 0, 'a stopped campaign is not resumed');

    // The endpoint's delivery log: the campaign's events reached the receiver, answered 204.
    await eventually(async () => hooks.types.length >= 3, 60_000, 'the receiver got the campaign\'s events');
    await nav('Webhooks');
    await page.getByRole('button', { name: `Delivery log of ${hooks.url}` }).click();
    await page.getByRole('heading', { name: `Delivery log of ${hooks.url}` }).waitFor();
    const rows = page.getByRole('table', { name: 'Attempts, newest first' }).getByRole('row', { name: /message\.(sent|delivered)/ });
    await eventually(async () => {
      await page.getByRole('button', { name: 'Refresh the log' }).click();
      return (await rows.count()) >= 3;
    }, 30_000, 'the log shows the attempts');
    await rows.first().getByRole('cell', { name: '204', exact: true }).waitFor();
    assert.match(await rows.first().textContent() ?? '', /\d+ ms/);
    const since = await page.evaluate(() => {
      const d = new Date(Date.now() - 3_600_000);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    });
    await page.getByLabel('Since').fill(since);
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByText(/^0 event\(s\) queued again\./).waitFor();
    await accessible(page, 'webhook-log');
    await shot(page, 'webhook-log');

    // An export of the campaign's recipients, followed to its end and downloaded through its link.
    await nav('Exports');
    await page.getByText('No export yet.').waitFor();
    await page.getByLabel('Export', { exact: true }).selectOption('campaign_recipients');
    await page.getByLabel('Campaign').selectOption({ label: 'Winter sale' });
    await page.getByRole('button', { name: 'Start export' }).click();
    const download = page.getByRole('link', { name: 'Download' });
    await download.waitFor({ timeout: 60_000 });
    assert.match(await page.getByRole('row', { name: /campaign_recipients/ }).textContent() ?? '', /done.*3 of 3 rows/);
    const exportStops = await tabStops(page);
    for (const name of ['Download', 'Export', 'Format', 'Start export']) assert.ok(exportStops.includes(name), `Tab reaches ${name}: ${exportStops.join(' | ')}`);
    await accessible(page, 'exports');
    await shot(page, 'exports');
    const href = await download.getAttribute('href');
    assert.match(href ?? '', /^\/v1\/exports\/[0-9a-f-]{36}\/file\?expires=\d+&signature=/);
    const csv = await page.evaluate(async (h) => (await fetch(h!)).text(), href);
    const lines = csv.trim().split(/\r?\n/);
    assert.equal(lines.length, 4, csv);
    for (const g of gold) assert.ok(lines.some((l) => l.includes(g)), `${g} in ${csv}`);
  });
