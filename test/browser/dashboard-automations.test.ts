/**
 * The dashboard's automation, inbox and system health screens in headless Chromium against a
 * Herald with its sandbox: an automation written in the structured editor (a refused template
 * shown beside its field, steps added, moved and removed, the JSON view), started, entered through
 * the API, its flow's counts moving; a new version and the old one's counts; stopped; a profile's inbox
 * showing two delivered inbox pushes, one marked read dropping the unread count; the health screen
 * showing the queue; with NATS stopped, the health screen showing the instance degraded and the
 * backlog waiting in the outbox, drained once NATS is back. axe-core checks every screen, and Tab
 * reaches the editor's controls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { eventually, startTestHerald } from '../support/herald.js';
import { createPostgresQueue } from '../../src/queue/postgres/queue.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from '../support/process.js';
import { natsServerInstalled, privateNats } from '../support/jetstream/nats.js';
import { launchChromium, skipWithoutChromium } from './browser.js';
import { accessible, createOwner, dashboardPage, screenshots } from './dashboard-support.js';

/** The names of the controls Tab reaches in <main>, in order, from the skip link. */
async function tabStops(page: Page, max = 120): Promise<string[]> {
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

test('the dashboard: an automation written, started and entered, its counts moving; a profile\'s inbox marked read; the system health; accessible on every screen',
  { skip: skipWithoutChromium, timeout: 240_000 }, async (t) => {
    const th = await startTestHerald();
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    const made = await th.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: 'ada' }, attributes: { $email: 'ada@example.com', first_name: 'Ada' } }]);
    assert.equal(made.status, 200, JSON.stringify(made.body));

    const page = await dashboardPage(browser);
    await createOwner(page, th.url);
    const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true }).click();
    const fact = (term: string) => page.getByText(term, { exact: true }).locator('xpath=following-sibling::dd[1]').first().textContent();
    const legends = () => page.locator('ol.flow > li > fieldset > legend').allTextContents();

    // The editor: a template that does not parse is refused, and the reason shows beside its field.
    await nav('Automations');
    await page.getByText('No automation in this project.').waitFor();
    await page.getByRole('link', { name: 'New automation' }).click();
    await page.getByRole('heading', { name: 'New automation' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Welcome journey');
    await page.getByLabel('Trigger', { exact: true }).selectOption('api');
    await page.getByLabel('Step 1: email subject').fill('Welcome {{ first_name ');
    await page.getByLabel('Step 1: email text').fill('Glad you are here.');
    await page.getByLabel('New step kind').selectOption('wait');
    await page.getByRole('button', { name: 'Add step' }).click();
    await page.getByLabel('Step 2: wait: days').fill('2');
    // An exit step added, moved up, back down, then removed.
    await page.getByLabel('New step kind').selectOption('exit');
    await page.getByRole('button', { name: 'Add step' }).click();
    assert.deepEqual(await legends(), ['Step 1: Send a message', 'Step 2: Wait', 'Step 3: Exit']);
    await page.getByRole('button', { name: 'Move step 3 (exit-1) up' }).click();
    assert.deepEqual(await legends(), ['Step 1: Send a message', 'Step 2: Exit', 'Step 3: Wait']);
    assert.equal(await page.getByLabel('Step 3: wait: days').inputValue(), '2', 'a moved step keeps its fields');
    await page.getByRole('button', { name: 'Move step 2 (exit-1) down' }).click();
    await page.getByRole('button', { name: 'Remove step 3 (exit-1)' }).click();
    assert.deepEqual(await legends(), ['Step 1: Send a message', 'Step 2: Wait']);
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('alert').filter({ hasText: 'invalid_template' }).waitFor();
    const subject = page.getByLabel('Step 1: email subject');
    assert.equal(await subject.getAttribute('aria-invalid'), 'true');
    const described = await subject.getAttribute('aria-describedby');
    assert.match(await page.locator(`[id="${described!.split(' ').pop()}"]`).textContent() ?? '', /^Refused: /, 'the reason is beside the field');
    assert.equal((await th.db.sql`select 1 from automations`).length, 0, 'nothing stored');
    await accessible(page, 'automation-editor, refused');
    await shot(page, 'automation-refused');
    await subject.fill('Welcome, {{ first_name | default: "there" }}');
    assert.equal(await subject.getAttribute('aria-invalid'), null, 'a changed field no longer shows the old reason');
    // The JSON view shows the same definition, and goes back to the form.
    await page.getByRole('button', { name: 'Edit as JSON' }).click();
    const definition = JSON.parse(await page.getByLabel('Definition (JSON)').inputValue());
    assert.deepEqual(definition.steps.map((s: { id: string; type: string }) => [s.id, s.type]), [['send-1', 'send'], ['wait-1', 'wait']]);
    assert.deepEqual(definition.steps[1].duration, { days: 2 });
    await page.getByRole('button', { name: 'Back to the form' }).click();
    const stops = await tabStops(page);
    for (const name of ['Name', 'Edit as JSON', 'Trigger', 'Audience (a targeting query, JSON, optional)', 'Step 1 id', 'Step 1 kind', 'Step 1: email',
      'Step 1: email subject', 'Step 1: email text', 'Step 1: then', 'Move step 2 (wait-1) up', 'Step 2: wait for', 'Step 2: wait: days', 'New step kind', 'Add step', 'Save draft', 'Save and start']) {
      assert.ok(stops.includes(name), `Tab reaches ${name}: ${stops.join(' | ')}`);
    }
    await accessible(page, 'automation-editor');
    await shot(page, 'automation-editor');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Welcome journey' }).waitFor();
    assert.equal((await fact('State'))?.trim(), 'draft');
    const automationId = new URL(page.url()).hash.split('/')[2]!;

    // Started from its screen, entered through the API: the flow's counts move by themselves.
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await eventually(async () => (await fact('State'))?.trim() === 'live', 10_000, 'live');
    const entry = await th.call('POST', `/v1/automations/${automationId}/entries`, { custom_id: 'ada' });
    assert.equal(entry.status, 200, JSON.stringify(entry.body));
    assert.equal(entry.body.entered, true);
    const step = (id: string, figure: string) => page.getByRole('listitem', { name: new RegExp(id) })
      .locator(`xpath=.//dl[@class="step-counts"]//dt[normalize-space()="${figure}"]/following-sibling::dd[1]`).textContent();
    await eventually(async () => (await step('send-1', 'sent')) === '1' && (await step('wait-1', 'waiting')) === '1', 30_000, 'the flow shows the send and the wait');
    assert.equal(await step('send-1', 'entered'), '1');
    assert.equal(await step('wait-1', 'entered'), '1');
    const [sent] = await th.db.sql<{ n: number }[]>`select count(*)::int as n from messages where group_id = ${`automation:${automationId}`}`;
    assert.equal(sent?.n, 1, 'one message in Herald');
    const journeys = (figure: string) => page.locator(`xpath=//dl[@aria-label="Journeys"]//dt[normalize-space()="${figure}"]/following-sibling::dd[1]`).textContent();
    await eventually(async () => (await journeys('entered')) === '1' && (await journeys('active')) === '1', 10_000, 'the journey is counted');
    assert.match(await page.locator('ol.flow').first().textContent() ?? '', /For2 days/);
    await accessible(page, 'automation');
    await shot(page, 'automation');
    await page.setViewportSize({ width: 390, height: 800 });
    await accessible(page, 'automation, narrow');
    await page.setViewportSize({ width: 1280, height: 800 });

    // A new version: the current one drawn, the first one's counts still there.
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: 'Edit automation' }).waitFor();
    assert.equal(await page.getByLabel('Step 1: email subject').inputValue(), 'Welcome, {{ first_name | default: "there" }}', 'the editor shows what is stored');
    await page.getByLabel('Step 2: wait: days').fill('3');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('heading', { name: 'Welcome journey' }).waitFor();
    await eventually(async () => (await fact('Version'))?.startsWith('2') ?? false, 10_000, 'version 2');
    assert.equal(await step('wait-1', 'waiting'), '0', 'version 2 has nobody yet');
    await page.getByLabel('Version shown').selectOption('1');
    assert.equal(await step('wait-1', 'waiting'), '1', 'the journey waits on version 1');
    assert.match(await page.locator('ol.flow').first().textContent() ?? '', /For2 days/);
    await nav('Automations');
    const row = page.getByRole('row', { name: /Welcome journey/ });
    await eventually(async () => /live\s*2\s*API call\s*2\s*1 entered · 1 active · 0 completed · 0 exited · 0 sent \(v2\)/.test(await row.textContent() ?? ''), 10_000, 'the list\'s summary');
    await accessible(page, 'automations');
    await shot(page, 'automations');

    // Stopped for good (after a confirmation): the waiting journey exits.
    await row.getByRole('link', { name: 'Welcome journey' }).click();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await eventually(async () => (await fact('State'))?.trim() === 'stopped', 10_000, 'stopped');
    assert.equal(await journeys('exited'), '1 automation stopped');
    assert.equal(await page.getByRole('button', { name: 'Start', exact: true }).count() + await page.getByRole('link', { name: 'Edit', exact: true }).count(), 0, 'a stopped automation neither starts nor changes');
    await nav('Automations');
    await eventually(async () => /stopped\s*2\s*API call\s*2\s*1 entered · 0 active · 0 completed · 1 exited/.test(await row.textContent() ?? ''), 10_000, 'the stopped one\'s summary');

    // The inbox: two inbox pushes delivered to ada's phone; one marked read.
    const phone = await th.call('POST', '/v1/sdk/installations', { install_id: 'ada-phone', platform: 'ios', push_token: randomBytes(32).toString('hex'), custom_id: 'ada' });
    assert.equal(phone.status, 200, JSON.stringify(phone.body));
    for (const [title, body] of [['Your order shipped', 'It arrives Friday'], ['Order delivered', 'Enjoy']]) {
      const r = await th.call('POST', '/v1/transactional/send', { group_id: 'orders', recipients: { custom_ids: ['ada'] }, push: { title, body, deeplink: 'app://orders/981', inbox: true } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await eventually(async () => (await th.db.sql`select 1 from deliveries where message_id = ${r.body.message_id as string} and status = 'sent'`).length === 1, 30_000, `${title} delivered`);
    }
    await nav('Profiles');
    await page.getByLabel('Id', { exact: true }).fill('ada');
    await page.getByRole('button', { name: 'Find' }).click();
    const inbox = page.getByRole('region', { name: 'Inbox' });
    await inbox.getByRole('status').filter({ hasText: '2 unread' }).waitFor();
    assert.deepEqual(await inbox.locator('tbody tr td:nth-child(2)').allTextContents(), ['Order delivered', 'Your order shipped'], 'newest first');
    await inbox.getByRole('button', { name: 'Mark read: Your order shipped' }).click();
    await inbox.getByRole('status').filter({ hasText: '1 unread' }).waitFor();
    assert.match(await inbox.getByRole('row', { name: /Your order shipped/ }).textContent() ?? '', /read/);
    assert.equal(await inbox.getByRole('button', { name: 'Mark read: Your order shipped' }).count(), 0);
    const items = await th.db.sql<{ title: string; read: boolean }[]>`
      select title, read_at is not null as read from inbox_items where owner_kind = 'profile' and owner = 'ada' order by title`;
    assert.deepEqual(items.map((i) => ({ ...i })), [{ title: 'Order delivered', read: false }, { title: 'Your order shipped', read: true }]);
    await accessible(page, 'profile-inbox');
    await shot(page, 'profile-inbox');
    // Past a page (20 items): the next one through the API's cursor, the count still the whole inbox's.
    const more = await Promise.all(Array.from({ length: 20 }, (_, i) => th.call('POST', '/v1/transactional/send', {
      group_id: 'news', recipients: { custom_ids: ['ada'] }, push: { title: `News ${i + 1}`, body: 'More', inbox: true },
    })));
    assert.ok(more.every((r) => r.status === 202), JSON.stringify(more.map((r) => r.body)));
    await eventually(async () => (await th.db.sql`select 1 from inbox_items where owner = 'ada'`).length === 22, 30_000, 'the 20 items written');
    await inbox.getByRole('button', { name: 'Refresh the inbox' }).click();
    await inbox.getByRole('status').filter({ hasText: '21 unread' }).waitFor();
    const rows = inbox.locator('tbody tr');
    await eventually(async () => (await rows.count()) === 20, 10_000, 'one page of 20');
    await inbox.getByRole('button', { name: 'More inbox items' }).click();
    await eventually(async () => (await rows.count()) === 22, 10_000, 'the next page');
    const titles = await inbox.locator('tbody tr td:nth-child(2)').allTextContents();
    assert.equal(new Set(titles).size, 22, 'no item twice');
    assert.deepEqual(titles.slice(-2), ['Order delivered', 'Your order shipped'], 'the oldest last');
    assert.equal(await inbox.getByRole('button', { name: 'More inbox items' }).count(), 0, 'the last page');

    // System health: readiness, and a job waiting shows in the queue.
    const queue = createPostgresQueue({ sql: th.db.sql, log: silentLogger(), maxAttempts: 3 });
    await queue.enqueue(th.db.sql, [{ topic: 'dashboard-probe', payload: {} }, { topic: 'dashboard-probe', payload: {} }]);
    await queue.close();
    await nav('System health');
    await page.getByRole('heading', { name: 'System health' }).waitFor();
    assert.equal((await fact('Status'))?.trim(), 'ready');
    assert.equal((await fact('Database'))?.trim(), 'up');
    assert.equal((await fact('Queue (PostgreSQL)'))?.trim(), 'up');
    const probe = page.getByRole('row', { name: /dashboard-probe/ });
    await probe.waitFor();
    assert.match(await probe.textContent() ?? '', /^dashboard-probe2\d+ s0$/);
    await accessible(page, 'health');
    await shot(page, 'health');
    await page.setViewportSize({ width: 390, height: 800 });
    await accessible(page, 'health, narrow');
  });

