/**
 * End to end, in headless Chromium against a Herald with its sandbox: a browser registers through
 * the Web SDK (identify, then subscribeToPush: the service worker, the permission, the VAPID key and
 * the installation are real; only the browser's push service is the sandbox's, since a test
 * browser cannot subscribe with Google's), the owner set up in the dashboard finds that person,
 * sends them a push from the send form (retried after a lost answer with the same Idempotency-Key:
 * one message), and sees its trace: the delivery sent, the sandbox holding it, and why someone else
 * did not get it. Providers and audiences are used through their screens; an editor demoted while
 * the send form is open is refused by the API, and the screen says so. axe-core checks every screen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityToken } from '../../src/domain/identity-token.js';
import { eventually, startTestHerald } from '../support/herald.js';
import { launchChromium, openSdkPage, pending, skipWithoutChromium } from './browser.js';
import { accessible, createOwner, dashboardPage, screenshots, signIn } from './dashboard-support.js';

/** PushManager, pointed at the sandbox's push service: a subscription with real P-256 keys made in the page. */
function sandboxPushManager(endpoint: string): void {
  const b64 = (u: Uint8Array) => btoa(String.fromCharCode(...u)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const manager = (globalThis as any).PushManager.prototype;
  manager.getSubscription = async () => null;
  manager.subscribe = async (options: unknown) => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
    const keys = { p256dh: b64(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))), auth: b64(crypto.getRandomValues(new Uint8Array(16))) };
    return { endpoint, expirationTime: null, options, toJSON: () => ({ endpoint, expirationTime: null, keys }), unsubscribe: async () => true };
  };
}

