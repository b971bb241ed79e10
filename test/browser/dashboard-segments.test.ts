/**
 * The Segments screen's query builder in headless Chromium against a real Herald: "tier is gold
 * AND (purchase in the last 30 days OR language is fr)" built with the controls only (one step by
 * keyboard), the JSON view equal to the expected query and kept in step both ways, the live exact
 * count equal to the seeded profiles that match, a refusal shown beside the condition it names,
 * the segment saved, reopened after a reload with the builder showing it, changed and saved again. axe-core checks the
 * screen; every control Tab reaches has a name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald } from '../support/herald.js';
import { launchChromium, skipWithoutChromium } from './browser.js';
import { accessible, createOwner, dashboardPage, screenshots } from './dashboard-support.js';

const expected = {
  all: [
    { attribute: 'tier', eq: 'gold' },
    { any: [{ event: 'purchase', within_days: 30 }, { field: 'language', eq: 'fr' }] },
  ],
};

test('the query builder: a nested query built with the controls, its JSON and live count, a refusal beside its node, saved and reopened',
  { skip: skipWithoutChromium, timeout: 180_000 }, async (t) => {
    const th = await startTestHerald({ sandbox: false });
    t.after(() => th.close());
    const browser = await launchChromium();
    t.after(() => browser.close());
    const shot = await screenshots();
    const projectId = th.project.project_id;
    // Who matches: ada (gold, bought 2 days ago), bea (gold, French), eve (gold, French, bought).
    // Who does not: cy (gold, bought 40 days ago, English), dan (silver, French, bought), fay (gold only).
    const people = [
      ['ada', 'gold', 'en', 2], ['bea', 'gold', 'fr', null], ['eve', 'gold', 'fr', 1],
      ['cy', 'gold', 'en', 40], ['dan', 'silver', 'fr', 3], ['fay', 'gold', null, null],
    ] as const;
    for (const [id, tier, language, daysAgo] of people) {
      await th.db.sql`insert into profiles (project_id, custom_id, language, attributes) values (${projectId}, ${id}, ${language}, ${th.db.sql.json({ tier })})`;
      if (daysAgo !== null) {
        await th.db.sql`insert into events (project_id, id, custom_id, name, time) values (${projectId}, gen_random_uuid(), ${id}, 'purchase', now() - make_interval(days => ${daysAgo}))`;
      }
    }

    const page = await dashboardPage(browser);
    await createOwner(page, th.url);
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Segments', exact: true }).click();
    const condition = (label: string) => page.getByRole('group', { name: `Condition ${label}`, exact: true });
    const count = page.locator('.query-builder output');
    /** Waits for the live count to read `n` profiles, and says what it read instead. */
    const counted = async (n: number) => {
      try { await count.filter({ hasText: new RegExp(`^${n} profiles \\([\\d.]+ ms\\)$`) }).waitFor({ timeout: 10_000 }); } catch { assert.fail(`count: ${await count.textContent()}; ${await page.locator('.query-builder .problem').allTextContents()}`); }
    };

    // Condition 1: tier is gold.
    await condition('1').getByLabel('Kind').selectOption('attribute');
    await condition('1').getByLabel('Attribute name').fill('tier');
    await condition('1').getByLabel('Operator').selectOption('eq');
    await condition('1').getByLabel('Value').fill('gold');
    // Group 2 (any): purchase in the last 30 days, or language is fr; its second condition added by keyboard.
    await page.getByRole('group', { name: 'Query' }).getByRole('button', { name: 'Add group' }).click();
    const group2 = page.getByRole('group', { name: 'Group 2', exact: true });
    assert.equal(await group2.getByLabel('Match').inputValue(), 'any');
    await condition('2.1').getByLabel('Kind').selectOption('event');
    await condition('2.1').getByLabel('Event name').fill('purchase');
    await condition('2.1').getByLabel('When').selectOption('days');
    await condition('2.1').getByLabel('Days').fill('30');
    await group2.getByRole('button', { name: 'Add condition' }).focus();
    await page.keyboard.press('Enter');
    await condition('2.2').getByLabel('Kind').focus();
    await condition('2.2').getByLabel('Kind').selectOption('field');
    assert.equal(await condition('2.2').getByLabel('Field').inputValue(), 'language');
    await condition('2.2').getByLabel('Value').fill('fr');

    // The JSON view says the query; the live count is the seeded matches.
    await page.getByRole('button', { name: 'JSON view' }).click();
    const json = page.getByLabel('Targeting query (JSON)');
    assert.deepEqual(JSON.parse(await json.inputValue()), expected);
    await counted(3);
    await accessible(page, 'segments, query builder');
    await shot(page, 'segments-builder');

    // JSON edited: the builder follows; a query it cannot show stays editable, with a note.
    await json.fill(JSON.stringify({ ...expected, all: [expected.all[0], { any: [expected.all[1]!.any![0], { field: 'language', eq: 'de' }] }] }));
    assert.equal(await condition('2.2').getByLabel('Value').inputValue(), 'de');
    await counted(2);
    await json.fill('{"all": [{"attribute": "tier", "eq": "gold", "lt": 3}]}');
    await page.getByText('The builder cannot show this query: edit it as JSON.').waitFor();
    await json.fill(JSON.stringify(expected));
    await condition('2.2').getByLabel('Value').waitFor();
    await counted(3);

    // A refusal names the bad node's path: shown beside that condition.
    await condition('2.1').getByLabel('Days').fill('0');
    await condition('2.1').getByRole('alert').filter({ hasText: 'query.all[1].any[0].within_days' }).waitFor();
    assert.equal(await condition('1').getByRole('alert').count(), 0);
    await condition('2.1').getByLabel('Days').fill('30');
    await counted(3);
    assert.equal(await condition('2.1').getByRole('alert').count(), 0);

    // Every control Tab reaches in the builder has a name.
    await condition('1').getByLabel('Kind').focus();
    for (let i = 0; i < 20; i++) {
      const name = await page.evaluate(() => {
        const el = (globalThis as any).document.activeElement;
        return String(el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent ?? '').trim();
      });
      assert.ok(name.length > 0, `control ${i} after condition 1's kind has a name`);
      await page.keyboard.press('Tab');
    }

    // Saved, then reopened after a reload: the builder shows it.
    await page.getByLabel('Segment name').fill('Gold buyers or French');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('cell', { name: 'Gold buyers or French' }).waitFor();
    const [saved] = await th.db.sql<{ query: unknown }[]>`select query from segments where project_id = ${projectId}`;
    assert.deepEqual(saved?.query, expected);
    await page.reload();
    await page.getByRole('row', { name: /Gold buyers or French/ }).getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { name: 'Segment Gold buyers or French' }).waitFor();
    assert.equal(await condition('1').getByLabel('Attribute name').inputValue(), 'tier');
    assert.equal(await condition('1').getByLabel('Value').inputValue(), 'gold');
    assert.equal(await condition('2.1').getByLabel('Kind').inputValue(), 'event');
    assert.equal(await condition('2.1').getByLabel('Event name').inputValue(), 'purchase');
    assert.equal(await condition('2.1').getByLabel('Days').inputValue(), '30');
    assert.equal(await condition('2.2').getByLabel('Field').inputValue(), 'language');
    assert.equal(await condition('2.2').getByLabel('Value').inputValue(), 'fr');
    await counted(3);
    await accessible(page, 'segments, reopened');

    // Changed in the builder and saved: the same segment, its new query.
    await condition('2.2').getByLabel('Value').fill('de');
    await counted(2);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('cell', { name: /"de"/ }).waitFor();
    const changed = await th.db.sql<{ query: { all: [unknown, { any: [unknown, { eq: string }] }] } }[]>`select query from segments where project_id = ${projectId}`;
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.query.all[1].any[1].eq, 'de');
  });