test('the system health screen on NATS JetStream: NATS stopped, the instance degraded and the backlog in the outbox; NATS back, the outbox drained',
  { skip: skipWithoutChromium, timeout: 180_000 }, async (t) => {
    if (!(await natsServerInstalled())) return t.skip('no nats-server on PATH');
    const nats = await privateNats(await freePort());
    t.after(() => nats.destroy());
    const th = await startTestHerald({ env: { NATS_URL: nats.url } });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    const page = await dashboardPage(browser);
    await createOwner(page, th.url);
    const fact = (term: string) => page.getByText(term, { exact: true }).locator('xpath=following-sibling::dd[1]').first().textContent();
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'System health', exact: true }).click();
    await eventually(async () => (await fact('Status'))?.trim() === 'ready', 10_000, 'ready');
    assert.equal((await fact('Queue (NATS JetStream)'))?.trim(), 'up');
    await page.getByText('Empty: every job reached NATS.').waitFor();

    await nats.stop();
    // Accepted while NATS is away: the send waits in the outbox.
    const sent = await th.call('POST', '/v1/transactional/send', { group_id: 'degraded', recipients: { emails: ['ann@example.com'] }, email: { subject: 'Hi', text: 'Hello' } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await eventually(async () => (await fact('Status'))?.startsWith('degraded') ?? false, 20_000, 'the screen says degraded');
    assert.match(await fact('Status') ?? '', /requests are still stored/);
    assert.match((await fact('Queue (NATS JetStream)')) ?? '', /^down: /);
    const backlog = page.getByRole('table', { name: 'The outbox by topic' }).getByRole('row').nth(1);
    await backlog.waitFor({ timeout: 10_000 });
    const [outbox] = await th.db.sql<{ n: number }[]>`select count(*)::int as n from job_outbox`;
    assert.ok((outbox?.n ?? 0) >= 1, 'the job waits in PostgreSQL');
    assert.match(await backlog.textContent() ?? '', /\d+\s?\d* (s|min)/);
    await accessible(page, 'health, degraded');
    await shot(page, 'health-degraded');

    await nats.start();
    await eventually(async () => (await fact('Status'))?.trim() === 'ready', 60_000, 'ready again');
    await page.getByText('Empty: every job reached NATS.').waitFor({ timeout: 60_000 });
    await eventually(async () => (await th.db.sql`select 1 from deliveries where message_id = ${sent.body.message_id as string} and status = 'sent'`).length === 1,
      60_000, 'the send delivered once NATS was back');
  });
