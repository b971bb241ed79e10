/**
 * The dashboard in headless Chromium, served by a real Herald: the first visit's owner setup,
 * keys, segments, operators and the audit log, a change without its CSRF token refused, sign out
 * and in, a viewer who can change nothing; axe-core on every screen (no serious or critical
 * violation) at 1280×800 and on a narrow window. Set HERALD_DASHBOARD_SCREENSHOTS to a folder to
 * keep the screenshots (docs/dashboard/ holds the ones docs/dashboard.md shows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startTestHerald } from '../support/herald.js';
import { launchChromium, skipWithoutChromium } from './browser.js';
import { accessible, dashboardPage, screenshots, signIn } from './dashboard-support.js';

test('the dashboard: first-run owner setup, keys, segments, operators, audit; CSRF refused; a viewer changes nothing; accessible on every screen',
  { skip: skipWithoutChromium, timeout: 180_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    // bypassCSP lets the test inject axe-core; the policy itself is checked on the answer below.
    const page = await dashboardPage(browser);
    const segments = async () => (await th.db.sql<{ n: number }[]>`select count(*)::int as n from segments`)[0]!.n;

    // First visit: the owner's setup.
    const res = await page.goto(th.url + '/');
    assert.equal(res?.status(), 200);
    assert.match(res!.headers()['content-security-policy'] ?? '', /default-src 'self'.*frame-ancestors 'none'/);
    await page.getByRole('heading', { name: 'Welcome to Herald' }).waitFor();
    const interactiveMs = await page.evaluate(() => performance.getEntriesByName('herald:interactive')[0]?.startTime);
    assert.ok(typeof interactiveMs === 'number', 'the dashboard marks when it is interactive');
    const sizes = JSON.parse(await readFile(new URL('../../../dashboard/dist/sizes.json', import.meta.url), 'utf8')) as Record<string, { gzipBytes: number }>;
    const gzipped = Object.values(sizes).reduce((n, s) => n + s.gzipBytes, 0);
    assert.ok(gzipped < 150 * 1024, `first screen ${gzipped} B gzipped`);
    t.diagnostic(`dashboard: ${gzipped} B gzipped, interactive after ${Math.round(interactiveMs)} ms`);
    await accessible(page, 'setup');
    await shot(page, 'setup');
    await page.getByLabel('Your name').fill('Olive');
    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create the owner account' }).click();
    await page.getByRole('navigation', { name: 'Screens' }).waitFor();
    await page.getByText('owner@example.com · owner').waitFor();
    await accessible(page, 'overview');
    await shot(page, 'overview');

    // Keys: a new one is shown once.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('button', { name: 'New SDK key' }).click();
    const key = await page.getByLabel('The new key').textContent();
    assert.match(key ?? '', /^hrld_sdk_/);
    const [{ n: sdkKeys }] = await th.db.sql<{ n: number }[]>`select count(*)::int as n from api_keys where project_id = ${th.project.project_id} and kind = 'sdk'` as unknown as [{ n: number }];
    assert.equal(sdkKeys, 2);
    await accessible(page, 'keys');
    await shot(page, 'keys');

    // Segments: count a query, save it.
    await page.getByRole('link', { name: 'Segments' }).click();
    await page.getByRole('button', { name: 'JSON view' }).click();
    await page.getByLabel('Targeting query (JSON)').fill('{"attribute": "tier", "eq": "gold"}');
    await page.getByText(/^0 profiles \(/).waitFor();
    await page.getByLabel('Segment name').fill('Gold members');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('cell', { name: 'Gold members' }).waitFor();
    assert.equal(await segments(), 1);
    await accessible(page, 'segments');
    await shot(page, 'segments');

    // A change without the session's CSRF token is refused and changes nothing.
    const forged = await page.evaluate(async (projectId) => {
      const r = await fetch('/v1/segments', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-herald-project': projectId },
        body: JSON.stringify({ name: 'forged', query: { attribute: 'x', exists: true } }),
      });
      return { status: r.status, body: await r.json() as any };
    }, th.project.project_id);
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error.code, 'csrf_token_invalid');
    assert.equal(await segments(), 1);

    // Operators: add a viewer.
    await page.getByRole('link', { name: 'Operators' }).click();
    await page.getByLabel('Email').fill('viewer@example.com');
    await page.getByLabel('First password').fill('viewer password');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('cell', { name: 'viewer@example.com' }).waitFor();
    await accessible(page, 'operators');
    await shot(page, 'operators');

    // The audit log shows both changes.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('cell', { name: 'POST /v1/segments', exact: true }).waitFor();
    await page.getByRole('cell', { name: /^operator created/ }).waitFor();
    await accessible(page, 'audit');
    await shot(page, 'audit');

    // Narrow window.
    await page.setViewportSize({ width: 390, height: 800 });
    await accessible(page, 'audit, narrow');
    await shot(page, 'audit-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Sign out, then in again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Herald' }).waitFor();
    await accessible(page, 'sign-in');
    assert.equal((await page.evaluate(() => fetch('/v1/dashboard/session').then((r) => r.status))), 401);

    // A viewer reads but cannot change anything.
    const viewer = await dashboardPage(browser);
    await signIn(viewer, th.url, 'viewer@example.com', 'viewer password');
    await viewer.getByText('viewer@example.com · viewer').waitFor();
    await viewer.getByRole('link', { name: 'API keys' }).click();
    await viewer.getByText('API keys are managed by the project\'s admins and owners.').waitFor();
    await viewer.getByRole('link', { name: 'Segments' }).click();
    await viewer.getByRole('cell', { name: 'Gold members' }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Save segment' }).isDisabled(), true);
    await accessible(viewer, 'segments as viewer');
    const refused = await viewer.evaluate(async (projectId) => {
      const s = await (await fetch('/v1/dashboard/session')).json() as any;
      const r = await fetch('/v1/segments', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-herald-project': projectId, 'x-csrf-token': s.csrf_token },
        body: JSON.stringify({ name: 'by viewer', query: { attribute: 'x', exists: true } }),
      });
      return { status: r.status, body: await r.json() as any };
    }, th.project.project_id);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'role_forbidden');
    assert.equal(await segments(), 1);
    // Counting is a read: a viewer may, and it is not in the audit log.
    await viewer.getByText(/^0 profiles \(/).waitFor();
    const [{ n: counted }] = await th.db.sql<{ n: number }[]>`select count(*)::int as n from audit_log where action like '%count%'` as unknown as [{ n: number }];
    assert.equal(counted, 0);
  });
