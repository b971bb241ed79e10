/**
 * The dashboard's in-app screens in headless Chromium against a real Herald: a message written in
 * the editor, its live preview following the form (content, buttons, format, banner position, an
 * html document in a sandboxed srcdoc frame), an audience the API refuses shown beside the
 * audience, the draft saved, edited (a new version), started, synced by an installation registered
 * over the SDK key, an impression and a click reported through POST /v1/sdk/in-app/events and
 * counted on the message's page and in the list, then stopped after a confirmation. axe-core checks
 * every screen at 1280×800 and narrow; Tab reaches the editor's controls by their labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestHerald } from '../support/herald.js';
import type { Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from './browser.js';
import { accessible, createOwner, dashboardPage, screenshots } from './dashboard-support.js';

/** The names of the controls Tab reaches in <main>, in order, from the skip link. */
async function tabStops(page: Page, max = 100): Promise<string[]> {
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

test('the dashboard\'s in-app messages: written with a live preview, started, counted from the SDK\'s events, stopped; accessible wide and narrow',
  { skip: skipWithoutChromium, timeout: 180_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    const projectId = th.project.project_id;
    const sdk = async (path: string, body: unknown) => {
      const r = await fetch(th.url + path, { method: 'POST', headers: { authorization: `Bearer ${th.project.sdk_key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() as any };
    };

    const page = await dashboardPage(browser);
    await createOwner(page, th.url);
    const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true }).click();
    const fact = (term: string) => page.getByText(term, { exact: true }).locator('xpath=following-sibling::dd[1]').first().textContent();
    const preview = page.getByRole('figure', { name: 'Preview' });

    await nav('In-app messages');
    await page.getByText('No in-app message in this project.').waitFor();
    await accessible(page, 'in-app list, empty');
    await page.getByRole('link', { name: 'New in-app message' }).click();
    await page.getByRole('heading', { name: 'New in-app message' }).waitFor();

    // The preview follows the form as it is typed.
    await page.getByLabel('Name').fill('Winter sale');
    await page.getByLabel('Title').fill('Hi there');
    await preview.getByText('Hi there').waitFor();
    await page.getByLabel('Title').fill('Hi {{ first_name | default: "there" }}');
    await preview.getByText('Hi {{ first_name | default: "there" }}').waitFor();
    assert.equal(await preview.getByText('Hi there', { exact: true }).count(), 0, 'the old title is gone from the preview');
    await page.getByLabel('Body').fill('20% off until Sunday');
    await preview.getByText('20% off until Sunday').waitFor();
    await page.getByRole('button', { name: 'Add a button' }).click();
    await page.getByLabel('Button 1 label').fill('Shop now');
    await page.getByLabel('Button 1 action').selectOption('url');
    await page.getByLabel('Button 1 URL').fill('https://example.com/sale');
    await page.getByRole('button', { name: 'Add a button' }).click();
    await page.getByLabel('Button 2 label').fill('Later');
    assert.deepEqual(await preview.locator('span').allTextContents(), ['Shop now', 'Later']);
    assert.equal(await preview.getAttribute('data-format'), 'modal');
    await page.getByLabel('Format').selectOption('banner');
    assert.equal(await preview.getAttribute('data-format'), 'banner');
    await preview.locator('[data-position="top"]').getByText('20% off until Sunday').waitFor();
    await page.getByLabel('Position').selectOption('bottom');
    await preview.locator('[data-position="bottom"]').waitFor();
    // An image message: an http image is refused as the API refuses it; an https one is fetched
    // (the dashboard's policy lets https images in), here from a port that answers nothing.
    const refusedImages: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy.*img-src/s.test(m.text())) refusedImages.push(m.text()); });
    await page.getByLabel('Format').selectOption('image');
    await preview.getByText('An image message needs an image URL').waitFor();
    await page.getByLabel('Image URL').fill('http://127.0.0.1:9/sale.png');
    await preview.getByText('The image URL must be https').waitFor();
    await page.getByLabel('Image URL').fill('https://127.0.0.1:9/sale.png');
    await preview.getByText('The image did not load here').waitFor();
    assert.deepEqual(refusedImages, [], 'the policy did not block the image');
    await page.getByLabel('Image URL').fill('');
    await page.getByLabel('Format').selectOption('html');
    assert.equal(await page.getByLabel('Title').count(), 0, 'an html message has no title field');
    await page.getByLabel('HTML').fill('<style>h1 { color: rgb(200, 0, 0) }</style><h1 style="font-size: 40px">Winter <em>sale</em></h1>' +
      '<script>parent.document.title = "ran"</script>');
    const frame = preview.locator('iframe[title="The HTML message"]');
    assert.equal(await frame.getAttribute('sandbox'), 'allow-same-origin', 'no script, no form, no navigation of the dashboard');
    assert.match(await frame.getAttribute('srcdoc') ?? '', /<h1 style="font-size: 40px">Winter <em>sale<\/em><\/h1>/);
    await page.frameLocator('iframe[title="The HTML message"]').getByRole('heading', { name: 'Winter sale' }).waitFor();
    // Its style sheet and style attribute apply although the dashboard's policy allows no inline style.
    const heading = await eventually(async () => {
      const h = page.frames().find((f) => f.url() === 'about:srcdoc');
      const look = await h?.evaluate(() => { const s = (globalThis as any).getComputedStyle((globalThis as any).document.querySelector('h1')); return `${s.color} ${s.fontSize}`; });
      return look === 'rgb(200, 0, 0) 40px' ? look : undefined;
    }, 5_000, 'the html document\'s styles apply');
    assert.equal(heading, 'rgb(200, 0, 0) 40px');
    assert.notEqual(await page.title(), 'ran', 'the html document\'s script did not run');
    await page.getByLabel('Format').selectOption('modal');
    assert.equal(await page.getByLabel('Title').inputValue(), 'Hi {{ first_name | default: "there" }}', 'the texts stay while the format changes');
    await preview.getByText('20% off until Sunday').waitFor();

    // The rest of the definition; an audience the API refuses is answered beside it.
    await page.getByLabel('Trigger').selectOption('event');
    await page.getByLabel('Event name').fill('cart_viewed');
    await page.getByLabel('Event filter (JSON)').fill('[{"attribute": "total", "gte": 20}]');
    await page.getByLabel('Priority').fill('80');
    await page.getByLabel('Displays per person at most').fill('3');
    await page.getByLabel('Seconds between two displays').fill('86400');
    await page.getByLabel('Labels').fill('sale, winter');
    await page.getByLabel('Keep in the inbox (on the first impression)').check();
    await page.getByLabel('Audience (targeting query, JSON)').fill('{"field": "language", "equals": "fr"}');
    await page.getByRole('button', { name: 'Save draft' }).click();
    const audienceProblem = page.locator('#in-app-audience-problem').getByRole('alert');
    await audienceProblem.waitFor();
    assert.match(await audienceProblem.textContent() ?? '', /^invalid_query: body\.audience/);
    assert.equal(await page.getByLabel('Audience (targeting query, JSON)').getAttribute('aria-invalid'), 'true');
    assert.equal((await th.db.sql`select 1 from in_app_messages where project_id = ${projectId}`).length, 0, 'nothing stored');
    await page.getByLabel('Audience (targeting query, JSON)').fill('{"field": ');
    await page.getByRole('button', { name: 'Count matching profiles' }).click();
    await audienceProblem.getByText('the audience is not valid JSON').waitFor();
    await page.getByLabel('Audience (targeting query, JSON)').fill('{"field": "language", "eq": "fr"}');
    // Any other refusal is shown under the form, with the field the API names.
    await page.getByLabel('Button 1 URL').fill('javascript:alert(1)');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('alert').getByText(/^invalid_in_app_message/).waitFor();
    assert.match(await page.getByRole('alert').textContent() ?? '', /body\.content\.buttons\[0\]\.url must not be a javascript:/);
    assert.equal(await audienceProblem.count(), 0, 'the audience is no longer the field refused');
    await page.getByLabel('Button 1 URL').fill('https://example.com/sale');
    await page.getByRole('alert').waitFor({ state: 'detached', timeout: 5_000 }); // a change to the form lifts the refusal
    await page.getByRole('button', { name: 'Count matching profiles' }).click();
    await page.getByText('0 profiles match').waitFor();
    assert.equal(await audienceProblem.count(), 0, 'the refusal is gone once the audience is right');
    const editorStops = await tabStops(page);
    for (const name of ['Name', 'Format', 'Title', 'Body', 'Image URL', 'Button 1 label', 'Button 1 action', 'Button 1 URL', 'Remove button 1', 'Add a button',
      'Trigger', 'Event name', 'Priority', 'Dates in', 'Starts', 'Ends', 'Audience (targeting query, JSON)', 'Labels', 'Save draft']) {
      assert.ok(editorStops.includes(name), `Tab reaches ${name}: ${editorStops.join(' | ')}`);
    }
    await accessible(page, 'in-app editor');
    await page.evaluate(() => (globalThis as any).scrollTo(0, 0)); // the preview is sticky: drawn where the page is scrolled
    await shot(page, 'in-app-editor');
    await page.setViewportSize({ width: 390, height: 800 });
    await accessible(page, 'in-app editor, narrow');
    await shot(page, 'in-app-editor-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: 'Winter sale' }).waitFor();
    assert.equal((await fact('Status'))?.trim(), 'draft');
    const id = new URL(page.url()).hash.split('/')[2]!;
    const stored = await th.call('GET', `/v1/in-app-messages/${id}`);
    assert.deepEqual(stored.body.content, {
      title: 'Hi {{ first_name | default: "there" }}', body: '20% off until Sunday',
      buttons: [{ id: 'button-1', label: 'Shop now', action: 'url', url: 'https://example.com/sale' }, { id: 'button-2', label: 'Later', action: 'dismiss' }],
    });
    assert.deepEqual(stored.body.trigger, { type: 'event', event: 'cart_viewed', where: [{ attribute: 'total', gte: 20 }] });
    assert.deepEqual({ p: stored.body.priority, c: stored.body.capping, l: stored.body.labels, i: stored.body.inbox, a: stored.body.audience },
      { p: 80, c: { max_displays: 3, min_interval_seconds: 86400 }, l: ['sale', 'winter'], i: true, a: { field: 'language', eq: 'fr' } });

    // Edited: dates in each recipient's zone, the editor showing what is stored; a new version.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit in-app message' }).waitFor();
    assert.equal(await page.getByLabel('Button 1 URL').inputValue(), 'https://example.com/sale');
    await page.getByLabel('Dates in').selectOption('recipient');
    await page.getByLabel('Starts').fill('2026-01-01T09:00');
    await page.getByLabel('Ends').fill('2099-12-24T18:00');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('heading', { name: 'Winter sale' }).waitFor();
    assert.equal((await fact('Version'))?.trim(), '2');
    assert.equal((await fact('Dates'))?.trim(), '2026-01-01 09:00 → 2099-12-24 18:00 (each recipient\'s time)');
    await preview.getByText('Shop now').waitFor();

    // Started: an installation registered over the SDK key syncs it; its impression and click are counted.
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await eventually(async () => (await fact('Status'))?.trim() === 'running', 10_000, 'running');
    const installId = `web-${Date.now()}`;
    const reg = await sdk('/v1/sdk/installations', { install_id: installId, platform: 'web', language: 'fr', timezone: 'Europe/Paris' });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    const synced = await sdk('/v1/sdk/in-app/sync', { install_id: installId });
    assert.deepEqual(synced.body.messages.map((m: { id: string; version: number }) => [m.id, m.version]), [[id, 2]]);
    const time = new Date().toISOString();
    const events = await sdk('/v1/sdk/in-app/events', {
      install_id: installId,
      events: [{ id: 'ev-1', message_id: id, version: 2, type: 'impression', time }, { id: 'ev-2', message_id: id, version: 2, type: 'click', button_id: 'button-1', time }],
    });
    assert.deepEqual(events.body, { stored: 2, duplicates: 0, ignored: 0 });
    const figure = (label: string) => page.locator(`xpath=//dl[@aria-label="Figures"]//dt[normalize-space()="${label}"]/following-sibling::dd[1]`).textContent();
    await eventually(async () => (await figure('Impressions')) === '1', 15_000, 'the page shows the impression (it refreshes while running)');
    assert.equal(await figure('Unique impressions'), '1');
    assert.equal(await figure('Clicks'), '1');
    assert.equal(await figure('Dismissals'), '0');
    assert.equal(await figure('Click rate'), '100.0 %');
    await page.getByRole('table', { name: 'Figures by UTC day' }).getByRole('rowheader', { name: time.slice(0, 10) }).waitFor();
    await accessible(page, 'in-app message');
    await shot(page, 'in-app-message');

    // Stop asks first; keeping it changes nothing, confirming stops it for good.
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop Winter sale for good?' });
    await dialog.waitFor();
    await accessible(page, 'in-app stop confirmation');
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await fact('Status'))?.trim(), 'running');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await dialog.getByRole('button', { name: 'Stop for good' }).click();
    await eventually(async () => (await fact('Status'))?.trim() === 'stopped', 10_000, 'stopped');
    assert.equal(await page.getByRole('link', { name: 'Edit' }).count(), 0, 'a stopped message cannot change');
    const [row] = await th.db.sql<{ status: string }[]>`select status from in_app_messages where id = ${id}`;
    assert.equal(row?.status, 'stopped');
    assert.deepEqual((await sdk('/v1/sdk/in-app/sync', { install_id: installId })).body.messages, [], 'absent from the next sync');

    // The list: its format, status, priority, trigger and figures.
    await page.getByRole('link', { name: 'All in-app messages' }).click();
    const listed = page.getByRole('row', { name: /Winter sale/ });
    await eventually(async () => /Winter salemodalstopped802026-01-01 09:00 → 2099-12-24 18:00.*event cart_viewed.*11100\.0 %/.test(await listed.textContent() ?? ''), 10_000,
      'the list shows the message with its figures');
    await page.getByLabel('Status').selectOption('draft');
    await page.getByText('No in-app message draft in this project.').waitFor();
    await page.getByLabel('Status').selectOption('');
    await listed.waitFor();
    await accessible(page, 'in-app list');
    await shot(page, 'in-app-messages');
    await page.setViewportSize({ width: 390, height: 800 });
    await accessible(page, 'in-app list, narrow');
  });