test('the dashboard end to end: a Web SDK browser registers, the owner sends it a push from the send form and traces it to the sandbox',
  { skip: skipWithoutChromium, timeout: 240_000 }, async (t) => {
    const th = await startTestHerald();
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    const sandbox = th.herald.sandbox!;

    // A browser of alice's registers through the Web SDK.
    const endpoint = `${sandbox.endpoints.webpush}/push/dashboard-alice`;
    const sdkContext = await browser.newContext();
    await sdkContext.grantPermissions(['notifications'], { origin: th.url });
    await sdkContext.addInitScript(sandboxPushManager, endpoint);
    const sdkPage = await openSdkPage(sdkContext, th.url, th.project.sdk_key);
    const run = (fn: string, ...args: unknown[]) =>
      sdkPage.evaluate(([f, a]) => ((globalThis as any).Herald[f as string] as (...x: unknown[]) => Promise<unknown>)(...(a as unknown[])), [fn, args] as const);
    const installId = await run('installationId') as string;
    await run('identify', 'alice', { identityToken: identityToken(th.project.identity_secret, 'alice') });
    await run('setAttributes', { plan: 'pro' });
    await run('track', 'checkout_started', { cart: 3 });
    await run('subscribeToPush');
    await eventually(async () => ((await pending(sdkPage)) === 0 ? true : undefined), 30_000, 'the SDK outbox sent');
    const [installation] = await th.db.sql<{ custom_id: string; push_token: string }[]>`
      select custom_id, push_token from installations where install_id = ${installId}`;
    assert.deepEqual(installation, { custom_id: 'alice', push_token: endpoint });

    // The owner's first visit, then the person found by install_id.
    const page = await dashboardPage(browser);
    await createOwner(page, th.url);
    const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true }).click();
    await nav('Profiles');
    await page.getByLabel('Find by').selectOption('install_id');
    await page.getByLabel('Id').fill(installId);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('heading', { name: 'alice' }).waitFor();
    const installRow = page.getByRole('row', { name: new RegExp(installId) });
    assert.match(await installRow.textContent() ?? '', /webenabled/);
    await page.getByRole('cell', { name: 'checkout_started' }).waitFor();
    await page.getByRole('cell', { name: 'plan' }).waitFor();
    await accessible(page, 'profiles');
    await shot(page, 'profiles');

    // The send form; its first attempt loses its answer, the retry carries the same key.
    await nav('Send a message');
    await page.getByLabel('Recipients (custom_ids)').fill('alice, bob');
    await page.getByLabel('Push title').fill('Your order shipped');
    await page.getByLabel('Push body').fill('It arrives tomorrow');
    await accessible(page, 'send');
    await shot(page, 'send');
    const keys: string[] = [];
    let dropped = false;
    await page.route('**/v1/transactional/send', async (route) => {
      keys.push(route.request().headers()['idempotency-key'] ?? '');
      if (dropped) return route.continue();
      dropped = true;
      // The request reaches Herald, its answer is lost on the way back.
      await route.fetch();
      await route.abort('connectionreset');
    });
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText(/^network/).waitFor();
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Message accepted.').waitFor();
    assert.equal(keys.length, 2);
    assert.match(keys[0]!, /^[0-9a-f-]{36}$/);
    assert.equal(keys[1], keys[0], 'the retry carries the first attempt\'s Idempotency-Key');
    const messages = await th.db.sql<{ id: string }[]>`select id from messages where project_id = ${th.project.project_id}`;
    assert.equal(messages.length, 1, 'one message for the two attempts');

    // Its trace: the web push sent, and in the sandbox.
    await page.getByRole('link', { name: 'See who it reaches' }).click();
    await page.getByRole('heading', { name: 'Message' }).waitFor();
    await eventually(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return (await page.getByRole('cell', { name: 'sent', exact: true }).count()) > 0;
    }, 30_000, 'the delivery sent');
    const recipient = await page.getByRole('row', { name: /webpush/ }).textContent();
    assert.match(recipient ?? '', /webpush.*127\.0\.0\.1:\d+\/….*sent/);
    assert.ok(!(recipient ?? '').includes(endpoint), 'the target is masked');
    const held = await (await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=webpush&target=dashboard-alice`)).json() as unknown[];
    assert.equal(held.length, 1, 'the sandbox holds the push');
    await page.getByLabel('custom_id').fill('alice');
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByRole('status').getByText('reached').waitFor();
    await page.getByLabel('custom_id').fill('bob');
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByText('custom_id bob has no installation').waitFor();
    await accessible(page, 'message');
    await shot(page, 'message');
    await nav('Messages');
    await page.getByRole('row', { name: /dashboard/ }).getByRole('link').waitFor();
    await accessible(page, 'messages');
    await shot(page, 'messages');

    // Providers: the sandbox's VAPID keys are stored; the subject replaced through its form.
    await nav('Providers');
    await page.getByRole('heading', { name: /webpush configured/ }).waitFor();
    await page.getByRole('button', { name: 'Replace webpush credentials' }).click();
    const form = page.getByRole('form', { name: 'webpush credentials' });
    await form.getByLabel('subject').fill('mailto:ops@example.com');
    await form.getByRole('button', { name: 'Check and save' }).click();
    await page.getByText('"mailto:ops@example.com"').or(page.getByText('mailto:ops@example.com', { exact: true })).waitFor();
    const pageText = await page.textContent('main') ?? '';
    assert.ok(!/PRIVATE KEY/.test(pageText), 'no secret shown');
    await accessible(page, 'providers');
    await shot(page, 'providers');

    // Audiences: created, filled.
    await nav('Audiences');
    await page.getByLabel('Name').fill('Early customers');
    await page.getByRole('button', { name: 'Create audience' }).click();
    await page.getByRole('heading', { name: 'Early customers' }).waitFor();
    await page.getByLabel('custom_ids to add').fill('alice\ncarol');
    await page.getByRole('button', { name: 'Add to Early customers' }).click();
    await page.getByText(/2 custom_id\(s\) accepted/).waitFor();
    await eventually(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return (await page.getByText('Changes in process').locator('xpath=following-sibling::dd[1]').textContent()) === '0';
    }, 30_000, 'the audience change applied');
    await accessible(page, 'audiences');
    await shot(page, 'audiences');

    // An editor, demoted while the send form is open: the API refuses, the form says so.
    await nav('Operators');
    await page.getByLabel('Email').fill('editor@example.com');
    await page.getByLabel('First password').fill('editor password');
    await page.getByLabel('Role', { exact: true }).selectOption('editor');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('cell', { name: 'editor@example.com' }).waitFor();
    const editor = await dashboardPage(browser);
    await signIn(editor, th.url, 'editor@example.com', 'editor password');
    await editor.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Providers' }).click();
    await editor.getByRole('heading', { name: /webpush configured/ }).waitFor();
    assert.equal(await editor.getByRole('button', { name: /credentials$/ }).count(), 0, 'an editor sees no change to providers');
    await editor.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Send a message' }).click();
    await editor.getByLabel('Recipients (custom_ids)').fill('alice');
    await editor.getByLabel('Push title').fill('Not allowed');
    await editor.getByLabel('Push body').fill('by now');
    await page.getByLabel('Role of editor@example.com').selectOption('viewer');
    await eventually(async () => (await th.db.sql`select 1 from operator_roles r join operators o on o.id = r.operator_id
      where o.email = 'editor@example.com' and r.role = 'viewer'`).length > 0, 10_000, 'the demotion saved');
    await editor.getByRole('button', { name: 'Send' }).click();
    await editor.getByRole('alert').getByText('role_forbidden').waitFor();
    assert.equal((await th.db.sql`select id from messages where project_id = ${th.project.project_id}`).length, 1);
  });
