/**
 * The dashboard's analytics screens in headless Chromium against a Herald with its sandbox. Two
 * days of traffic are made through Herald's own paths: transactional emails to the sandbox's SMTP
 * server (one suppressed, one refused for its mailbox) and a push to an Android installation
 * through the sandbox's FCM, then the opens and clicks of the tracking links in the emails as
 * sent and the push's receipt and open reported as the SDK reports them; the clock
 * moves 26 hours and a second group is sent and opened. The overview must show exactly what the
 * API answered for the question it asked, by day and by hour, in the project's zone and in UTC,
 * per channel, over the last 7 days, the last 24 hours and a custom range; a transactional
 * group's view, reached from the overview, shows the group's; a range the API refuses shows the
 * refusal and no stale figure; an A/B campaign with a control group shows its engagement by
 * variant in its report. axe-core checks each screen, wide and narrow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Response } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { addSuppressions } from '../../src/store/email-suppressions.js';
import { eventually, startTestHerald, type TestHerald } from '../support/herald.js';
import { testClock } from '../support/clock.js';
import { launchChromium, skipWithoutChromium } from './browser.js';
import { accessible, createOwner, dashboardPage, screenshots } from './dashboard-support.js';

const html = '<p>Hello <a href="https://example.com/offer">the offer</a> or <a href="https://example.com/help">help</a></p>';
const reader = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/128.0';

/** A transactional send, waited for until each of its `deliveries` is made and none is queued. */
async function send(th: TestHerald, body: Record<string, unknown>, deliveries: number) {
  const r = await th.call('POST', '/v1/transactional/send', body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const id = r.body.message_id as string;
  await eventually(async () => {
    const rows = await th.db.sql<{ status: string }[]>`select status from deliveries where message_id = ${id}`;
    return rows.length === deliveries && !rows.some((d) => d.status === 'queued');
  }, 60_000, `message ${id} settled`);
}

/** The tracking links of the email the sandbox's SMTP server received for `address`, as Herald wrote them: its pixel and its two links. */
async function trackingLinks(th: TestHerald, address: string): Promise<{ pixel: string; links: string[] }> {
  const records = await (await fetch(`${th.herald.sandbox!.inspectionUrl}/_sandbox/deliveries?channel=email&target=${encodeURIComponent(address)}`)).json() as { body_base64: string }[];
  assert.equal(records.length, 1, `one email to ${address}`);
  const mail = String((await simpleParser(Buffer.from(records[0]!.body_base64, 'base64'))).html);
  const local = (m: RegExpMatchArray) => `${th.url}/r/${m[1]}`;
  const pixel = [...mail.matchAll(/<img[^>]*src="[^"]*\/r\/([A-Za-z0-9_.-]+)"/g)].map(local);
  const links = [...mail.matchAll(/<a[^>]*href="[^"]*\/r\/([A-Za-z0-9_.-]+)"/g)].map(local);
  assert.equal(pixel.length, 1, mail);
  assert.equal(links.length, 2, mail);
  return { pixel: pixel[0]!, links };
}

const hit = async (url: string) => {
  const r = await fetch(url, { redirect: 'manual', headers: { 'user-agent': reader } });
  assert.ok(r.status === 200 || r.status === 302, `${url}: ${r.status}`);
};

/** A bucket's bounds as the page states them: the wall clock of the answer's zone. */
function wall(zone: string, iso: string): string {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .formatToParts(Date.parse(iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

type Stats = { from: string; to: string; granularity: string; time_zone: string; totals: Record<string, any>; buckets: Record<string, any>[] };

test('the analytics overview shows the API\'s figures by day and hour, per zone, channel and range; a transactional group\'s view too; accessible',
  { skip: skipWithoutChromium, timeout: 240_000 }, async (t) => {
    const clock = testClock();
    const th = await startTestHerald({ overrides: { clock } });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    assert.equal((await th.call('PATCH', '/v1/project', { timezone: 'Europe/Paris' })).status, 200);
    const fault = await fetch(`${th.herald.sandbox!.inspectionUrl}/_sandbox/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'email', target_prefix: 'gone', status: 550 }),
    });
    assert.equal(fault.status, 201, await fault.text());
    await addSuppressions(th.db.sql, th.project.project_id, [{ address: 'blocked@example.com', reason: 'manual' }]);

    // The first day: "welcome" by email (sent twice, bounced once, skipped once) and by push (received, opened).
    // (Not by SMS: a carrier's receipt that comes before the send is recorded is never counted sent, docs/analytics.md.)
    const firstDay = clock.now();
    await send(th, { group_id: 'welcome', recipients: { emails: ['ann@example.com', 'bob@example.com', 'gone1@example.com', 'blocked@example.com'] },
      email: { subject: 'Welcome', html } }, 4);
    const sdk = (path: string, body: unknown) => th.call('POST', path, body, { authorization: `Bearer ${th.project.sdk_key}` });
    const installation = await sdk('/v1/sdk/installations', { install_id: 'ann-phone', platform: 'android', push_token: `fcm-ann:${randomBytes(20).toString('base64url')}` });
    assert.equal(installation.status, 200, JSON.stringify(installation.body));
    await send(th, { group_id: 'welcome', recipients: { install_ids: ['ann-phone'] }, push: { title: 'Welcome', body: 'Glad you are here' } }, 1);
    const [push] = await th.db.sql<{ id: string }[]>`select id from deliveries where install_id = 'ann-phone' and status = 'sent'`;
    const at = new Date(clock.now()).toISOString();
    const reported = await sdk('/v1/sdk/push-events', { install_id: 'ann-phone', events: [
      { id: 'r1', type: 'received', delivery_id: push!.id, time: at }, { id: 'o1', type: 'opened', delivery_id: push!.id, time: at }] });
    assert.equal(reported.status, 200, JSON.stringify(reported.body));
    const ann = await trackingLinks(th, 'ann@example.com');
    await hit(ann.pixel);
    await hit(ann.pixel);
    await hit(ann.links[0]!);
    await hit((await trackingLinks(th, 'bob@example.com')).links[1]!);

    // 26 hours later: "receipts" by email, one of them opened.
    clock.advance(26 * 3600_000);
    await send(th, { group_id: 'receipts', recipients: { emails: ['cat@example.com', 'dan@example.com'] }, email: { subject: 'Your receipt', html } }, 2);
    await hit((await trackingLinks(th, 'cat@example.com')).pixel);

    // The browser's clock is Herald's, so "the last 24 hours" means the same to both.
    const page = await dashboardPage(browser);
    await page.clock.setFixedTime(new Date(clock.now()));
    await createOwner(page, th.url);

    /** Runs `act`, and returns the stats answer the page got for it, once the page shows it. */
    const answered = async (path: string, act: () => Promise<unknown>): Promise<Stats> => {
      const [res] = await Promise.all([
        page.waitForResponse((r: Response) => r.url().includes(path) && r.request().method() === 'GET'),
        act(),
      ]);
      assert.equal(res.status(), 200, await res.text());
      const body = await res.json() as Stats;
      await page.getByRole('status').filter({ hasText: `From ${wall(body.time_zone, body.from)} to ${wall(body.time_zone, body.to)} in ${body.time_zone}, by ${body.granularity}` }).waitFor();
      // What the page got is what the API answers the same question with a REST key.
      const q = new URL(res.url()).search;
      assert.deepEqual((await th.call('GET', `${path}${q}`)).body, body, `the API answers ${path}${q} the same`);
      return body;
    };
    const figure = (label: string) => page.locator(`xpath=//dl[@aria-label="Figures"]//dt[normalize-space()="${label}"]/following-sibling::dd[1]`).textContent();
    const percent = (r: number | null) => (r === null ? '—' : `${(r * 100).toFixed(1)} %`);
    const shows = async (totals: Record<string, any>) => {
      const labels: [string, string][] = [['Sent', 'sent'], ['Delivered', 'delivered'], ['Failed', 'failed'], ['Skipped', 'skipped'],
        ['Bounces', 'bounces'], ['Complaints', 'complaints'], ['Unsubscribes', 'unsubscribes'], ['Unique opens', 'opens_unique'],
        ['Total opens', 'opens_total'], ['Unique clicks', 'clicks_unique'], ['Total clicks', 'clicks_total']];
      for (const [label, key] of labels) assert.equal(await figure(label), String(totals[key]), label);
      for (const [label, key] of [['Open rate', 'open_rate'], ['Click rate', 'click_rate'], ['Click-to-open rate', 'click_to_open_rate']]) {
        assert.equal(await figure(label!), percent(totals[key!]), label);
      }
    };
    /** The rows of a figures table: each bucket's (or channel's) label and its Sent. */
    const rows = async (caption: string) => page.locator('table', { has: page.locator('caption', { hasText: caption }) }).locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th')!.textContent, tr.querySelectorAll('td')[0]!.textContent]));
    /** The API's buckets summed per label (its buckets are per channel), as the table shows them. */
    const perBucket = (s: Stats, channel?: string) => {
      const sums = new Map<string, number>();
      for (const b of s.buckets) if (channel === undefined || b.channel === channel) sums.set(b.local, (sums.get(b.local) ?? 0) + b.sent);
      return [...sums].sort().map(([l, n]) => [l.replace('T', ' '), String(n)]);
    };
    const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true }).click();

    // The overview: the last 7 days by day, in the project's zone.
    const week = await answered('/v1/stats/project', () => nav('Analytics'));
    assert.equal(week.time_zone, 'Europe/Paris');
    assert.deepEqual([week.totals.sent, week.totals.delivered, week.totals.failed, week.totals.skipped, week.totals.bounces],
      [5, 1, 1, 1, 1], 'four emails and a push sent, the push received, one bounced, one suppressed');
    assert.deepEqual([week.totals.opens_unique, week.totals.opens_total, week.totals.clicks_unique, week.totals.clicks_total], [3, 4, 2, 2]);
    assert.deepEqual(week.totals.skipped_by_reason, { 'suppressed: manual': 1 });
    await shows(week.totals);
    await page.getByRole('list', { name: 'Skipped, by reason' }).getByText('suppressed: manual').waitFor();
    assert.deepEqual(await rows('Figures by day'), perBucket(week));
    assert.ok((await rows('Figures by day')).length >= 2, 'two days with traffic');
    assert.deepEqual(await rows('Figures by channel'), [['email', '4'], ['fcm', '1']]);
    await page.getByRole('img', { name: /^Sent by day: 5 in all over [78] buckets$/ }).waitFor();
    await accessible(page, 'analytics');
    await shot(page, 'analytics');

    // By hour: a row per hour with traffic, in Paris's wall clock.
    const hours = await answered('/v1/stats/project', () => page.getByLabel('Group by', { exact: true }).selectOption('hour'));
    assert.equal(hours.granularity, 'hour');
    assert.deepEqual(await rows('Figures by hour'), perBucket(hours));
    assert.deepEqual(hours.totals, week.totals, 'the same week, cut otherwise');
    await page.getByRole('img', { name: /^Sent by hour: 5 in all over 168 buckets$/ }).waitFor();

    // In UTC: the same hours, labelled an hour earlier (Paris is UTC+1 in winter).
    const utc = await answered('/v1/stats/project', () => page.getByLabel('Time zone', { exact: true }).selectOption('UTC'));
    assert.equal(utc.time_zone, 'UTC');
    assert.deepEqual(await rows('Figures by hour'), perBucket(utc));
    assert.deepEqual(utc.buckets.map((b) => b.start), hours.buckets.map((b) => b.start));
    assert.notDeepEqual(perBucket(utc), perBucket(hours));

    // The last 24 hours: the second day's group only.
    const day = await answered('/v1/stats/project', () => page.getByLabel('Range', { exact: true }).selectOption('24h'));
    assert.equal(Date.parse(day.to) - Date.parse(day.from), 24 * 3600_000);
    assert.deepEqual([day.totals.sent, day.totals.opens_unique, day.totals.skipped], [2, 1, 0]);
    await shows(day.totals);
    assert.deepEqual(await rows('Figures by hour'), perBucket(day));
    await page.getByText('None skipped in this range.').waitFor();

    // One channel: the week's push, summed from the API's buckets of that channel.
    await answered('/v1/stats/project', () => page.getByLabel('Range', { exact: true }).selectOption('7d'));
    await page.getByLabel('Channel', { exact: true }).selectOption('fcm');
    await page.getByRole('status').filter({ hasText: 'fcm only' }).waitFor();
    assert.deepEqual([await figure('Sent'), await figure('Delivered'), await figure('Delivery rate'), await figure('Open rate')], ['1', '1', '100.0 %', '100.0 %']);
    assert.deepEqual(await rows('Figures by hour'), perBucket(utc, 'fcm'));
    await page.getByLabel('Channel', { exact: true }).selectOption('*');

    // A custom range around the first day's sends only (typed in the browser's zone).
    const local = (ms: number) => page.evaluate((m) => new Date(m - new Date(m).getTimezoneOffset() * 60_000).toISOString().slice(0, 16), ms);
    await page.getByLabel('Range', { exact: true }).selectOption('custom');
    await page.getByLabel('From', { exact: true }).fill(await local(firstDay - 3600_000));
    await page.getByLabel('To', { exact: true }).fill(await local(firstDay + 3 * 3600_000));
    const custom = await answered('/v1/stats/project', () => page.getByRole('button', { name: 'Show this range' }).click());
    assert.deepEqual([custom.totals.sent, custom.totals.opens_unique, custom.totals.clicks_unique], [3, 2, 2], 'ann, bob and the push');
    await shows(custom.totals);

    // A range the API refuses (40 days by hour): the refusal is shown, and no figure of the range before.
    await page.getByLabel('From', { exact: true }).fill(await local(firstDay - 40 * 24 * 3600_000));
    const [refused] = await Promise.all([
      page.waitForResponse((r: Response) => r.url().includes('/v1/stats/project')),
      page.getByRole('button', { name: 'Show this range' }).click(),
    ]);
    assert.equal(refused.status(), 400);
    await page.getByRole('alert').getByText('invalid_field').waitFor();
    assert.equal(await page.locator('dl[aria-label="Figures"]').count(), 0);

    // A transactional group's view, from the overview's list of recent groups.
    const group = await answered('/v1/stats/transactional/welcome',
      () => page.getByRole('list', { name: 'Recent transactional groups' }).getByRole('link', { name: 'welcome' }).click());
    await page.getByRole('heading', { name: 'Transactional group welcome' }).waitFor();
    assert.deepEqual([group.totals.sent, group.totals.failed, group.totals.skipped, group.totals.bounces, group.totals.opens_unique], [3, 1, 1, 1, 2]);
    await shows(group.totals);
    assert.deepEqual(await rows('Figures by channel'), [['email', '2'], ['fcm', '1']]);
    await accessible(page, 'analytics-group');
    await shot(page, 'analytics-group');

    // A group typed by its id; one with no traffic says why its chart is empty.
    await page.getByRole('link', { name: 'All analytics' }).click();
    await page.getByLabel('Group id').fill('nothing-yet');
    const none = await answered('/v1/stats/transactional/nothing-yet', () => page.getByRole('button', { name: 'Open group' }).click());
    await page.getByRole('heading', { name: 'Transactional group nothing-yet' }).waitFor();
    assert.deepEqual(none.buckets, []);
    await page.getByText(/^Nothing was recorded in this range/).waitFor();
    assert.equal(await figure('Open rate'), '—');

    // An A/B campaign with a control group: its report's engagement is the same panel, by variant too.
    // Each recipient is drawn into the control group with p = 0.2: with 12 of them none was, one
    // run in 14 (0.8^12); with 50, one run in 70,000.
    const people = Array.from({ length: 50 }, (_, i) => `p${i}`);
    for (const p of people) assert.ok((await th.call('PUT', `/v1/profiles/${p}`, { email: `${p}@example.com` })).status < 300);
    const created = await th.call('POST', '/v1/campaigns', {
      name: 'Spring test', when: { type: 'now' }, targeting: {}, channels: ['email'], start: true, control_percent: 20,
      variants: [{ name: 'Short', percent: 40, content: { email: { subject: 'Spring', text: 'Soon.' } } },
        { name: 'Long', percent: 40, content: { email: { subject: 'Spring is coming', text: 'It is coming soon.' } } }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const campaignId = created.body.id as string;
    await eventually(async () => (await th.call('GET', `/v1/campaigns/${campaignId}`)).body.state === 'finished', 120_000, 'the campaign finished');
    const report = await answered(`/v1/stats/campaigns/${campaignId}`, () => page.evaluate((id) => { (globalThis as any).location.hash = `#/campaigns/${id}`; }, campaignId));
    await page.getByRole('heading', { name: 'Spring test' }).waitFor();
    assert.equal(report.totals.sent + report.totals.skipped, people.length, 'every recipient sent or held out');
    await shows(report.totals);
    const names: Record<string, string> = { 0: 'Short', 1: 'Long', control: 'control group' };
    const variants = (report as unknown as { variants: { variant: string; sent: number; skipped: number }[] }).variants;
    assert.ok(variants.some((v) => v.variant === 'control'), 'a control group was held out');
    assert.deepEqual(await page.getByRole('region', { name: 'Figures by variant' }).locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th')!.textContent, tr.querySelectorAll('td')[0]!.textContent, tr.querySelectorAll('td')[3]!.textContent])),
    variants.map((v) => [names[v.variant], String(v.sent), String(v.skipped)]));
    await page.getByRole('list', { name: 'Skipped, by reason' }).getByText('control').waitFor();
    await accessible(page, 'campaign report, A/B');

    // A narrow window.
    await page.setViewportSize({ width: 390, height: 800 });
    await nav('Analytics');
    await page.getByRole('status').waitFor();
    await accessible(page, 'analytics, narrow');
  });
