/**
 * monitoring/: the Grafana dashboard and the Prometheus alert rules name only metrics a running
 * Herald exports (every herald_* name in either file is in /metrics), and the rules pass
 * `promtool check rules` (Debian's prometheus package; .ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startTestHerald } from './support/herald.js';

const file = (name: string) => new URL(`../../monitoring/${name}`, import.meta.url);
const promtool = '/usr/bin/promtool';

test('every metric the Grafana dashboard and the alert rules name is one Herald exports', async (t) => {
  const th = await startTestHerald();
  t.after(() => th.close());
  const text = await (await fetch(`${th.url}/metrics`)).text();
  const exported = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name!);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) exported.add(name! + s);
  }
  // The ones the rules lean on most, so a renamed gauge cannot pass by vanishing from both sides.
  for (const name of ['herald_database_up', 'herald_queue_up', 'herald_provider_breakers_open', 'herald_queue_oldest_age_seconds']) {
    assert.ok(exported.has(name), `${name} is exported`);
  }
  for (const name of ['grafana-dashboard.json', 'alerts.yml']) {
    const named = new Set((await readFile(file(name), 'utf8')).match(/\bherald_[a-z0-9_]+/g));
    assert.ok(named.size > 5, `${name} names Herald's metrics`);
    const unknown = [...named].filter((n) => !exported.has(n));
    assert.deepEqual(unknown, [], `${name} names metrics Herald does not export`);
  }
  const dashboard = JSON.parse(await readFile(file('grafana-dashboard.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  assert.ok(dashboard.panels.filter((p) => p.targets?.length).length >= 15, 'the dashboard has its panels');
});

test('the alert rules pass promtool check rules', { skip: !existsSync(promtool) && !process.env.CI && `no ${promtool} (apt-get install prometheus)` }, async () => {
  const { stdout } = await promisify(execFile)(promtool, ['check', 'rules', new URL(file('alerts.yml')).pathname]);
  assert.match(stdout, /SUCCESS: \d+ rules found/);
});
