/**
 * Headless Chromium for the Web SDK's tests: Debian's `chromium` package (.ci/run installs it),
 * driven by playwright-core; nothing downloads a browser. Without it the tests skip, except under CI
 * where they fail.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';

/** A reason to skip, or false to run. */
export const skipWithoutChromium: string | false =
  existsSync(chromiumPath) || process.env.CI ? false : `no Chromium at ${chromiumPath} (apt-get install chromium, or set HERALD_CHROMIUM)`;

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Chromium's sandbox needs user namespaces, which containers (and root) usually lack.
    args: ['--no-sandbox'],
  });
}

/** The SDK's test page, served from `origin`, started with the project's SDK key and `params`. */
export async function openSdkPage(
  context: BrowserContext,
  origin: string,
  sdkKey: string,
  params: Record<string, string> = {},
): Promise<Page> {
  const page = await context.newPage();
  await gotoSdkPage(page, origin, sdkKey, params);
  return page;
}

export async function gotoSdkPage(page: Page, origin: string, sdkKey: string, params: Record<string, string> = {}): Promise<void> {
  const query = new URLSearchParams({ key: sdkKey, ...params });
  await page.goto(`${origin}/sdk/web/test.html?${query}`);
  await page.evaluate(() => (globalThis as any).heraldReady);
}

/** Calls Herald.track in the page; resolves with the event id once it is in the outbox. */
export function track(page: Page, name: string, attributes?: Record<string, unknown>): Promise<string> {
  return page.evaluate(([n, a]) => (globalThis as any).Herald.track(n, a) as Promise<string>, [name, attributes] as const);
}

export function pending(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as any).Herald.pending() as Promise<number>);
}
