/**
 * Herald.identify with the identity token the app's server made: the browser is attached to the
 * user and changes their profile; without the token Herald refuses it, the SDK drops the entry
 * (and reports it) and the outbox keeps flowing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { identityToken } from '../../src/domain/identity-token.js';
import { eventually, startTestHerald } from '../support/herald.js';
import { launchChromium, openSdkPage, pending, skipWithoutChromium, track } from './browser.js';

test('identify with a token attaches the browser and its attribute changes; a switch of user logs out first; no token is refused',
  { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await openSdkPage(await browser.newContext(), th.url, th.project.sdk_key);
    const run = (fn: string, ...args: unknown[]) =>
      page.evaluate(([f, a]) => ((globalThis as any).Herald[f as string] as (...x: unknown[]) => Promise<unknown>)(...(a as unknown[])), [fn, args] as const);
    const installId = await run('installationId') as string;
    const profile = async (customId: string) => (await th.call('GET', `/v1/profiles/${customId}`)).body;
    const attachedTo = async () => (await th.db.sql`select custom_id from installations where install_id = ${installId}`)[0]?.custom_id;

    await run('identify', 'alice', { identityToken: identityToken(th.project.identity_secret, 'alice') });
    await run('setAttributes', { plan: 'pro' });
    await run('flush');
    assert.equal(await attachedTo(), 'alice');
    assert.deepEqual((await profile('alice')).profile.attributes, { plan: 'pro' });
    // The installation carries the SDK's own version (the package's), for targeting by sdk_version.
    const { version } = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const [row] = await th.db.sql<{ sdk_version: string }[]>`select sdk_version from installations where install_id = ${installId}`;
    assert.equal(row?.sdk_version, version);

    // Another user on this browser: logged out of alice (with her token), then attached to bob.
    await run('identify', 'bob', { identityToken: identityToken(th.project.identity_secret, 'bob') });
    await run('flush');
    assert.equal(await attachedTo(), 'bob');

    // No token: Herald refuses the identify; the SDK drops it, and what follows still arrives.
    await run('logout');
    await run('identify', 'mallory');
    const after = await track(page, 'page_event', { n: 1 });
    await eventually(async () => ((await pending(page)) === 0 ? true : undefined), 30_000, 'an empty outbox');
    assert.equal(await attachedTo(), null);
    assert.equal((await th.call('GET', '/v1/profiles/mallory')).status, 404);
    const [ev] = await th.db.sql`select 1 from events where client_id = ${after}`;
    assert.ok(ev, 'the event after the refused identify was stored');
  });
