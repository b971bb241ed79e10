/**
 * What the dashboard's browser tests share: axe-core's check of a page, the screenshots (kept in
 * HERALD_DASHBOARD_SCREENSHOTS when it is set: docs/dashboard/ holds the ones docs/dashboard.md
 * shows), and a page signed in through the dashboard's own forms.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeResult { violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[] }

/** axe-core's WCAG 2.x A/AA rules on the page as it is; serious and critical violations fail. */
export async function accessible(page: Page, screen: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: await axeSource });
  const result = await page.evaluate(() => (globalThis as any).axe.run((globalThis as any).document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] })) as AxeResult;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`), [], `axe on ${screen}`);
}

/** Saves a full-page screenshot as NAME.png, in HERALD_DASHBOARD_SCREENSHOTS or a temporary folder. */
export async function screenshots(): Promise<(page: Page, name: string) => Promise<unknown>> {
  const dir = process.env.HERALD_DASHBOARD_SCREENSHOTS ?? await mkdtemp(join(tmpdir(), 'herald-dashboard-'));
  return (page, name) => page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** A new 1280×800 page; bypassCSP lets the tests inject axe-core (the policy is checked in dashboard.test.ts). */
export async function dashboardPage(browser: Browser): Promise<Page> {
  return (await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true })).newPage();
}

/** The first visit of a new install: the owner account is created, and the dashboard opens on it. */
export async function createOwner(page: Page, url: string): Promise<void> {
  await page.goto(url + '/');
  await page.getByLabel('Your name').fill('Olive');
  await page.getByLabel('Email').fill('owner@example.com');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create the owner account' }).click();
  await page.getByText('owner@example.com · owner').waitFor();
}

export async function signIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(url + '/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Screens' }).waitFor();
}
